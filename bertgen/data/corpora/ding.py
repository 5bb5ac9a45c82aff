"""The Ding English-German dictionary (dictd format, Debian `dict-de-en`): its example sentences as pairs.

dictd stores a dictionary as two files:
  english-german.index    one line per headword: `headword<TAB>offset<TAB>length`, the numbers in dictd's
                          base64 (digits A-Z a-z 0-9 + /, most significant first), byte positions in
                          the uncompressed data;
  english-german.dict.dz  the entries, gzip-compressed (dictzip is gzip with a seek table).
An entry is the English headword on its first line, an optional usage note (` [coll.]`, ` (safety note)`)
on the second, then the German, indented three spaces and wrapped at about 70 columns:

    He recruited three of his friends to help him move.

       Er hat sich drei seiner Freunde geholt, damit sie ihm beim Umzug
    helfen.

Most entries are words and phrases; the ones whose English is a whole sentence make a small translation
task. Entries with alternatives or placeholders (`across/over`, `sb./sth.`, `jdm./etw.`, `…`, parentheses)
are skipped: they are not one sentence and its translation.
"""
from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
INDEX, DICT = "english-german.index", "english-german.dict.dz"

_ENGLISH = re.compile(r"[A-Z][^/()\[\]{}|]*[.?!]")
_GERMAN = re.compile(r"[A-ZÄÖÜ][^/()\[\]{}|]*[.?!]")
_LABEL = re.compile(r"\s*(\[[^\]]*\]|\{[^}]*\})")  # [ugs.] [Sprw.] {adv}: labels, not text
_PLACEHOLDER = re.compile(r"\b(sb|sth|jd|jdm|jdn|jds|etw)\.|…|\.\.\.")  # "The name of … was mentioned."
_MIN_WORDS = 3


def b64_decode(digits: str) -> int:
    value = 0
    for ch in digits:
        value = value * 64 + B64.index(ch)
    return value


def read_entries(directory: str | Path) -> Iterator[tuple[str, str, str]]:
    """(English headword, usage note, German text) of every entry, each entry once, in file order."""
    directory = Path(directory)
    index_path, dict_path = directory / INDEX, directory / DICT
    for path in (index_path, dict_path):
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; run `bertgen data fetch ding` or pass the directory "
                                    f"that holds {INDEX} and {DICT} (Debian: /usr/share/dictd)")
    with gzip.open(dict_path) as f:
        data = f.read()
    spans = set()
    for n, line in enumerate(index_path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) < 3:
            raise ValueError(f"{index_path}:{n}: expected headword, offset and length separated by tabs")
        spans.add((b64_decode(fields[1]), b64_decode(fields[2])))  # several headwords share one entry
    for offset, length in sorted(spans):
        lines = data[offset:offset + length].decode("utf-8").split("\n")
        if lines[0].startswith("00-database") or lines[0].startswith("00database"):
            continue  # dictd's metadata entries
        note = lines[1].strip() if len(lines) > 1 else ""
        german = " ".join(line.strip() for line in lines[2:] if line.strip())
        yield lines[0].strip(), note, german


def sentence_pair(english: str, german: str) -> tuple[str, str] | None:
    """The (English, German) sentence pair of an entry, or None if it isn't one.

    The German may list alternatives separated by "; " and carry labels; the first alternative without
    labels is kept, ending as the last one does when it lacks its own final punctuation.
    """
    alternatives = [_LABEL.sub("", a).strip() for a in german.split("; ")]
    german = alternatives[0]
    if german and german[-1] not in ".?!" and alternatives[-1][-1:] in {".", "?", "!"}:
        german += alternatives[-1][-1]
    english = english.strip()
    if not (_ENGLISH.fullmatch(english) and _GERMAN.fullmatch(german)):
        return None
    if _PLACEHOLDER.search(english) or _PLACEHOLDER.search(german) or len(english.split()) < _MIN_WORDS:
        return None
    return english, german


def sentence_pairs(directory: str | Path) -> Iterator[tuple[str, str]]:
    for english, _, german in read_entries(directory):
        pair = sentence_pair(english, german)
        if pair:
            yield pair
