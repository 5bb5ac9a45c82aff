"""Untagged English text -> sentences tokenized and tagged the way Brown is, for the fusion rules.

The rules (`bertgen.data.fusion.rules`) read Brown tokens: punctuation split off (`, . ; : ? !`), quotes
written `` and '', contractions and possessives kept whole (`don't`, `I'll`, `Lord's`), abbreviations
with their period (`Mr.`, `St.`, `U.S.`), numbers with their commas (`1,000`). `tokenize` writes text
that way, and `sentences` splits a paragraph where a `.`, `?` or `!` is followed by a capital letter (or an
opening quote), never after an abbreviation: a sentence it fails to split is only a sentence the rules
skip, while a wrong split would pair two fragments. `tagged` then tags each sentence with the Brown
tagger (`bertgen.data.fusion.tagger`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from bertgen.data.corpora.brown import Document, Sentence
from bertgen.data.fusion.tagger import Tagger

# Typographic characters -> the ASCII Brown uses; underscores mark italics in Gutenberg texts.
_TRANSLATE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": " -- ",
                            "\u2013": "-", "_": "", "\u00a0": " "})
_TOKEN = re.compile(r"""
    \d+(?:[,.]\d+)+             # 1,000  3.5
  | (?:[A-Za-z]\.){2,}          # U.S.  A.D.
  | \w+(?:['-]\w+)*             # words, with inner apostrophes and hyphens: don't, Lord's, well-known
  | --+ | \.\.\. | \S           # dashes, ellipses, any other single character
""", re.X)
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "mt", "messrs", "rev", "col", "gen", "capt", "lt",
                 "sgt", "vs", "etc", "co", "inc", "ltd", "prof", "hon", "esq", "viz", "cf", "ch", "vol", "no"}
_ENDS = {".", "?", "!"}
_OPENERS = {"``", "(", "["}


def tokenize(text: str) -> list[str]:
    """Text -> Brown-style tokens; `"` becomes `` when it opens a quotation and '' when it closes one
    (they alternate: a text that opens one quotation inside another is rare, and skipped by the rules)."""
    tokens: list[str] = []
    quoting = False
    for token in _TOKEN.findall(text.translate(_TRANSLATE)):
        if token == "." and tokens and (tokens[-1].lower() in ABBREVIATIONS
                                        or (len(tokens[-1]) == 1 and tokens[-1].isupper())):
            tokens[-1] += "."  # Mr.  J.
        elif token == '"':
            tokens.append("''" if quoting else "``")
            quoting = not quoting
        else:
            tokens.append(token)
    return tokens


def sentences(paragraph: str) -> Iterator[list[str]]:
    """Tokenized sentences of a paragraph, split after . ? ! (and a closing quote or bracket that follows)
    where the next token starts with a capital letter, opens a quotation or is a dash."""
    tokens = tokenize(paragraph)
    start = 0
    for i, token in enumerate(tokens):
        if token not in _ENDS:
            continue
        end = i + 1
        while end < len(tokens) and tokens[end] in {"''", ")", "]"}:
            end += 1
        # "... it. -- Samuel Cox." : a dash after the end starts an attribution, not more of the sentence
        if end == len(tokens) or tokens[end][:1].isupper() or tokens[end] in _OPENERS or tokens[end] == "--":
            if end > start:
                yield tokens[start:end]
            start = end
    if start < len(tokens):
        yield tokens[start:]


def tagged(doc_id: str, genre: str, paragraphs: Iterable[str], tagger: Tagger) -> Document:
    """A document of tagged sentences, as `brown.read_corpus` yields them, from untagged paragraphs."""
    out: list[Sentence] = []
    for paragraph in paragraphs:
        for words in sentences(paragraph):
            out.append(list(zip(words, tagger.tag(words))))
    return Document(doc_id, genre, out)
