"""ruff over the package, the tests, the benchmarks, docs/ and the notebooks' paired scripts: no unused or undefined
names, no syntax errors (pyproject.toml's [tool.ruff] says which rules)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import ROOT


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(ROOT / ".venv" / "bin"))
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the dev extra)")
    done = subprocess.run([ruff, "check", "bertgen", "tests", "benchmarks", "docs", "notebooks"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-1000:]
