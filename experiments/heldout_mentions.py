"""Does rnd2rnd trail bert2bert on the fusion pairs that rewrite a repeated mention? A check on test pairs that no
table has scored (experiments/RECIPE.md, stage 6).

The tables score the first 1,000 length-fitting test pairs (shuffled with seed 0). Split by rule
(`bertgen.experiments.subgroups`), rnd2rnd led bert2bert on the pairs that keep their words and trailed it on the
62 that rewrite a repeated mention, a split chosen after seeing per-rule scores. This script decodes, with each
landed run's kept weights ($BERTGEN_HOME/experiments/<task>/<run>/best.safetensors), the mention pairs of the test
split from position 1,000 on, which that reading never saw, and reports the one contrast it predicts, rnd2rnd −
bert2bert (below 0), with the other rows' contrasts beside it. Before that it decodes the first pairs of the tables'
test set and checks that they reproduce each run's saved predictions.

    python experiments/heldout_mentions.py [--results-dir experiments/results/converged] [--threads 1]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file

from bertgen.evaluation import evaluate
from bertgen.experiments.config import ExperimentConfig
from bertgen.experiments.frames import load_results, mark_collapsed
from bertgen.experiments.run import build_model, evaluate_kwargs, prepare_data, read_checkpoint, work_dir
from bertgen.experiments.statistics import example_statistics, paired_bootstrap
from bertgen.experiments.subgroups import MENTION_RULES

ROWS = ("rnd2rnd", "bert2bert", "bertshare", "bert2rnd")
PREDICTED = ("rnd2rnd", "bert2bert")  # the contrast stated before decoding: below 0
CHECKED = 32  # pairs of the tables' test set decoded again to check each run's weights


def decode(config: ExperimentConfig, run_id: str, pairs, tokenizer) -> list[str]:
    """The run's kept weights' greedy outputs for `pairs`, decoded as its test evaluation decoded them."""
    weights = work_dir() / config.task / run_id / "best.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: run {run_id}'s kept weights are gone; rerun it to decode new pairs")
    model, _ = build_model(config, read_checkpoint(config))
    model.load_state_dict(load_file(weights))
    _, predictions = evaluate(model, tokenizer, pairs, config.task, progress=False,
                              **evaluate_kwargs(config, tokenizer))
    return list(predictions["prediction"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=Path("experiments/results/converged"))
    parser.add_argument("--task", default="fusion")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = mark_collapsed(load_results(args.task, args.results_dir))
    runs = runs[(runs["fraction"] == 1) & runs["row"].isin(ROWS) & ~runs["collapsed"]]
    configs = {run: ExperimentConfig.from_dict(json.loads(
        (args.results_dir / args.task / "runs" / run / "config.json").read_text(encoding="utf-8")))
        for run in runs["run_id"]}
    first = next(iter(configs.values()))
    tokenizer = read_checkpoint(first).tokenizer
    # every length-fitting test pair, in the order whose first `test_examples` the tables score
    whole = prepare_data(dataclasses.replace(first, test_examples=0), tokenizer,
                         progress=False)["test"].remove_columns(["input_ids", "labels", "length"])
    tables = first.test_examples
    held_out = whole.select([i for i in range(tables, len(whole)) if whole[i]["rule"] in MENTION_RULES])
    checked = whole.select(range(CHECKED))
    print(f"{args.task}: {len(whole):,} length-fitting test pairs; the tables score the first {tables:,}; "
          f"{len(held_out)} of the other {len(whole) - tables:,} rewrite a repeated mention")

    outputs: dict[str, list[list[str]]] = {}
    for run in runs.itertuples():
        config = configs[run.run_id]
        saved = pd.read_csv(args.results_dir / args.task / "runs" / run.run_id / "predictions.csv",
                            keep_default_na=False)["prediction"][:CHECKED].tolist()
        again = decode(config, run.run_id, checked, tokenizer)
        same = sum(a == b for a, b in zip(again, saved))
        print(f"{run.run_id}: {same}/{CHECKED} of its saved test predictions decoded again")
        outputs.setdefault(run.row, []).append(decode(config, run.run_id, held_out, tokenizer))

    sources, targets = held_out["source"], held_out["target"]
    scored = {row: [example_statistics("sari", sources, p, targets) for p in runs_of_row]
              for row, runs_of_row in outputs.items()}
    copy = [example_statistics("sari", sources, sources, targets)]
    print(f"\nSARI on the {len(held_out)} held-out mention pairs, 95% paired bootstrap intervals:")
    print("| contrast | runs | SARI |\n|---|---|---|")
    for row in ROWS:
        if row in scored:
            print(f"| {row} − copy | {len(scored[row])} | {paired_bootstrap('sari', [(1, scored[row]), (-1, copy)])} |")
    for a, b in [PREDICTED, ("rnd2rnd", "bertshare"), ("rnd2rnd", "bert2rnd"), ("bertshare", "bert2bert"),
                 ("bert2rnd", "bert2bert")]:
        if a in scored and b in scored:
            interval = paired_bootstrap("sari", [(1, scored[a]), (-1, scored[b])])
            note = " (the predicted contrast)" if (a, b) == PREDICTED else ""
            print(f"| {a} − {b}{note} | {len(scored[a])}/{len(scored[b])} | {interval} |")
    confirmed = paired_bootstrap("sari", [(1, scored[PREDICTED[0]]), (-1, scored[PREDICTED[1]])]).high < 0
    print(f"\nrnd2rnd − bert2bert below 0 on pairs the reading never saw: {'yes' if confirmed else 'no'}")


if __name__ == "__main__":
    main()
