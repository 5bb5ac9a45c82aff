"""Jane Austen's six novels from the R package janeaustenr (Debian r-cran-janeaustenr), in plain Python.

The texts are public domain (the package is MIT). An installed R package keeps its data in a lazy-load
database, `data/Rdata.rdb` + `data/Rdata.rdx`:
  Rdata.rdx  a gzip-compressed R serialization of list(variables = list(<name> = c(offset, length), ...),
             references = ..., compressed = TRUE): where each object sits in the .rdb;
  Rdata.rdb  the objects, each a 4-byte big-endian uncompressed size followed by a zlib stream holding the
             object's own R serialization.
The serialization ("XDR" format, versions 2 and 3) is a stream of items, each a 32-bit flags word (type in
the low byte, then object/attribute/tag bits) followed by the type's payload; each novel is a character
vector (STRSXP) of its lines, with blank lines between paragraphs and "CHAPTER 1" headings. `unserialize`
reads the types these files use (vectors, pairlists, symbols, references) and refuses any other by name.
"""
from __future__ import annotations

import gzip
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")
_CHAPTER = re.compile(r"^(?:CHAPTER|Chapter)\s+([0-9IVXLC]+)\.?\s*$")

# R's SEXP types used here
_SYMSXP, _LISTSXP, _CHARSXP, _LGLSXP, _INTSXP, _REALSXP, _STRSXP, _VECSXP = 1, 2, 9, 10, 13, 14, 16, 19
_NILVALUE, _REFSXP = 254, 255


class _Reader:
    def __init__(self, data: bytes, where: str):
        self.data, self.pos, self.where, self.refs = data, 0, where, []

    def int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def length(self) -> int:
        n = self.int()
        return n if n != -1 else (self.int() << 32) + self.int()  # a long vector

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, bool(flags & 512), bool(flags & 1024)
        if kind == _NILVALUE:
            return None
        if kind == _REFSXP:
            index = flags >> 8 or self.int()
            return self.refs[index - 1]
        if kind == _SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == _LISTSXP:  # a pairlist (attributes): {tag: value}
            out = {}
            while kind == _LISTSXP:
                if has_attr:
                    self.item()  # the cell's own attributes: never used
                tag = self.item() if has_tag else None
                out[tag] = self.item()
                flags = self.int()
                kind, has_attr, has_tag = flags & 0xFF, bool(flags & 512), bool(flags & 1024)
            if kind != _NILVALUE:
                raise ValueError(f"{self.where}: a pairlist ends in type {kind}, not NULL")
            return out
        if kind == _CHARSXP:
            n = self.int()
            if n == -1:
                return None  # NA_character_
            text = self.data[self.pos:self.pos + n].decode("utf-8", errors="replace")
            self.pos += n
            return text
        if kind in (_LGLSXP, _INTSXP):
            n = self.length()
            value = list(struct.unpack_from(f">{n}i", self.data, self.pos))
            self.pos += 4 * n
        elif kind == _REALSXP:
            n = self.length()
            value = list(struct.unpack_from(f">{n}d", self.data, self.pos))
            self.pos += 8 * n
        elif kind in (_STRSXP, _VECSXP):
            value = [self.item() for _ in range(self.length())]
        else:
            raise ValueError(f"{self.where}: R object type {kind} is not one this reader knows (vectors, "
                             "lists, symbols); the file is not a janeaustenr data file")
        if has_attr:
            attributes = self.item()
            if kind == _VECSXP and "names" in attributes:
                return dict(zip(attributes["names"], value))
        return value


def unserialize(data: bytes, where: str = "R data"):
    """An R serialization (XDR, version 2 or 3) -> Python: vectors become lists, named lists dicts."""
    if data[:2] != b"X\n":
        raise ValueError(f"{where}: not an R XDR serialization (starts {data[:2]!r}, expected b'X\\n')")
    reader = _Reader(data, where)
    reader.pos = 2
    version = reader.int()
    reader.int(), reader.int()  # the writer's R version, the oldest R that reads it
    if version == 3:
        skip = reader.int()  # the native encoding's name
        reader.pos += skip
    return reader.item()


def _data_dir(root: Path) -> Path:
    for d in (root, root / "data", root / "janeaustenr" / "data"):
        if (d / "Rdata.rdx").is_file():
            return d
    raise FileNotFoundError(f"no janeaustenr data (data/Rdata.rdx and Rdata.rdb) in {root}; "
                            "run `bertgen data fetch austen`")


def novels(root: str | Path) -> dict[str, list[str]]:
    """{novel name: its lines} from a janeaustenr package directory (or its `data/` directory)."""
    d = _data_dir(Path(root))
    index = unserialize(gzip.decompress((d / "Rdata.rdx").read_bytes()), str(d / "Rdata.rdx"))
    rdb = (d / "Rdata.rdb").read_bytes()
    out = {}
    for name in NOVELS:
        if name not in index["variables"]:
            raise ValueError(f"{d / 'Rdata.rdx'} has no {name!r}; it has {', '.join(index['variables'])}")
        offset, length = index["variables"][name]
        blob = rdb[offset:offset + length]
        out[name] = unserialize(zlib.decompress(blob[4:]), f"{d / 'Rdata.rdb'}[{name}]")
    return out


def chapters(root: str | Path) -> Iterator[tuple[str, list[str]]]:
    """(novel.chapter, its paragraphs) for every chapter: lines joined, paragraphs split at blank lines,
    the title pages before the first chapter heading left out."""
    for name, lines in novels(root).items():
        number, paragraphs, current = 0, [], []
        for line in lines:
            line = (line or "").strip()
            heading = _CHAPTER.match(line)
            if current and (heading or not line):
                paragraphs.append(" ".join(current))
                current = []
            if heading:
                if number and paragraphs:
                    yield f"{name}.{number}", paragraphs
                number, paragraphs = number + 1, []
            elif line and number:
                current.append(line)
        if current:
            paragraphs.append(" ".join(current))
        if number and paragraphs:
            yield f"{name}.{number}", paragraphs
