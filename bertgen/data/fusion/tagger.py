"""A small part-of-speech tagger trained on the Brown corpus, for text that comes without tags.

The fusion rules read Brown tags (`pps` he/she/it, `vbd` past verb, `cs` subordinating conjunction, ...:
see `bertgen.data.corpora.brown`). Brown is the only tagged text here, so more text (the World English Bible,
Jane Austen) is tagged by a model learned from Brown itself: an averaged perceptron (Collins 2002), as in
Honnibal's "A good part-of-speech tagger in about 200 lines of Python" (2013). Each word is tagged left to
right from features of the word (itself, prefix, suffixes, shape), its neighbours (words, suffixes) and the
two tags already chosen; the weights are averaged over every update, which is what keeps a perceptron from
chasing the last examples it saw. Frequent words that Brown tags one way almost always (`the` at, `of` in)
skip the model.

The tags are Brown's base tags (`brown.base_tag`: `-tl`, `-hl`, `-nc`, `fw-` removed), contractions
included (`I'll` ppss+md, `don't` do*). Trained on 9 in 10 Brown documents it tags the tenth about 96%
right (`python -m bertgen.data.fusion.tagger` prints the figure); the rules' own checks (a subject then a finite verb on
both sides) catch part of what it gets wrong.

The model is stored as JSON under `$BERTGEN_HOME/tagger/` (never pickle: loading a pickle runs code),
keyed by a hash of the Brown files and of this module, so it is trained once (a few minutes) per machine.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from tqdm.auto import tqdm

from bertgen.data.corpora import brown, fetch
from bertgen.paths import bertgen_home

Tagged = list[tuple[str, str]]  # (word, tag) pairs, as brown.Sentence

_START, _END = ("-START-", "-START2-"), ("-END-", "-END2-")
_ITERATIONS = 5
_HELD_OUT_EVERY = 10  # every 10th Brown document (in file order) is held out to measure accuracy
_TAGDICT_MIN_COUNT, _TAGDICT_MIN_SHARE = 20, 0.97


def _normalize(word: str) -> str:
    if word.isdigit() and len(word) == 4:
        return "!YEAR"
    if word[:1].isdigit():
        return "!DIGITS"
    return word.lower()


def _shape(word: str) -> str:
    if word.isupper():
        return "X"
    if word[:1].isupper():
        return "Xx"
    if "-" in word:
        return "x-x"
    return "x"


def _features(i: int, words: list[str], normal: list[str], prev: str, prev2: str) -> list[str]:
    """Features of position i (0-based in `words`); `normal` is padded with two start and end markers."""
    w, j = normal[i + 2], i + 2
    return ["bias", "w " + w, "suf3 " + w[-3:], "suf2 " + w[-2:], "pre1 " + w[:1], "shape " + _shape(words[i]),
            "first " + str(i == 0) + _shape(words[i]), "t-1 " + prev, "t-2 " + prev2, "t-1t-2 " + prev + prev2,
            "t-1w " + prev + w, "w-1 " + normal[j - 1], "suf-1 " + normal[j - 1][-3:], "w-2 " + normal[j - 2],
            "w+1 " + normal[j + 1], "suf+1 " + normal[j + 1][-3:], "w+2 " + normal[j + 2]]


class Tagger:
    """`Tagger.load()` the cached model (training it first if needed); `tagger.tag(words)` -> tags."""

    def __init__(self, weights: dict[str, dict[str, float]], tagdict: dict[str, str], classes: list[str]):
        self.weights, self.tagdict, self.classes = weights, tagdict, classes

    def _best(self, features: list[str]) -> str:
        scores: dict[str, float] = defaultdict(float)
        for f in features:
            for tag, weight in self.weights.get(f, {}).items():
                scores[tag] += weight
        # Only tags some feature has a weight for can win (all of them, in practice: "bias" has most).
        return max(scores, key=lambda c: (scores[c], c)) if scores else self.classes[0]

    def tag(self, words: list[str]) -> list[str]:
        normal = [*_START, *(_normalize(w) for w in words), *_END]
        prev, prev2, tags = _START[0], _START[1], []
        for i, word in enumerate(words):
            tag = self.tagdict.get(word) or self._best(_features(i, words, normal, prev, prev2))
            tags.append(tag)
            prev2, prev = prev, tag
        return tags

    def accuracy(self, sentences: Iterable[Tagged]) -> float:
        right = total = 0
        for sentence in sentences:
            predicted = self.tag([w for w, _ in sentence])
            right += sum(p == t for p, (_, t) in zip(predicted, sentence))
            total += len(sentence)
        return right / max(total, 1)

    # ---------------------------------------------------------------------------------- training

    @classmethod
    def train(cls, sentences: list[Tagged], iterations: int = _ITERATIONS, seed: int = 0,
              progress: bool = True) -> Tagger:
        """Averaged perceptron over `sentences`, shuffled (seeded) before each pass."""
        counts: dict[str, Counter] = defaultdict(Counter)
        for sentence in sentences:
            for word, tag in sentence:
                counts[word][tag] += 1
        tagdict = {}
        for word, tags in counts.items():
            tag, n = tags.most_common(1)[0]
            if sum(tags.values()) >= _TAGDICT_MIN_COUNT and n / sum(tags.values()) >= _TAGDICT_MIN_SHARE:
                tagdict[word] = tag
        classes = sorted({t for tags in counts.values() for t in tags})
        model = cls({}, tagdict, classes)
        # Averaging without touching every weight at every step: each weight keeps its running total up to
        # the step it last changed (`totals`) and that step (`stamps`); the average is settled at the end.
        totals: dict[tuple[str, str], float] = defaultdict(float)
        stamps: dict[tuple[str, str], int] = defaultdict(int)
        step = 0

        def update(truth: str, guess: str, features: list[str]) -> None:
            for f in features:
                row = model.weights.setdefault(f, {})
                for tag, delta in ((truth, 1.0), (guess, -1.0)):
                    weight = row.get(tag, 0.0)
                    totals[f, tag] += (step - stamps[f, tag]) * weight
                    stamps[f, tag] = step
                    row[tag] = weight + delta

        order = list(sentences)
        rng = random.Random(seed)
        for _ in tqdm(range(iterations), desc="training the Brown tagger", disable=not progress):
            rng.shuffle(order)
            for sentence in order:
                words = [w for w, _ in sentence]
                normal = [*_START, *(_normalize(w) for w in words), *_END]
                prev, prev2 = _START
                for i, (word, truth) in enumerate(sentence):
                    guess = tagdict.get(word)
                    if guess is None:
                        features = _features(i, words, normal, prev, prev2)
                        guess = model._best(features)
                        if guess != truth:
                            update(truth, guess, features)
                    step += 1
                    prev2, prev = prev, guess
        for f, row in model.weights.items():
            for tag, weight in list(row.items()):
                average = round((totals[f, tag] + (step - stamps[f, tag]) * weight) / step, 3)
                if average:
                    row[tag] = average
                else:
                    del row[tag]
        model.weights = {f: row for f, row in model.weights.items() if row}
        return model

    # ---------------------------------------------------------------------------------- storing

    def to_json(self) -> dict:
        return {"classes": self.classes, "tagdict": self.tagdict, "weights": self.weights}

    @classmethod
    def from_json(cls, data: dict) -> Tagger:
        return cls(data["weights"], data["tagdict"], data["classes"])

    @classmethod
    def load(cls, brown_root: str | Path | None = None, progress: bool = True) -> Tagger:
        """The tagger trained on the Brown corpus at `brown_root` (default: the fetched one), from the cache
        under `$BERTGEN_HOME/tagger/`, training and caching it first if it is not there."""
        root = Path(brown_root) if brown_root is not None else fetch.locate("brown")
        path = bertgen_home() / "tagger" / f"brown-{_model_key(root)}.json"
        if path.exists():
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        train, _ = held_out_split(root)
        model = cls.train(train, progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(model.to_json(), separators=(",", ":")), encoding="utf-8")
        partial.replace(path)
        return model


def held_out_split(brown_root: str | Path) -> tuple[list[Tagged], list[Tagged]]:
    """(training sentences, held-out sentences): every `_HELD_OUT_EVERY`-th Brown document is held out whole,
    so the accuracy measured on it is on text the tagger never saw, from every genre."""
    train, held_out = [], []
    for k, doc in enumerate(brown.read_corpus(brown_root)):
        (held_out if k % _HELD_OUT_EVERY == _HELD_OUT_EVERY - 1 else train).extend(doc.sentences)
    return train, held_out


def _model_key(root: Path) -> str:
    """Changes when the Brown files or this module's code change."""
    h = hashlib.sha256(inspect.getsource(sys.modules[__name__]).encode("utf-8"))
    for path in sorted(p for p in root.iterdir() if brown.FILE_RE.fullmatch(p.name)):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


if __name__ == "__main__":
    _, held = held_out_split(fetch.locate("brown"))
    print(f"Brown tagger: {Tagger.load().accuracy(held):.4f} of the tags right on {sum(map(len, held)):,} words "
          f"of {len(held):,} sentences in held-out Brown documents")
