"""The encoder spread (bertgen.evaluation.encoder_spread) of finished runs' best weights beside the warm start
they began from, on the run's validation split: which side failed when a run's source gap stayed shut
(experiments/RECIPE.md, stage 4). Runs that log `val_encoder_spread` need no such pass; older runs do.

    python experiments/encoder_spread.py experiments/results/search/fusion/runs/<run_id> [...]

A run's weights are read from $BERTGEN_HOME/experiments/<task>/<run_id>/best.safetensors (the repository keeps
only its config and logs); one row per run is appended to <results>/encoder_spread.csv.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from bertgen.evaluation import encoder_spread
from bertgen.experiments import ExperimentConfig
from bertgen.experiments.run import append_row, build_model, prepare_data, read_checkpoint, work_dir


def measure(run_dir: Path) -> dict:
    config = ExperimentConfig(**json.loads((run_dir / "config.json").read_text(encoding="utf-8")))
    weights = work_dir() / config.task / run_dir.name / "best.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: no best weights for run {run_dir.name}; they stay on the machine that "
                                "trained it (rerun it there, or pass a run trained here)")
    checkpoint = read_checkpoint(config)
    validation = prepare_data(config, checkpoint.tokenizer)["validation"]
    model, _ = build_model(config, checkpoint)
    pad = checkpoint.tokenizer.pad_token_id
    warm = encoder_spread(model.eval(), validation, pad)
    model.load_state_dict(load_file(weights))
    return {"task": config.task, "run_id": run_dir.name, "validation_examples": len(validation),
            "warm_start_spread": round(warm, 3), "best_weights_spread": round(encoder_spread(model, validation, pad), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="<results>/<task>/runs/<run_id> folders")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for run_dir in args.runs:
        row = measure(run_dir)
        append_row(run_dir.parent.parent.parent / "encoder_spread.csv", row)
        print(row)


if __name__ == "__main__":
    main()
