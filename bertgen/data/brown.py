"""The Brown corpus as a sentence-fusion task: reader, detokenizer and DiscoFuse-style rules.

Brown (NLTK format) is 500 files `ca01` .. `cr09`, each a sequence of paragraphs separated by blank lines,
one sentence per line, tokens written `word/tag` (`The/at jury/nn said/vbd ./.`); `cats.txt` names each
file's genre. The tags are the Brown tagset (`pps` he/she/it, `vbd` past verb, `cs` subordinating
conjunction, `cc` coordinating conjunction, ...), with suffixes `-hl` (headline), `-tl` (title), `-nc`
(citation) and a `fw-` prefix (foreign word).

Fusion examples are made the way DiscoFuse (Geva et al. 2019) made theirs: start from a real, coherent
text and undo one discourse phenomenon to get the incoherent input. The target is always the real Brown
text; only the input is constructed. Rule names are DiscoFuse's `discourse_type` values, so results can be
broken down by phenomenon and compared:

  PAIR_CONN           "S1. However, s2."         <- "S1. S2."   (sentence-initial adverbial, or And/But/Yet)
  SINGLE_S_COORD      "X, but y."                <- "X. Y."     (clause coordination: and, but, so, yet)
  SINGLE_CONN_INNER   "X because y."             <- "X. Y."     (because, although, though, since, while, whereas)
  SINGLE_CONN_START   "Although x, y."           <- "X. Y."     (the same, plus when, at the start)
  SINGLE_VP_COORD     "He came and saw it."      <- "He came. He saw it."  (verb phrases sharing a subject)

Rules only fire where the tags show a full clause (a subject followed by a finite verb) on both sides, and
they skip sentences with quotations, brackets, headlines, colons or semicolons: a skipped sentence costs an
example, a wrong one teaches the model garbage.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

Token = tuple[str, str]  # (word, tag) with the tag reduced to its base form, e.g. ("Jury", "nn")
Sentence = list[Token]

FILE_RE = re.compile(r"c[a-r]\d\d")
SAMPLE_DIR = Path(__file__).parent / "samples" / "brown"


@dataclass
class Document:
    id: str  # file name, e.g. "ca01"
    genre: str  # from cats.txt, e.g. "news"
    sentences: list[Sentence]


# ------------------------------------------------------------------------------------------ reading

def base_tag(tag: str) -> str:
    """`nn-tl-hl` -> `nn`, `fw-jj` -> `jj`, `---hl` -> `--`: the part of the tag that says the word class."""
    tag = tag.lower()
    if tag.startswith("fw-"):
        tag = tag[3:]
    while tag.endswith(("-hl", "-tl", "-nc")) and len(tag) > 3:
        tag = tag[:-3]
    return tag


def is_headline(tokens_with_raw_tags: list[str]) -> bool:
    return any(t.endswith("-hl") for t in tokens_with_raw_tags)


def parse_sentence(line: str) -> tuple[Sentence, bool]:
    """One line of `word/tag` tokens -> (tokens, whether any token is tagged as a headline)."""
    words, tags = [], []
    for item in line.split():
        word, sep, tag = item.rpartition("/")
        if not sep or not word:
            raise ValueError(f"Brown token {item!r} is not word/tag")
        words.append(word)
        tags.append(tag)
    return [(w, base_tag(t)) for w, t in zip(words, tags)], is_headline(tags)


def read_categories(root: Path) -> dict[str, str]:
    cats = root / "cats.txt"
    if not cats.exists():
        return {}
    return dict(line.split()[:2] for line in cats.read_text(encoding="utf-8").splitlines() if line.strip())


def read_corpus(root: str | Path) -> Iterator[Document]:
    """Documents of a Brown directory in file-name order. Headline sentences are dropped (they are
    fragments, not sentences)."""
    root = Path(root)
    files = sorted(p for p in root.iterdir() if FILE_RE.fullmatch(p.name)) if root.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no Brown files (ca01 .. cr09) in {root}; "
                                "run `bertgen data fetch brown` or pass the directory of an NLTK brown corpus")
    genres = read_categories(root)
    for path in files:
        sentences = []
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            if line.strip():
                sentence, headline = parse_sentence(line)
                if not headline:
                    sentences.append(sentence)
        yield Document(path.name, genres.get(path.name, "unknown"), sentences)


# ------------------------------------------------------------------------------------ detokenizing

_QUOTES = {"``": '"', "''": '"', "`": "'", "'": "'"}
_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''", "'", "%"}
_NO_SPACE_AFTER = {"``", "`", "(", "[", "{", "$"}


def detokenize(words: list[str]) -> str:
    """Brown tokens -> ordinary text: `` '' become straight quotes, punctuation attaches to its word."""
    out = ""
    glue = True  # no space before the first word
    for word in words:
        if word == "." and out.endswith("."):  # Brown ends "... N. C. ." with the abbreviation and a period
            continue
        if out and not glue and word not in _NO_SPACE_BEFORE:
            out += " "
        out += _QUOTES.get(word, word)
        glue = word in _NO_SPACE_AFTER
    return out


def text(tokens: Sentence) -> str:
    return detokenize([w for w, _ in tokens])


# --------------------------------------------------------------------------------- clause detection

# Tags that can start a subject noun phrase, and tags allowed inside it before its verb.
_SUBJECT_START = {"pps", "ppss", "np", "nps", "at", "dt", "dts", "dti", "dtx", "ap", "cd", "pp$", "nn", "nns",
                  "ex", "pn", "abn", "np$", "nn$", "nns$", "nps$", "nr", "jj", "od"}
_IN_SUBJECT = _SUBJECT_START | {"jjr", "jjs", "jjt", "ppl", "ppls", "pp$$", "pn$", "abx", "ql", "rb", "cc", "in",
                                "nr$", "nrs", "vbg", "vbn", "*"}
_FINITE = {"vbd", "vbz", "vb", "md", "bed", "bedz", "bem", "ber", "bez", "hvd", "hvz", "hv", "dod", "doz", "do"}
_MAX_SUBJECT = 8


def _verbish(tag: str) -> bool:
    return tag.startswith(("vb", "be", "hv", "do", "md"))


def _finite(tag: str) -> bool:
    return tag.rstrip("*") in _FINITE


def is_clause(tokens: Sentence) -> bool:
    """Does this stretch start with a subject followed by a finite verb (`the old man / left`)?

    Contractions of a subject pronoun and a verb (`I'll` ppss+md, `it's` pps+bez) count as both.
    """
    if len(tokens) < 2:
        return False
    first = tokens[0][1]
    if "+" in first:
        return first.split("+")[0] in {"pps", "ppss", "ex", "dt", "np", "nn"}
    if first not in _SUBJECT_START:
        return False
    for i, (_, tag) in enumerate(tokens[1:], start=1):
        if i > _MAX_SUBJECT:
            return False
        if "+" in tag:  # "the man's" (nn+bez) ends the subject with a finite verb
            return _finite(tag.split("+")[1])
        if _verbish(tag) and tag not in {"vbg", "vbn"}:
            return _finite(tag)
        if tag not in _IN_SUBJECT:
            return False
    return False


# -------------------------------------------------------------------------------------- the rules

PAIR_ADVERBIALS = [
    "however", "therefore", "thus", "instead", "moreover", "furthermore", "nevertheless", "nonetheless",
    "consequently", "meanwhile", "otherwise", "hence", "besides", "indeed", "accordingly", "likewise",
    "similarly", "still", "later", "then", "afterwards", "in addition", "as a result", "for example",
    "for instance", "on the other hand", "in fact", "in contrast", "on the contrary", "after all",
    "of course", "at the same time", "in other words", "in any case", "as a matter of fact",
]
PAIR_COORDINATORS = {"and", "but", "yet"}
COORDINATORS = {"and", "but", "so", "yet"}
INNER_SUBORDINATORS = {"because", "although", "though", "since", "while", "whereas"}
START_SUBORDINATORS = INNER_SUBORDINATORS | {"when"}
# Words that make the connective part of a larger one ("as though", "even though", "not because"):
# the left half would end in a dangling word.
_BOUND_BEFORE = {"as", "even", "not", "only", "just", "except", "simply", "partly", "mainly", "largely", "merely",
                 "precisely", "especially", "particularly", "chiefly", "probably", "perhaps", "ever", "long", "and",
                 "but", "or"}
_FUNCTION_TAGS = {"cs", "in", "at", "cc", "wdt", "wps", "wrb", "to", "*", "ql", "dt", "pp$"}
_FORBIDDEN = {"``", "''", "`", "'", "(", ")", "[", "]", ";", ":"}
_ENDS = {".", "?", "!"}
_MIN_PART = 3  # words in each half; shorter halves are fragments like "So it was."


@dataclass
class Fusion:
    """One example: `target` is the real text, `source` the incoherent version made by `rule`."""
    source: str
    target: str
    rule: str
    connective: str


def _eligible(tokens: Sentence) -> bool:
    return (4 <= len(tokens) <= 60 and tokens[-1][0] in _ENDS and tokens[-1][1] == "."
            and not any(w in _FORBIDDEN for w, _ in tokens))


def _cap(tokens: Sentence) -> Sentence:
    word, tag = tokens[0]
    return [(word[:1].upper() + word[1:], tag)] + tokens[1:]


def _sentence(tokens: Sentence, end: str = ".") -> str:
    """Close a half with `end`, unless it already ends in an abbreviation's period (`Jr.`)."""
    words = [w for w, _ in tokens]
    if words[-1] == ",":
        words = words[:-1]
    return detokenize(words if words[-1].endswith(".") else words + [end])


def _two_sentences(left: Sentence, right: Sentence, end: str) -> str | None:
    if len(left) < _MIN_PART or len(right) < _MIN_PART:
        return None
    return _sentence(_cap(left)) + " " + _sentence(_cap(right), end)


def _ends_in_list_item(left: Sentence) -> bool:
    """"... Kennedy, advisers" : the stretch after the last comma has no verb, so the ", and" that follows
    continues a list of noun phrases, not a clause."""
    commas = [i for i, (w, _) in enumerate(left) if w == ","]
    return bool(commas) and not any(_verbish(t) for _, t in left[commas[-1] + 1:])


def single_s_coord(tokens: Sentence) -> tuple[str, str] | None:
    """"X, and y." -> "X. Y." at the first ", and|but|so|yet" with a clause on both sides."""
    body, end = tokens[:-1], tokens[-1][0]
    if not is_clause(body):
        return None
    for i in range(1, len(body) - 1):
        word, tag = body[i + 1]
        if (body[i][0] == "," and word.lower() in COORDINATORS and tag in {"cc", "cs"}
                and not _ends_in_list_item(body[:i]) and is_clause(body[i + 2:])):
            source = _two_sentences(body[:i], body[i + 2:], end)
            if source:
                return source, word.lower()
    return None


def single_conn_inner(tokens: Sentence) -> tuple[str, str] | None:
    """"X because y." -> "X. Y." (also with a comma before the connective). A "since" without a comma
    before it is mostly temporal ("years have passed since ..."), where splitting changes the meaning."""
    body, end = tokens[:-1], tokens[-1][0]
    if not is_clause(body):
        return None
    for i in range(2, len(body) - 1):
        word, tag = body[i]
        if word.lower() in INNER_SUBORDINATORS and tag == "cs" and is_clause(body[i + 1:]):
            before, before_tag = body[i - 1]
            comma = before == ","
            if (before.lower() in _BOUND_BEFORE or before_tag in _FUNCTION_TAGS
                    or (word.lower() == "since" and not comma)):
                return None
            right = body[i + 1:]
            if "," in (w for w, _ in right):  # "x, and ..." may return to the main clause: skip
                return None
            left = body[:i - 1] if comma else body[:i]
            if "," in (w for w, _ in left):  # the connective may belong to an inner clause: skip
                return None
            source = _two_sentences(left, right, end)
            return (source, word.lower()) if source else None
    return None


def single_conn_start(tokens: Sentence) -> tuple[str, str] | None:
    """"Although x, y." -> "X. Y." where the first comma closes the subordinate clause."""
    body, end = tokens[:-1], tokens[-1][0]
    word, tag = body[0]
    if word.lower() not in START_SUBORDINATORS or tag not in {"cs", "wrb"}:
        return None
    commas = [i for i, (w, _) in enumerate(body) if w == ","]
    if not commas:
        return None
    j = commas[0]
    if not (is_clause(body[1:j]) and is_clause(body[j + 1:])):
        return None
    source = _two_sentences(body[1:j], body[j + 1:], end)
    return (source, word.lower()) if source else None


def single_vp_coord(tokens: Sentence) -> tuple[str, str] | None:
    """"He came and saw it." -> "He came. He saw it.": a one- or two-word subject, a past verb, no other
    verb or clause boundary before "and|but" + a second past verb."""
    body, end = tokens[:-1], tokens[-1][0]
    if body[0][1] in {"pps", "ppss"}:
        n_subject = 1
    elif body[0][1] == "np":
        n_subject = 2 if len(body) > 1 and body[1][1] == "np" else 1
    else:
        return None
    if len(body) <= n_subject or body[n_subject][1] != "vbd":
        return None
    for i in range(n_subject + 1, len(body) - 1):
        word, tag = body[i]
        if tag == "cc":
            if word.lower() in {"and", "but"} and body[i + 1][1] == "vbd":
                subject = [(w if t == "np" or w == "I" else w.lower(), t) for w, t in body[:n_subject]]
                source = _two_sentences(body[:i], subject + body[i + 1:], end)
                return (source, word.lower()) if source else None
            return None
        if _verbish(tag) or tag in {"cs", "wdt", "wps", "wpo", "wrb", "to", ","}:
            return None
    return None


SINGLE_RULES = {
    "SINGLE_CONN_START": single_conn_start,
    "SINGLE_CONN_INNER": single_conn_inner,
    "SINGLE_S_COORD": single_s_coord,
    "SINGLE_VP_COORD": single_vp_coord,
}


def pair_conn(first: Sentence, second: Sentence) -> tuple[str, str] | None:
    """"S1. However, s2." -> "S1. S2." for a sentence-initial adverbial + comma, or And/But/Yet + clause."""
    lowered = [w.lower() for w, _ in second]
    for adverbial in PAIR_ADVERBIALS:
        n = adverbial.count(" ") + 1
        if lowered[:n] == adverbial.split() and lowered[n:n + 1] == [","]:
            rest = second[n + 1:]
            break
    else:
        if lowered[0] in PAIR_COORDINATORS and second[0][1] == "cc" and lowered[1] != ",":
            adverbial, rest = lowered[0], second[1:]
        else:
            return None
    if len(rest) <= _MIN_PART or not is_clause(rest[:-1]):
        return None
    return text(first) + " " + text(_cap(rest)), adverbial


def fuse(tokens: Sentence) -> Fusion | None:
    """The first single-sentence rule that applies to this sentence, if any."""
    if not _eligible(tokens):
        return None
    for rule, apply in SINGLE_RULES.items():
        made = apply(tokens)
        if made:
            return Fusion(made[0], text(tokens), rule, made[1])
    return None


def fuse_pair(first: Sentence, second: Sentence) -> Fusion | None:
    if not (_eligible(first) and _eligible(second)):
        return None
    made = pair_conn(first, second)
    if made:
        return Fusion(made[0], text(first) + " " + text(second), "PAIR_CONN", made[1])
    return None


def fusions(document: Document) -> Iterator[Fusion]:
    """Every example a document yields: each sentence at most once by a single-sentence rule, and each
    pair of adjacent sentences at most once by PAIR_CONN, in document order."""
    previous = None
    for sentence in document.sentences:
        if previous is not None:
            pair = fuse_pair(previous, sentence)
            if pair:
                yield pair
        single = fuse(sentence)
        if single:
            yield single
        previous = sentence
