"""`bertgen experiment sweep --commit`: each finished run's results committed, whatever form the folder was given in."""
from __future__ import annotations

import subprocess
from pathlib import Path

from bertgen.cli.experiment import _commit_results


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_a_relative_results_folder_is_committed_and_nothing_else(tmp_path, monkeypatch):
    git("init", "-q", cwd=tmp_path)
    git("config", "user.email", "t@example.com", cwd=tmp_path)
    git("config", "user.name", "t", cwd=tmp_path)
    (tmp_path / "results" / "fusion").mkdir(parents=True)
    (tmp_path / "results" / "fusion.csv").write_text("run_id\na\n")
    (tmp_path / "results" / "fusion" / "log.jsonl").write_text("{}\n")
    (tmp_path / "work.py").write_text("unfinished = True\n")  # the user's own change stays uncommitted
    monkeypatch.chdir(tmp_path)
    assert _commit_results(Path("results"), "tiny seed 0")
    assert git("log", "--format=%s", cwd=tmp_path).strip() == "Results: tiny seed 0"
    assert sorted(git("show", "--name-only", "--format=", "HEAD", cwd=tmp_path).split()) == [
        "results/fusion.csv", "results/fusion/log.jsonl"]
    assert "?? work.py" in git("status", "--short", cwd=tmp_path)


def test_the_readme_named_beside_the_results_is_committed_with_them(tmp_path, monkeypatch):
    git("init", "-q", cwd=tmp_path)
    git("config", "user.email", "t@example.com", cwd=tmp_path)
    git("config", "user.name", "t", cwd=tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "fusion.md").write_text("| row |\n")
    (tmp_path / "README.md").write_text("block\n")
    (tmp_path / "other.md").write_text("not staged\n")
    assert _commit_results(tmp_path / "results", "tiny seed 1", also=(tmp_path / "README.md",))
    assert sorted(git("show", "--name-only", "--format=", "HEAD", cwd=tmp_path).split()) == [
        "README.md", "results/fusion.md"]
    assert "?? other.md" in git("status", "--short", cwd=tmp_path)


def test_a_refused_commit_is_said_and_the_files_stay(tmp_path, capsys):
    results = tmp_path / "results"  # not inside a git checkout
    results.mkdir()
    (results / "fusion.csv").write_text("run_id\na\n")
    assert not _commit_results(results, "tiny seed 0")
    assert "[sweep] not committed (git add" in capsys.readouterr().out
    assert (results / "fusion.csv").is_file()
