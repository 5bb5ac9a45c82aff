"""SWORD zText Bible modules in plain Python, and verse-aligned pairs of two translations.

A zText module (`modules/texts/ztext/<name>/`) stores each testament in three files:
  {ot,nt}.bzs  block index: one little-endian record (offset, compressed size, uncompressed size) per block,
               3 x uint32 = 12 bytes;
  {ot,nt}.bzz  the blocks themselves, each zlib-compressed, concatenated;
  {ot,nt}.bzv  entry index: one record (block number, offset in the uncompressed block, size) per entry,
               uint32 + uint32 + uint16 = 10 bytes.
Entries follow the module's versification: entry 0 is empty, 1 is the testament heading, then for each
book an introduction entry and for each chapter a heading entry followed by one entry per verse.
A verse the module lacks has size 0. The zVerse4 variant (`zCom4` commentaries such as Spurgeon's Treasury
of David) names the files {ot,nt}.{czs,czv,czz} and stores the entry size as a uint32 (12-byte records).
Commentaries (`modules/comments/zcom/<name>/`) use the same layout; several verses may share one entry
(a comment on a range of verses), which then appears once per verse.

Rather than carrying every versification's verse table, the chapter structure is read from the module
itself: each chapter heading entry holds an OSIS milestone `<chapter osisID="Gen.1" sID="Gen.1"/>`, and
the verses are the entries that follow it. The KJV and WEB modules use different versifications
(KJV, NRSVA), so their entry numbers differ but their (book, chapter, verse) references align.
"""
from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

BLOCK = struct.Struct("<III")
ENTRY = struct.Struct("<IIH")
ENTRY4 = struct.Struct("<III")  # zVerse4: a 32-bit size
TESTAMENTS = ("ot", "nt")

Reference = tuple[str, int, int]  # (OSIS book, chapter, verse), e.g. ("Gen", 1, 1)

_CHAPTER = re.compile(r'<chapter\b[^>]*\bsID="([^".]+)\.(\d+)"')
# Notes, headings and speaker labels are not verse text; their content goes with the tags.
_DROP = re.compile(r"<(note|title|speaker)\b[^>]*(?<!/)>.*?</\1>", re.S)
# Commentaries: a bold run is a heading ("Verses 1-7"), a table an outline; neither is running text.
_DROP_COMMENT = re.compile(r'<(hi) type="bold"[^>]*>.*?</hi>|<(table)\b.*?</table>', re.S)
_PARAGRAPH = re.compile(r'<div\b[^>]*type="x-p"[^>]*/>|<lb\b[^>]*/>|<p\b[^>]*>|</p>')
# Structural tags stand between words; inline ones (<w>, <transChange>, <divineName>, <q>) inside them.
_BREAK = re.compile(r"</?(?:l|lb|lg|div|milestone|chapter|p|item|list)\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:?!’”)])")


def read_entries(module_dir: str | Path, testament: str) -> list[str]:
    """Every entry of one testament's index, decoded (markup included); "" where the module has none."""
    module_dir = Path(module_dir)
    four = (module_dir / f"{testament}.czv").exists()  # zVerse4
    names = ("czs", "czv", "czz") if four else ("bzs", "bzv", "bzz")
    paths = dict(zip(("bzs", "bzv", "bzz"), (module_dir / f"{testament}.{ext}" for ext in names)))
    for path in paths.values():
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: a zText module has {testament}.bzs, .bzv and .bzz "
                                    f"(zVerse4: .czs, .czv, .czz)")
    index, entries_raw, data = (paths[e].read_bytes() for e in ("bzs", "bzv", "bzz"))
    entry = ENTRY4 if four else ENTRY
    for ext, raw, rec in (("bzs", index, BLOCK), ("bzv", entries_raw, entry)):
        if len(raw) % rec.size:
            raise ValueError(f"{paths[ext]}: {len(raw)} bytes is not a whole number of {rec.size}-byte records")
    blocks = [BLOCK.unpack_from(index, i) for i in range(0, len(index), BLOCK.size)]
    cache: dict[int, bytes] = {}
    out = []
    for i in range(0, len(entries_raw), entry.size):
        block, start, size = entry.unpack_from(entries_raw, i)
        if size == 0:
            out.append("")
            continue
        if block not in cache:
            if block >= len(blocks):
                raise ValueError(f"{paths['bzv']}: entry {i // entry.size} points at block {block} "
                                 f"but {paths['bzs']} has {len(blocks)}")
            offset, csize, usize = blocks[block]
            cache[block] = zlib.decompress(data[offset:offset + csize])
            if len(cache[block]) != usize:
                raise ValueError(f"{paths['bzz']}: block {block} inflates to {len(cache[block])} bytes, "
                                 f"the index says {usize}")
        out.append(cache[block][start:start + size].decode("utf-8"))
    return out


def strip_markup(osis: str) -> str:
    """OSIS verse markup -> plain text: notes and titles dropped, word tags unwrapped, entities decoded."""
    text = _DROP.sub(" ", osis)
    text = _BREAK.sub(" ", text)
    text = html.unescape(_TAG.sub("", text)).replace("¶", " ")
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


def _chapter_heading(entry: str) -> tuple[str, int] | None:
    """(book, chapter) if this entry is a chapter heading, which holds exactly one chapter milestone.

    Content the versification has no slot for (WEB's Greek Daniel, under a numbering without it) is
    appended, several chapters' milestones and all, to a neighbouring entry; those do not start chapters.
    """
    found = _CHAPTER.findall(entry)
    return (found[0][0], int(found[0][1])) if len(found) == 1 else None


def verses(module_dir: str | Path) -> Iterator[tuple[Reference, str]]:
    """(reference, plain text) of every non-empty verse, in module order."""
    present = [t for t in TESTAMENTS if (Path(module_dir) / f"{t}.bzv").exists()]  # one may be absent
    if not present:
        raise FileNotFoundError(f"{module_dir} holds no zText module (ot.bzv or nt.bzv); run "
                                "`bertgen data fetch bible` or pass a SWORD library directory")
    for testament in present:
        entries = read_entries(module_dir, testament)
        headings = [(i, *h) for i, e in enumerate(entries) if (h := _chapter_heading(e))]
        for k, (start, book, chapter) in enumerate(headings):
            end = headings[k + 1][0] if k + 1 < len(headings) else len(entries)
            if k + 1 < len(headings) and headings[k + 1][1] != book:
                end -= 1  # the next book's introduction entry sits before its first chapter heading
            for verse, entry in enumerate(entries[start + 1:end], start=1):
                text = strip_markup(entry)
                if text:
                    yield (book, chapter, verse), text


def parallel(source_dir: str | Path, target_dir: str | Path) -> Iterator[tuple[Reference, str, str]]:
    """(reference, source text, target text) for every verse both modules have, in source order."""
    target = dict(verses(target_dir))
    for ref, text in verses(source_dir):
        if ref in target:
            yield ref, text, target[ref]


def commentary(module_dir: str | Path) -> Iterator[tuple[str, list[str]]]:
    """(entry id, its paragraphs as plain text) for each distinct entry of a commentary module, in module
    order; the id (`ot.1234`) is the testament and the entry's first index."""
    present = [t for t in TESTAMENTS if any((Path(module_dir) / f"{t}.{e}").exists() for e in ("bzv", "czv"))]
    if not present:
        raise FileNotFoundError(f"{module_dir} holds no zCom module (ot.bzv, nt.bzv, ot.czv or nt.czv); run "
                                "`bertgen data fetch commentaries`")
    seen = set()
    for testament in present:
        for i, entry in enumerate(read_entries(module_dir, testament)):
            if not entry or entry in seen:
                continue
            seen.add(entry)
            paragraphs = [p for p in map(strip_markup, _PARAGRAPH.split(_DROP_COMMENT.sub(" ", entry))) if p]
            if paragraphs:  # not only markup (the testament heading)
                yield f"{testament}.{i}", paragraphs
