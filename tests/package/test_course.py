"""The notebooks are a course: each states its objectives, links the paper, names the modules it explains, ends
with exercises whose solutions the test suite executes, and runs on the project's kernel; 02 and 03 are chapters."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import pytest

from bertgen.teaching import book

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
    assert all(c.metadata["jupyter"].get("outputs_hidden") for c in solutions if c.cell_type == "code"), \
        f"{path.name}: a solution's output gives it away: collapse it too (jupyter.outputs_hidden)"


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


FIGURE = re.compile(r"plt\.(subplots|figure|imshow)\(|plot_attention\(|draw_layer\(|draw_scheme\(|\.plot(\.\w+)?\(|"
                    r"attention_explorer\(|\.semilogy\(|\.hist\(")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_figure_has_alt_text(path: Path):
    missing = [c.source.splitlines()[0] for c in jupytext.read(path).cells
               if c.cell_type == "code" and FIGURE.search(c.source) and len(c.metadata.get("alt", "")) < 20]
    assert not missing, f"{path.name}: cells drawing a figure without an `alt` description in their metadata: {missing}"


class _Text(HTMLParser):
    """The page's text, split into what MathJax 2 typesets and what it skips (its tex2jax skipTags)."""
    SKIP = {"script", "noscript", "style", "textarea", "pre", "code"}

    def __init__(self):
        super().__init__()
        self.depth, self.typeset, self.skipped = 0, [], []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.SKIP

    def handle_endtag(self, tag):
        self.depth -= tag in self.SKIP

    def handle_data(self, data):
        (self.skipped if self.depth else self.typeset).append(data)


def test_the_book_renders_offline(tmp_path):
    """02 stands for the book (math, a widget, figures, solutions; about 30 s): rendered as `make book` does."""
    notebook = ROOT / "notebooks" / "02_encoder.ipynb"
    page = book.build([notebook], tmp_path)[0].read_text(encoding="utf-8")
    remote = re.findall(r"""(?:src|href)=["'](?:https?:)?//[^"']+["']|import\(["']https?:[^"']+""", page)
    scripts = [s for s in remote if not s.startswith("href")]
    assert not scripts, f"the page loads from the network: {scripts}"
    mathjax = re.search(r'<script src="([^"?]+)\?config=', page)
    assert mathjax and (tmp_path / mathjax.group(1)).is_file(), "MathJax is not loaded from a local copy"

    nb = jupytext.read(notebook)
    solutions = sum("solution" in c.metadata.get("tags", []) for c in nb.cells)
    assert page.count('<details class="solution">') == solutions >= 1, "every solution folded in its own <details>"
    assert "<details class=\"solution\" open" not in page
    assert re.search(r"<img(?![^>]*\balt=\"[^\"]{20,})", page) is None, "an image without alt text"
    assert page.count("<img") >= 4
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page, "warnings or progress bars in the stored outputs"
    assert "widget-view+json" not in page and "A live widget stands here" in page

    text = _Text()
    text.feed(page)
    typeset, skipped = "".join(text.typeset), "".join(text.skipped)
    maths = {m for m in re.findall(r"\$\$.+?\$\$|\$[^$\n]+\$", prose(nb), flags=re.S)}
    assert len(maths) >= 10
    outside = [m for m in maths if m not in typeset]
    assert not outside, f"math MathJax will not typeset (escaped, or inside code): {outside[:5]}"
    assert not [m for m in maths if m in skipped and len(m) > 8]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_asks_before_it_shows_and_ends_with_a_summary(path: Path):
    text = prose(jupytext.read(path))
    assert "*Predict before you run:*" in text, f"{path.name}: no predict-then-run question"
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[-2:] == ["Summary", "Exercises"], f"{path.name}: a '## Summary' box goes just before the exercises"
    summary = text[text.index("## Summary"):text.index("## Exercises")]
    assert len(re.findall(r"^> - ", summary, flags=re.M)) >= 3, f"{path.name}: the summary is a box of 3+ points"


@pytest.mark.parametrize("path", [p for p in SCRIPTS if p.stem[:2] in {"01", "02", "03", "04", "06"}], ids=lambda p: p.stem)
def test_the_running_example_runs_through_the_course(path: Path):
    code = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "code")
    assert "RUNNING_EXAMPLE" in code, f"{path.name} does not follow bertgen.teaching.RUNNING_EXAMPLE"
