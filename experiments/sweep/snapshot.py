"""At a session's end, while the sweep's lanes still train: copy the log of each run they are training, with its
config, into experiments/results/<task>/running/<run>/, so that notebook 05 and RECIPE.md show its curve
and the next session sees where it stands, and drop the copies of runs whose rows have landed since. Then commit:

    .venv/bin/python experiments/sweep/snapshot.py && git add -A experiments/results && git commit -m "..."

A run's own checkpoint and log stay under $BERTGEN_HOME/experiments/<task>/<run>/, where the lane resumes it.
"""
import json
import shutil
from pathlib import Path

import pandas as pd

from bertgen.experiments import ExperimentConfig
from bertgen.experiments.run import run_id_for, work_dir

RESULTS = Path(__file__).resolve().parents[2] / "experiments" / "results"


def configs_training() -> list[ExperimentConfig]:
    """The config of every `bertgen experiment run` process now writing into RESULTS (the TOML it names, with
    its --set overrides, read now: a TOML edited since it started would name another run)."""
    configs = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            argv = (process / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = (process / "cwd").resolve()
        except OSError:  # ended meanwhile, or not ours to read
            continue
        at = argv.index("experiment") if "experiment" in argv else -1
        if at < 0 or argv[at + 1:at + 2] != ["run"]:
            continue
        options = dict(zip(argv, argv[1:]))
        if (cwd / options.get("--results-dir", "")).resolve() != RESULTS:
            continue
        overrides = [value for flag, value in zip(argv, argv[1:]) if flag == "--set"]
        configs.append(ExperimentConfig.from_toml(cwd / options["run"], overrides))
    return configs


def main() -> None:
    for config in configs_training():
        run_id = run_id_for(config)
        log, copy = work_dir() / config.task / run_id / "log.jsonl", RESULTS / config.task / "running" / run_id
        if not log.is_file():
            print(f"{log}: not found (another BERTGEN_HOME, or its config edited since it started); not copied")
            continue
        copy.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, copy / "log.jsonl")
        (copy / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"{config.task}/running/{run_id}: log copied")
    for task_dir in sorted(path for path in RESULTS.iterdir() if (path / "running").is_dir()):
        csv = RESULTS / f"{task_dir.name}.csv"
        landed = set(pd.read_csv(csv)["run_id"]) if csv.is_file() else set()
        for running in sorted((task_dir / "running").iterdir()):
            if running.name in landed:
                shutil.rmtree(running)
                print(f"{task_dir.name}/running/{running.name}: its row has landed, copy removed")


if __name__ == "__main__":
    main()
