"""Atomic writes: every file bertgen writes goes to a temporary name beside its target, then is renamed; a
directory (a checkpoint) is written whole beside the old one and swapped in.

A reader (or a resumed run) sees either the old state or the new one, never half of one: an interrupted
save leaves the previous state intact, and its leftovers (hidden `.NAME.*.tmp` entries beside the target)
are removed by the next save into the same place.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call `write(temporary_path)`, flush it to disk, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())  # not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask sets it for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    payload = data.encode("utf-8") if isinstance(data, str) else data
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(payload))


def write_json_atomic(path: str | os.PathLike, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------- directories

def leftovers(directory: Path, name: str = "") -> list[Path]:
    """Temporary entries an interrupted write left in `directory` (all of them, or those of target `name`)."""
    if not directory.is_dir():
        return []
    prefix = f".{name}." if name else "."
    return sorted(p for p in directory.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp"))


def clean_leftovers(directory: Path, name: str = "") -> list[Path]:
    """Remove what `leftovers` finds; returns the removed paths."""
    found = leftovers(directory, name)
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return found


def replace_directory(target: str | os.PathLike, fill: Callable[[Path], None],
                      carry: Callable[[str], bool] = lambda name: False) -> None:
    """Write a directory whole: `fill(staging)` writes the new contents into a directory beside `target`,
    entries of the old `target` for which `carry(name)` holds are copied over first (e.g. tokenizer files
    next to a model's weights), then the new directory takes the old one's place in one rename. A failure
    anywhere leaves the old directory as it was and no staging directory behind."""
    target = Path(target).resolve()
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(parent, target.name)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        if target.is_dir():
            staging.chmod(target.stat().st_mode & 0o7777)
            for entry in target.iterdir():
                if carry(entry.name):
                    _copy(entry, staging / entry.name)
        else:
            staging.chmod(0o777 & ~_umask())
        fill(staging)
        _fsync_tree(staging)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _copy(src: Path, dst: Path) -> None:
    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(src, dst)


def _link_or_copy(src, dst) -> None:
    """A hard link where the file system allows it (instant, no extra space; bertgen replaces files by
    renaming, never in place, so the old directory's copy never changes), else a copy."""
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries in one step (Linux renameat2); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if not target.is_dir() or target.is_symlink():
        raise NotADirectoryError(f"{target}: exists and is not a directory; move it away or save elsewhere")
    if _exchange(staging, target):  # staging now holds the old directory
        shutil.rmtree(staging, ignore_errors=True)
        return
    # Two renames: for an instant the target is absent (a reader retries), never a mix.
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old.tmp"))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_consistently(directory: str | os.PathLike, read: Callable[[], T], attempts: int = 5) -> T:
    """`read()` the files of a directory that a writer may replace whole meanwhile (`replace_directory`):
    if the directory was swapped during the read, read again, so the result is all old or all new."""
    directory = Path(directory)
    for attempt in range(attempts):
        before = _identity(directory)
        try:
            result = read()
        except FileNotFoundError:
            if attempt + 1 < attempts and _identity(directory) != before:
                time.sleep(0.01 * (attempt + 1))
                continue
            raise
        if _identity(directory) == before:
            return result
        time.sleep(0.01 * (attempt + 1))
    raise RuntimeError(f"{directory}: replaced by another process while being read, {attempts} times in a row; "
                       "wait for the writer to finish and load again")


def _identity(directory: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
