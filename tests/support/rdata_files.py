"""R lazy-load databases written in R's own XDR serialization, as an installed janeaustenr has them."""
import gzip
import struct
import zlib


def _int(n):
    return struct.pack(">i", n)


def _chars(text):
    data = text.encode("utf-8")
    return _int(0x40009) + _int(len(data)) + data  # CHARSXP, flagged UTF-8 (gp bit) as R writes it


def _strsxp(values):
    return _int(16) + _int(len(values)) + b"".join(_int(9) + _int(-1) if v is None else _chars(v) for v in values)


def _named_list(items):
    """VECSXP with a names attribute: the pairlist (LISTSXP, tagged) holding the symbol `names`."""
    body = _int(19 | 512) + _int(len(items)) + b"".join(value for _, value in items)
    return body + _int(2 | 1024) + _int(1) + _chars("names") + _strsxp([k for k, _ in items]) + _int(254)


def _serialize(item):
    return b"X\n" + _int(3) + _int(0x40201) + _int(0x30500) + _int(5) + b"UTF-8" + item


def write_janeaustenr(package_dir, novels):
    """`novels` {name: lines} -> package_dir/data/Rdata.rdb and Rdata.rdx."""
    data = package_dir / "data"
    data.mkdir(parents=True)
    rdb, where = b"", []
    for name, lines in novels.items():
        raw = _serialize(_strsxp(lines))
        blob = struct.pack(">I", len(raw)) + zlib.compress(raw)
        where.append((name, _int(13) + _int(2) + _int(len(rdb)) + _int(len(blob))))
        rdb += blob
    index = _named_list([("variables", _named_list(where)), ("references", _named_list([])),
                         ("compressed", _int(10) + _int(1) + _int(1))])
    (data / "Rdata.rdb").write_bytes(rdb)
    (data / "Rdata.rdx").write_bytes(gzip.compress(_serialize(index)))
