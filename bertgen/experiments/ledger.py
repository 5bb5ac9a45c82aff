"""The run ledger: experiments/results/<task>.csv, one row per finished run, appended under a lock (sweeps run in
parallel); which runs it already holds (a sweep skips them); the code's commit each row records; and the test split
each row's task had, so that a task rebuilt differently (a corpus package updated on a fresh machine) is refused
before a run trains rather than pooled into the rows of the old one."""
from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterable

from bertgen.experiments.config import PROJECT, ExperimentConfig
from bertgen.fileio import atomic_write


def git_commit(root: Path = PROJECT) -> str:
    """HEAD's short hash, `-dirty` when tracked files differ from it; outside a checkout (a copy of the tree on
    another machine) `$BERTGEN_GIT_COMMIT` where set, else `unknown`."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        # results files change with every run: they do not make the code that produced them dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)experiments/results"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("BERTGEN_GIT_COMMIT") or "unknown"
    return head + ("-dirty" if dirty else "")


def already_run(config: ExperimentConfig, results_dir: Path) -> bool:
    """Is a run of this config (same hash) and seed in the task's results CSV? Sweeps skip those."""
    path = results_dir / f"{config.task}.csv"
    if not path.is_file():
        return False
    with open(path, newline="", encoding="utf-8") as f:
        return any(r.get("config_hash") == config.hash() and r.get("seed") == str(config.seed)
                   and r.get("row") == config.row and (r.get("subset_seed") or "0") == str(config.subset_seed)
                   for r in csv.DictReader(f))


def test_split_id(examples: Iterable[dict[str, Any]]) -> str:
    """A fingerprint of a task's test split as built, before any tokenizer or length filter picks a run's pairs from
    it: each pair's raw source and target (or references), in order."""
    pairs = "\n".join(json.dumps([ex["source"], ex.get("target", ex.get("references"))]) for ex in examples)
    return hashlib.sha256(pairs.encode("utf-8")).hexdigest()[:16]


def check_test_split(path: Path, test_split: str) -> None:
    """Refuse a run whose task, as built here, has another test split than the one the ledger's rows were scored on
    (rows that predate the `test_split` column are not checked): its row could be neither averaged with theirs nor
    paired with them example by example."""
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as f:
        others = [r for r in csv.DictReader(f) if r.get("test_split") and r["test_split"] != test_split]
    if others:
        runs = ", ".join(r["run_id"] for r in others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise ValueError(
            f"{path}: the task built here has test split {test_split}, not {others[0]['test_split']}, the one {runs} "
            f"{'was' if len(others) == 1 else 'were'} scored on: its corpora or the code that builds it changed (a "
            "package fetched anew?). Fetch the corpora the ledger's rows used, or start a new table with "
            "--results-dir")


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append to a results CSV. A row with columns the file lacks (a newer bertgen records more) rewrites the file
    atomically with the union of columns, old rows left empty there, so a finished run's row is never refused.
    Locked on the directory: sweeps run in parallel, and a rewrite replaces the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = []
        if path.exists():
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                header, rows = list(reader.fieldnames or []), list(reader)
            for number, old in enumerate(rows, start=2):
                if None in old:  # DictReader's key for fields past the header's
                    raise ValueError(f"{path}, line {number}: more fields than the header's {len(header)}; the file "
                                     "was edited or damaged: restore it from git before appending")
        if rows and set(row) <= set(header):  # the file's columns hold this row: append one line
            with open(path, "a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, fieldnames=header, restval="").writerow(row)
            return
        columns = list(dict.fromkeys([*(header if rows else []), *row]))

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=columns, restval="")
                writer.writeheader()
                writer.writerows([*rows, row])

        atomic_write(path, write)
    finally:
        os.close(lock)
