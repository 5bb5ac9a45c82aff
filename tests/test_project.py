"""Project files that must agree with each other."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs one pip: section"
    assert set(pip_lists[0]) == declared, (
        f"only in pyproject: {sorted(declared - set(pip_lists[0]))}; only in environment.yml: "
        f"{sorted(set(pip_lists[0]) - declared)}"
    )


def test_package_never_imports_transformers():
    """transformers is the test-only reference; the package must run without it."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "bertgen").rglob("*.py")
                 if "import transformers" in p.read_text() or "from transformers" in p.read_text()]
    assert offenders == []


def test_notebooks_are_committed_without_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code" and "keep_output" not in cell.get("metadata", {}).get("tags", []):
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name} cell {i}"
