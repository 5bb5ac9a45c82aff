"""The Brown corpus: reader and detokenizer.

Brown (NLTK format) is 500 files `ca01` .. `cr09`, each a sequence of paragraphs separated by blank lines,
one sentence per line, tokens written `word/tag` (`The/at jury/nn said/vbd ./.`); `cats.txt` names each
file's genre. The tags are the Brown tagset (`pps` he/she/it, `vbd` past verb, `cs` subordinating
conjunction, `cc` coordinating conjunction, ...), with suffixes `-hl` (headline), `-tl` (title), `-nc`
(citation) and a `fw-` prefix (foreign word).

The DiscoFuse-style fusion rules that turn these sentences into examples are in
`bertgen.data.fusion.rules`; untagged text is tagged like Brown by `bertgen.data.fusion.tagger`.
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
