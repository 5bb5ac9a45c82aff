"""The package's shape: no import cycles, modules a person can hold in their head, a CLI that starts without
torch, and public names that load lazily."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import bertgen

PACKAGE = Path(bertgen.__file__).parent
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the bertgen modules it imports anywhere in its body (functions included), with the
    packages whose `__init__` such an import runs."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if not target.startswith("bertgen"):
                    continue
                parts = target.split(".")
                for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
                    prefix = ".".join(parts[:i])
                    if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                        edges.add(prefix)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


# Data flows one way (DESIGN.md): a module of the first package never imports the second
DOWNSTREAM = [("bertgen.warmstart", "bertgen.modeling"), ("bertgen.training", "bertgen.experiments"),
              ("bertgen.modeling", "bertgen.training"), ("bertgen.evaluation", "bertgen.experiments"),
              # the fast path is a leaf that the plain path calls, never the other way
              ("bertgen.fast", "bertgen.modeling"), ("bertgen.fast", "bertgen.generation"),
              ("bertgen.fast", "bertgen.training")]


@pytest.mark.parametrize("lower, upper", DOWNSTREAM)
def test_no_arrow_runs_back_up(lower, upper):
    graph = import_graph()
    back = sorted(f"{module} -> {target}" for module, targets in graph.items() if module.startswith(lower)
                  for target in targets if target == upper or target.startswith(upper + "."))
    assert not back, f"{lower} must not import {upper}: {back}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_passes_the_size_limit():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these along their concepts: {long}"


def test_imports_sit_at_the_top_outside_the_cli():
    """Function-level imports hide dependencies; only the CLI defers them (for its start-up time)."""
    inside = []
    for name, path in _modules().items():
        if name.startswith("bertgen.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("bertgen"):
                        inside.append(f"{name}:{inner.lineno}")
    assert not inside, inside


def test_the_cli_starts_without_torch():
    code = ("import sys; from bertgen.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'datasets', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_load_lazily():
    code = "import sys, bertgen; before = 'torch' in sys.modules; bertgen.EncoderDecoderModel; print(before, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
    assert set(bertgen.__all__) <= set(dir(bertgen))


def test_from_bertgen_import_pipeline_is_the_function_even_after_its_module_is_imported():
    code = ("import bertgen.pipelines, bertgen; from bertgen import pipeline; "
            "print(callable(pipeline) and pipeline is bertgen.pipelines.pipeline)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
