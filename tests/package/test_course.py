"""The notebooks are a course: each states its objectives, links the paper, names the modules it explains, ends
with exercises whose solutions the test suite executes, and runs on the project's kernel; 02 and 03 are chapters."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def prose(notebook) -> str:
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def words(text: str) -> int:
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.S)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_course_scaffolding(path: Path):
    nb = jupytext.read(path)
    text = prose(nb)
    assert nb.metadata["kernelspec"]["name"] == "bertgen", f"{path.name}: save it with the 'bertgen (.venv)' kernel"
    assert "After this notebook you can" in text, f"{path.name}: no learning objectives"
    assert "arxiv.org/abs/1907.12461" in text, f"{path.name}: no link to the paper"
    modules = set(re.findall(r"`(bertgen/[\w/]+\.py)`", text))
    assert modules, f"{path.name}: names no bertgen/ module"
    missing = [m for m in modules if not (ROOT / m).is_file()]
    assert not missing, f"{path.name} names modules that do not exist: {missing}"
    exercises = text[text.index("## Exercises"):] if "## Exercises" in text else ""
    count = len(re.findall(r"^\d+\. ", exercises, flags=re.M))
    assert 2 <= count <= 4, f"{path.name}: {count} exercises (2-4 expected under '## Exercises')"
    solutions = [c for c in nb.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]
    assert solutions, f"{path.name}: no code cell tagged 'solution' (the tests execute them)"
    assert all(c.metadata.get("jupyter", {}).get("source_hidden") for c in solutions), \
        f"{path.name}: solution cells should be collapsed (jupyter.source_hidden)"


@pytest.mark.parametrize("name", ["02_encoder", "03_decoder"])
def test_encoder_and_decoder_are_chapters(name: str):
    nb = jupytext.read(ROOT / "notebooks" / f"{name}.ipynb")
    assert words(prose(nb)) >= 1500
    assert "$$" in prose(nb), f"{name}: a chapter states its equations"


def test_readme_lists_every_notebook_and_maps_the_paper():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"`{path.stem}`" in readme, f"README's notebook table lacks {path.stem}"
    assert "Table 1" in readme and "1907.12461" in readme


SCRIPTS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_heading_is_in_a_markdown_cell(path: Path):
    nb = jupytext.read(path)
    stray = [line for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()
             if re.match(r"#+ ", line.removeprefix("# "))]  # `# ## 4. ...`: a markdown heading left in code
    assert not stray, f"{path.name}: headings inside code cells (a '# %% [markdown]' marker is missing): {stray}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_timings_are_medians_over_repeats(path: Path):
    code = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "code")
    clocks = re.findall(r"time\.(?:perf_counter|time|monotonic)\(", code)
    assert not clocks, (f"{path.name} times with a single clock reading ({clocks}); one run on a shared CPU is noise: "
                        "time with bertgen.teaching.median_seconds(fn, repeats=...)")
