"""What a shorter early-stopping patience would have done to the sweep's runs, replayed on their logged validation
curves (bertgen.experiments.frames.replay_early_stopping): where each run would have stopped and which evaluation
it would have kept, against what its own patience kept. No training: the curves are in each run's log.jsonl. The
replay at a run's own patience is checked against the stop and kept step the run recorded.

    python experiments/patience_replay.py [--task fusion] [--patience 1 2 3] [--results-dir experiments/results]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bertgen.experiments.frames import RESULTS, load_results, order_key, replay_early_stopping


def replay(task: str, results: Path, patiences: list[int]) -> pd.DataFrame:
    rows = []
    for run in load_results(task, results).itertuples():
        run_dir = results / task / "runs" / run.run_id
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        metric, own = config["early_stopping_metric"], config["early_stopping_patience"]
        log = pd.read_json(run_dir / "log.jsonl", lines=True)
        curve = log[log["kind"] == "eval"].sort_values("step")
        recorded = replay_early_stopping(curve, metric, own)
        stop = "early_stopping" if recorded["stop_step"] is not None else "max_steps"
        if (stop, recorded["kept_step"]) != (run.stop_reason, run.best_step):
            raise ValueError(f"{run_dir}: replayed at its own patience {own}, the run stops by {stop} keeping step "
                             f"{recorded['kept_step']}, but it recorded {run.stop_reason} keeping {run.best_step}")
        for patience in patiences:
            replayed = replay_early_stopping(curve, metric, patience)
            rows.append({"row": run.row, "fraction": run.fraction, "seed": run.seed, "patience": patience,
                         "metric": metric, "stopped early": replayed["stop_step"] is not None,
                         "stop step": replayed["stop_step"], "kept step": replayed["kept_step"],
                         "kept": replayed["kept"], "lost against own patience": recorded["kept"] - replayed["kept"]})
    frame = pd.DataFrame(rows)
    frame["stop step"] = frame["stop step"].map(lambda step: "—" if pd.isna(step) else f"{step:.0f}")
    return frame.sort_values(["fraction", "row", "seed", "patience"], ascending=[False, True, True, True],
                             key=lambda c: c.map(order_key) if c.name == "row" else c, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="fusion")
    parser.add_argument("--patience", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    frame = replay(args.task, args.results_dir, args.patience)
    print(frame.to_markdown(index=False, floatfmt=".2f"))
    summary = frame.groupby("patience").agg(runs=("seed", "size"), stopped_early=("stopped early", "sum"),
                                            mean_lost=("lost against own patience", "mean"),
                                            most_lost=("lost against own patience", "max"))
    print()
    print(summary.to_markdown(floatfmt=(".0f", ".0f", ".0f", ".2f", ".2f")))


if __name__ == "__main__":
    main()
