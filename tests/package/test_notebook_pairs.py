"""Each notebook and its percent-format script (jupytext) say the same thing: the scripts are what review,
linting and duplicate checks read, so a notebook edited without syncing its script fails here."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
VERSION_LINE = re.compile(r"^#\s+jupytext_version: .*\n", re.M)  # differs between jupytext releases only


def script_text(notebook: Path) -> str:
    return VERSION_LINE.sub("", jupytext.writes(jupytext.read(notebook), fmt="py:percent"))


def test_every_notebook_is_paired():
    assert NOTEBOOKS, "no notebooks found"
    unpaired = [nb.name for nb in NOTEBOOKS if not nb.with_suffix(".py").is_file()]
    assert not unpaired, f"run `jupytext --set-formats ipynb,py:percent` on {unpaired}"


def in_sync(notebook: Path) -> bool:
    script = VERSION_LINE.sub("", notebook.with_suffix(".py").read_text(encoding="utf-8"))
    return script == script_text(notebook)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_and_script_agree(notebook: Path):
    assert in_sync(notebook), (
        f"{notebook.name} and {notebook.with_suffix('.py').name} differ: run `jupytext --sync notebooks/*.ipynb`")


def test_a_drifted_script_is_caught(tmp_path):
    notebook = tmp_path / NOTEBOOKS[0].name
    notebook.write_bytes(NOTEBOOKS[0].read_bytes())
    script = notebook.with_suffix(".py")
    script.write_text(script_text(notebook), encoding="utf-8")
    assert in_sync(notebook)
    script.write_text(script_text(notebook).replace("# %%", "# %%\nx = 1  # edited in the script only", 1),
                      encoding="utf-8")
    assert not in_sync(notebook)
