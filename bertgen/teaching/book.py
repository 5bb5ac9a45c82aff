"""The course as a static book that works offline: each notebook executed and rendered to HTML, with MathJax
from a local copy (no CDN), solutions folded in <details>, alt text on every figure, a note in place of each
live widget (the notebooks draw a static figure of its default state beside it), and no progress bars.

`make book` runs `python -m bertgen.teaching.book notebooks/*.ipynb --output-dir build/book`.
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

# MathJax 2's configuration as nbconvert loads it, from the local copy (path relative to the pages)
MATHJAX_DIR = "mathjax"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p><em>A live widget stands here in JupyterLab (run the notebook to use it); the output above "
               "shows its default state.</em></p>")

TEMPLATE = """{%- extends 'index.html.j2' -%}
{% from 'mathjax.html.j2' import mathjax %}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{{ mathjax(resources.book_mathjax_url) }}{%- endblock html_head_js_mathjax -%}
{% block any_cell %}
{%- if 'solution' in cell.metadata.get('tags', []) -%}
<details class="solution"><summary>{{ cell.source.splitlines()[0].lstrip('# ').split(':')[0] }}
(click to open)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock any_cell %}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ output.metadata.get('alt', '') | escape_html }}">
</div>
{% endblock data_png %}
"""


def find_mathjax() -> Path:
    """A local MathJax 2 (the directory holding MathJax.js): PyPI's jupyter-server-mathjax (the dev extra
    installs it), else Debian's libjs-mathjax."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    candidates = [Path(spec.origin).parent / "static"] if spec and spec.origin else []
    candidates.append(Path("/usr/share/javascript/mathjax"))
    for path in candidates:
        if (path / "MathJax.js").is_file():
            return path
    raise FileNotFoundError("no local MathJax found (looked in " + ", ".join(map(str, candidates)) + "): run "
                            "`pip install jupyter-server-mathjax` or `apt-get install libjs-mathjax`")


@contextmanager
def _environment(**values: str):
    """Environment variables for the kernels started inside (they inherit this process's environment)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prepare(nb) -> None:
    """In place, on an executed notebook: alt text from each cell's `alt` metadata onto its images (numbered
    when a cell draws several), and a note in place of each live widget's output."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        for i, output in enumerate(images):
            alt = cell.metadata.get("alt", "")
            output.metadata["alt"] = f"{alt} ({i + 1} of {len(images)})" if alt and len(images) > 1 else alt
        for output in cell.outputs:
            if WIDGET in output.get("data", {}):
                output["data"] = {"text/html": WIDGET_NOTE}
    nb.metadata.pop("widgets", None)  # the widgets' state: with it the page would load a widget manager from a CDN


def render(notebook: Path, output_dir: Path, execute: bool = True, timeout: int = 600) -> Path:
    """`notebook` executed (tiny preset, its own directory as working directory) and written as HTML into
    `output_dir`, which must hold (or link) the local MathJax under MATHJAX_DIR (see `build`)."""
    nb = nbformat.read(notebook, as_version=4)
    if execute:
        with _environment(TQDM_DISABLE="1"):  # progress bars are for people watching, not for pages
            ExecutePreprocessor(timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3")
                                ).preprocess(nb, {"metadata": {"path": str(notebook.parent)}})
    prepare(nb)
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"book.html.j2": TEMPLATE})],
                            template_file="book.html.j2")
    body, _ = exporter.from_notebook_node(nb, resources={
        "book_mathjax_url": f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"})
    output_dir.mkdir(parents=True, exist_ok=True)
    page = output_dir / f"{notebook.stem}.html"
    page.write_text(body, encoding="utf-8")
    return page


def build(notebooks: list[Path], output_dir: Path, execute: bool = True) -> list[Path]:
    """Every notebook rendered into `output_dir`, beside a copy of the local MathJax."""
    output_dir.mkdir(parents=True, exist_ok=True)
    mathjax = output_dir / MATHJAX_DIR
    if not (mathjax / "MathJax.js").is_file():
        shutil.copytree(find_mathjax(), mathjax, dirs_exist_ok=True)
    pages = []
    for notebook in notebooks:
        print(f"rendering {notebook.name}", file=sys.stderr)
        pages.append(render(notebook, output_dir, execute))
    index = "".join(f'<li><a href="{p.name}">{html.escape(p.stem)}</a></li>' for p in pages)
    (output_dir / "index.html").write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>bertgen: the "
                                           f"course</title></head><body><h1>bertgen: the course</h1><ol>{index}</ol>"
                                           "</body></html>", encoding="utf-8")
    return pages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, default=Path("build/book"))
    parser.add_argument("--no-execute", action="store_true", help="render the stored outputs as they are")
    args = parser.parse_args(argv)
    build(args.notebooks, args.output_dir, execute=not args.no_execute)
    print(f"open {args.output_dir / 'index.html'}", file=sys.stderr)


if __name__ == "__main__":
    main()
