"""At a session's end, while the sweep's lanes still train: copy the log of each run they are training into
experiments/results/converged/<task>/running/<run>/log.jsonl, so that notebook 05 and RECIPE.md show its curve and
the next session sees where it stands, and drop the copies of runs whose rows have landed since. Then commit:

    .venv/bin/python experiments/sweep/snapshot.py && git add -A experiments/results/converged && git commit -m "..."

A run's own checkpoint and log stay under $BERTGEN_HOME/experiments/<task>/<run>/, where the lane resumes it.
"""
import shutil
from pathlib import Path

import pandas as pd

from bertgen.experiments import ExperimentConfig
from bertgen.experiments.run import run_id_for, work_dir

RESULTS = Path(__file__).resolve().parents[2] / "experiments" / "results" / "converged"


def runs_training() -> list[tuple[str, str]]:
    """(task, run id) of every `bertgen experiment run` process now writing into RESULTS."""
    runs = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            argv = (process / "cmdline").read_bytes().decode().split("\0")
            cwd = (process / "cwd").resolve()
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if "experiment" not in argv or argv[argv.index("experiment") + 1:][:1] != ["run"]:
            continue
        options = dict(zip(argv, argv[1:]))
        if (cwd / options.get("--results-dir", "")).resolve() != RESULTS:
            continue
        overrides = [value for flag, value in zip(argv, argv[1:]) if flag == "--set"]
        config = ExperimentConfig.from_toml(cwd / options["run"], overrides)
        runs.append((config.task, run_id_for(config)))
    return runs


def main() -> None:
    for task, run_id in runs_training():
        log = work_dir() / task / run_id / "log.jsonl"
        if log.is_file():
            (RESULTS / task / "running" / run_id).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, RESULTS / task / "running" / run_id / "log.jsonl")
            print(f"{task}/running/{run_id}: log copied")
    for running in sorted(RESULTS.glob("*/running/*")):
        task = running.parent.parent.name
        landed = set(pd.read_csv(RESULTS / f"{task}.csv")["run_id"]) if (RESULTS / f"{task}.csv").is_file() else ()
        if running.name in landed:
            shutil.rmtree(running)
            print(f"{task}/running/{running.name}: its row has landed, copy removed")


if __name__ == "__main__":
    main()
