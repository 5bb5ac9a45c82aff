"""Every task by name, and `load_task`: one DatasetDict with `source` and `target` columns per task.

Offline tasks are built from a fetched corpus (`bertgen data fetch`) the same way every time:
  1. the corpus reader yields examples in corpus order, each with the document it came from (`doc`);
  2. exact duplicate sources are dropped, the first kept, so no input appears twice (or in two splits);
  3. each document goes wholly to train, validation or test (80/10/10) by a hash of its id: no
     document leaks across splits, and the assignment never changes when other documents come or go;
  4. the result is saved under `$BERTGEN_HOME/tasks/`, keyed by the corpora and the code that reads and
     shapes them, so later loads are memory-mapped and `datasets.map` can cache what is computed from them.

A task may draw on several corpora (`fusion`: Brown, two Bibles, Jane Austen's novels and two
public-domain commentaries); document ids then stay those of the single-corpus tasks (`ca01`, `Gen.1`), so a Brown
file or a Bible chapter falls in the same split in every task.
"""
from __future__ import annotations

import hashlib
import inspect
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import datasets
from tqdm.auto import tqdm

from bertgen.data import paper
from bertgen.data.corpora import austen, brown, ding, fetch, plaintext, sword
from bertgen.data.fusion import clauses, rules as fusion_rules, tagger
from bertgen.fileio import replace_directory
from bertgen.paths import bertgen_home

SPLITS = ("train", "validation", "test")
_SPLIT_PERCENT = (80, 90)  # hash % 100 below 80: train, below 90: validation, else test

Example = dict[str, str]
Roots = dict[str, Path]  # corpus name -> its raw directory


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    metrics: tuple[str, ...]  # names understood by bertgen.evaluation.score
    corpora: tuple[str, ...] = ()  # offline: the corpora `bertgen data fetch` obtains
    build: Callable[[Roots], Iterable[Example]] | None = None  # offline: raw directories -> examples
    columns: tuple[str, ...] = ("source", "target")
    code: tuple[ModuleType, ...] = ()  # modules besides the corpus readers whose code shapes the examples

    @property
    def offline(self) -> bool:
        return self.build is not None


# ------------------------------------------------------------------------------ offline builders

def _fusion_rows(doc: brown.Document, corpus: str) -> Iterator[Example]:
    for f in fusion_rules.fusions(doc):
        yield {"source": f.source, "target": f.target, "rule": f.rule, "connective": f.connective,
               "corpus": corpus, "doc": doc.id}


def _brown_fusion(roots: Roots) -> Iterator[Example]:
    for doc in brown.read_corpus(roots["brown"]):
        yield from _fusion_rows(doc, "brown")


def _brown_split(roots: Roots) -> Iterator[Example]:
    """WikiSplit-style: one real sentence -> the two made from it (the single-sentence rules only)."""
    for ex in _brown_fusion(roots):
        if ex["rule"].startswith("SINGLE_"):
            yield {**ex, "source": ex["target"], "target": ex["source"]}


def _module_dir(root: Path, kind: str, module: str) -> Path:
    """A module in a fetched directory (raw/<corpus>/<module>/) or in a SWORD library (modules/<kind>/...)."""
    for d in (root / module, root / "modules" / kind / module):
        if d.is_dir():
            return d
    return root / module  # the reader's error names it


def _bible_modern(roots: Roots) -> Iterator[Example]:
    """KJV -> WEB from a fetched directory (raw/bible/<module>/) or a SWORD library (modules/texts/ztext/)."""
    kjv, web = (_module_dir(roots["bible"], "texts/ztext", m) for m in fetch.BIBLE_MODULES)
    for (book, chapter, verse), old, new in sword.parallel(kjv, web):
        yield {"source": old, "target": new, "ref": f"{book}.{chapter}.{verse}", "doc": f"{book}.{chapter}"}


def _ding_en_de(roots: Roots) -> Iterator[Example]:
    for english, german in ding.sentence_pairs(roots["ding"]):
        # each entry is its own document; lowercased, so case variants of a sentence share a split
        yield {"source": english, "target": german, "doc": english.lower()}


def _bible_chapters(root: Path, module: str) -> Iterator[tuple[str, list[str]]]:
    """(book.chapter, [the chapter's text]) of a Bible: verses joined, since a sentence may run over several
    verses (the sentence splitter finds the ends)."""
    chapter, verses = None, []
    for (book, number, _), text in sword.verses(_module_dir(root, "texts/ztext", module)):
        if (book, number) != chapter and verses:
            yield f"{chapter[0]}.{chapter[1]}", [" ".join(verses)]
            verses = []
        chapter = (book, number)
        verses.append(text)
    if verses:
        yield f"{chapter[0]}.{chapter[1]}", [" ".join(verses)]


def _fusion(roots: Roots) -> Iterator[Example]:
    """Brown as tagged, then the World English Bible, the King James Bible, Austen's novels and the
    commentaries tagged by the Brown tagger. Both Bibles' chapters keep bible-modern's ids (`Gen.1`), so a
    chapter lies in one split whichever translation or task it comes from."""
    yield from _brown_fusion(roots)
    model = tagger.Tagger.load(roots["brown"])
    kjv, web = fetch.BIBLE_MODULES
    sources = [("web", _bible_chapters(roots["bible"], web)), ("kjv", _bible_chapters(roots["bible"], kjv)),
               ("austen", austen.chapters(roots["austen"]))]
    sources += [(m, ((f"{m}:{i}", ps) for i, ps in sword.commentary(_module_dir(roots["commentaries"],
                                                                                "comments/zcom", m))))
                for m in fetch.COMMENTARY_MODULES]
    for corpus, documents in sources:
        for doc_id, paragraphs in tqdm(documents, desc=f"tagging {corpus}", unit=" documents"):
            yield from _fusion_rows(plaintext.tagged(doc_id, corpus, paragraphs, model), corpus)


# the modules whose code reads each corpus
_READERS: dict[str, tuple[ModuleType, ...]] = {"brown": (brown,), "bible": (sword,), "commentaries": (sword,),
                                               "austen": (austen,), "ding": (ding,)}
_FUSION_COLUMNS = ("source", "target", "rule", "connective", "doc")

TASKS = {t.name: t for t in [
    Task("brown-fusion", "sentence fusion on the Brown corpus, DiscoFuse-style rules (offline DiscoFuse)",
         ("exact", "sari"), ("brown",), _brown_fusion, _FUSION_COLUMNS, (fusion_rules, clauses)),
    Task("brown-split", "split one Brown sentence into two, WikiSplit-style (offline WikiSplit)",
         ("exact", "sari", "bleu"), ("brown",), _brown_split, _FUSION_COLUMNS, (fusion_rules, clauses)),
    Task("fusion", "English sentence fusion, DiscoFuse-style rules on Brown, the World English and King James "
         "Bibles, Jane Austen's novels, Spurgeon's Treasury of David and Henry's Concise Commentary "
         "(offline DiscoFuse at workbench scale)", ("exact", "sari"), ("brown", "bible", "austen", "commentaries"),
         _fusion, ("source", "target", "rule", "connective", "corpus", "doc"),
         (fusion_rules, clauses, tagger, plaintext)),
    Task("bible-modern", "King James verse -> World English Bible verse (archaic -> modern English)",
         ("bleu", "sari"), ("bible",), _bible_modern, ("source", "target", "ref", "doc")),
    Task("ding-en-de", "English -> German example sentences of the Ding dictionary (offline WMT)",
         ("bleu",), ("ding",), _ding_en_de, ("source", "target", "doc")),
    Task("discofuse-wikipedia", "DiscoFuse, Wikipedia part (Geva et al. 2019)", ("exact", "sari"),
         columns=("source", "target", "rule", "connective")),
    Task("discofuse-sports", "DiscoFuse, sports articles part", ("exact", "sari"),
         columns=("source", "target", "rule", "connective")),
    Task("wikisplit", "WikiSplit split-and-rephrase (Botha et al. 2018)", ("exact", "sari", "bleu")),
    Task("wmt14-de-en", "WMT14 German -> English (uncased BLEU as in the paper)", ("bleu_uncased", "bleu")),
    Task("wmt14-en-de", "WMT14 English -> German (uncased BLEU as in the paper)", ("bleu_uncased", "bleu")),
    Task("gigaword", "Gigaword headline generation (Rush et al. 2015)", ("rouge",)),
    Task("cnn-dailymail", "CNN/DailyMail 3.0.0 summarization, article -> highlights", ("rouge",)),
    Task("xsum", "BBC XSum extreme summarization, document -> one-sentence summary", ("rouge",)),
]}
assert set(paper.HUB) == {t.name for t in TASKS.values() if not t.offline}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
    return TASKS[name]


# ------------------------------------------------------------------------------ splits and caching

def split_of(doc: str) -> str:
    """The split a document belongs to, from a hash of its id (stable across runs and machines)."""
    bucket = int(hashlib.sha256(doc.encode("utf-8")).hexdigest()[:8], 16) % 100
    return SPLITS[0] if bucket < _SPLIT_PERCENT[0] else SPLITS[1] if bucket < _SPLIT_PERCENT[1] else SPLITS[2]


def _features(task: Task) -> datasets.Features:
    return datasets.Features({c: datasets.Value("string") for c in task.columns})


def build(task: Task, roots: Roots) -> datasets.DatasetDict:
    """Build an offline task from its raw corpus directories (no caching)."""
    rows = {s: {c: [] for c in task.columns} for s in SPLITS}
    seen = set()
    for ex in task.build(roots):  # readers raise FileNotFoundError, naming the file, when one is missing
        if ex["source"] in seen:
            continue
        seen.add(ex["source"])
        split = rows[split_of(ex["doc"])]
        for c in task.columns:
            split[c].append(ex[c])
    if not seen:
        where = ", ".join(f"{c} corpus {p}" for c, p in roots.items())
        raise ValueError(f"{task.name}: {where} yields no examples; is each the corpus directory it should be?")
    return datasets.DatasetDict({s: datasets.Dataset.from_dict(rows[s], features=_features(task)) for s in SPLITS})


def _cache_key(task: Task, roots: Roots) -> str:
    """Changes when a corpus is re-fetched or moved, or when the code that reads or shapes the task changes."""
    h = hashlib.sha256()
    modules = [m for c in task.corpora for m in _READERS[c]] + list(task.code) + [sys.modules[__name__]]
    for module in dict.fromkeys(modules):
        h.update(inspect.getsource(module).encode("utf-8"))
    h.update(task.name.encode())
    for corpus, root in sorted(roots.items()):
        stamp = root / "SOURCE"
        h.update(f"|{corpus}|{root.resolve()}|{stamp.stat().st_mtime_ns if stamp.exists() else ''}".encode())
    return h.hexdigest()[:16]


def _save_quietly(dsd: datasets.DatasetDict, path: Path) -> None:
    """save_to_disk without its per-split progress bars: saving takes a moment, the bars add noise."""
    was_enabled = not datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        dsd.save_to_disk(str(path))
    finally:
        if was_enabled:
            datasets.utils.enable_progress_bars()


def _cached(task: Task, roots: Roots) -> datasets.DatasetDict:
    target = bertgen_home() / "tasks" / f"{task.name}-{_cache_key(task, roots)}"
    if not target.exists():
        built = build(task, roots)
        # An empty split saves without an arrow file and then fails to load: leave it out, re-add below.
        replace_directory(target, lambda staging: _save_quietly(
            datasets.DatasetDict({s: ds for s, ds in built.items() if len(ds)}), staging))
    dsd = datasets.load_from_disk(str(target))
    empty = {c: [] for c in task.columns}
    return datasets.DatasetDict({s: dsd[s] if s in dsd else datasets.Dataset.from_dict(empty, features=_features(task))
                                 for s in SPLITS})


def _subsample(ds: datasets.Dataset, fraction: float, seed: int) -> datasets.Dataset:
    n = max(1, round(len(ds) * fraction))
    return ds.select(sorted(random.Random(seed).sample(range(len(ds)), n)))


def _roots(task: Task, data_dir: str | Path | Mapping[str, str | Path] | None) -> Roots:
    """The raw directory of each corpus the task needs: given, or fetched (else an error naming every
    `bertgen data fetch` to run)."""
    if data_dir is None:
        missing = [c for c in task.corpora if not fetch.is_fetched(c)]
        if missing:
            how = "; ".join(f"the {fetch.corpus(c).description} is not in {fetch.raw_dir(c)}: run "
                            f"`bertgen data fetch {c}`" for c in missing)
            also = f" (`bertgen data fetch {task.name}` fetches all of them)" if len(task.corpora) > 1 else ""
            raise FileNotFoundError(f"{task.name} is built from {', '.join(task.corpora)}; {how}{also}; "
                                    "add --path P to use files you have")
        return {c: fetch.raw_dir(c) for c in task.corpora}
    if isinstance(data_dir, Mapping):
        if set(data_dir) != set(task.corpora):
            raise ValueError(f"{task.name}: data_dir names corpora {', '.join(sorted(data_dir))}; it needs a "
                             f"directory for each of {', '.join(task.corpora)}")
        return {c: Path(data_dir[c]) for c in task.corpora}
    if len(task.corpora) != 1:
        raise ValueError(f"{task.name} is built from {', '.join(task.corpora)}: pass data_dir as a mapping "
                         "{corpus: directory}")
    return {task.corpora[0]: Path(data_dir)}


def load_task(name: str, split: str | None = None, fraction: float = 1.0, seed: int = 0,
              data_dir: str | Path | Mapping[str, str | Path] | None = None,
              data_files: paper.DataFiles | None = None) -> datasets.DatasetDict:
    """Load task `name` as a DatasetDict with columns `source`, `target` (+ task extras such as `rule`).

    split: one of train / validation / test, or None for all three.
    fraction: the share of the train split kept, a random subset fixed by `seed` (the paper's 1% and 10%
        columns); validation and test are never subsampled.
    data_dir: offline tasks only, a raw corpus directory to use instead of `$BERTGEN_HOME/raw/<corpus>`
        (e.g. `bertgen.data.corpora.brown.SAMPLE_DIR`, the Brown sample shipped with the package); for a task
        built from several corpora, a mapping {corpus: directory} naming each.
    data_files: hub tasks only, local files in the dataset's own schema ({"train": path, ...}) or a local
        copy of the hub repository, for machines without network.
    """
    task = get_task(name)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")
    if task.offline:
        if data_files is not None:
            raise ValueError(f"{name} is built from a corpus, not loaded from files: use data_dir=, not data_files=")
        dsd = _cached(task, _roots(task, data_dir))
    else:
        if data_dir is not None:
            raise ValueError(f"{name} loads through `datasets`: use data_files= (files or a local copy), not data_dir=")
        dsd = paper.load(name, data_files, split)  # only the split asked for: DiscoFuse's train is 15 GB
    if split is not None:
        if split not in dsd:
            raise ValueError(f"{name} has no {split!r} split (it has {', '.join(dsd)})")
        dsd = datasets.DatasetDict({split: dsd[split]})
    if fraction < 1 and "train" in dsd:
        dsd["train"] = _subsample(dsd["train"], fraction, seed)
    return dsd
