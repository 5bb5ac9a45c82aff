"""SWORD modules written in the real binary format (struct-packed indexes, zlib blocks), for the tests."""
import struct
import zlib

IMPORTER = '<milestone type="x-importer" subType="x-osis2mod" n="$Rev: 3769 $ (SWORD: 1.9.0)"/>'


def book(osis):
    return f'<div canonical="true" osisID="{osis}" sID="gen1" type="book"/> <title type="main">The Book</title>'


def chapter(osis, n):
    return f'<div sID="gen3" type="x-p"/> <chapter n="{n}" osisID="{osis}.{n}" sID="{osis}.{n}"/> '


def write_ztext(module_dir, testament, blocks, four=False):
    """Write one testament: `blocks` is a list of blocks, each a list of entry texts ("" for none).
    Entry 0 (empty) and the testament heading come first, as osis2mod writes them. `four`: the zVerse4
    layout ({ot,nt}.{czs,czv,czz}, 32-bit entry sizes)."""
    module_dir.mkdir(parents=True, exist_ok=True)
    blocks = [["", IMPORTER]] + blocks
    bzs, bzv, bzz = b"", b"", b""
    for number, entries in enumerate(blocks):
        raw = b""
        for text in entries:
            data = text.encode("utf-8")
            bzv += struct.pack("<III" if four else "<IIH", number, len(raw) if data else 0, len(data))
            raw += data
        packed = zlib.compress(raw)
        bzs += struct.pack("<III", len(bzz), len(packed), len(raw))
        bzz += packed
    for ext, data in zip(("czs", "czv", "czz") if four else ("bzs", "bzv", "bzz"), (bzs, bzv, bzz)):
        (module_dir / f"{testament}.{ext}").write_bytes(data)
