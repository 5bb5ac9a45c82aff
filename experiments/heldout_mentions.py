"""Does rnd2rnd trail bert2bert on the fusion pairs that rewrite a repeated mention? A check on test pairs that no
table has scored (experiments/RECIPE.md, stage 6).

The tables score the first 1,000 length-fitting test pairs (shuffled with seed 0). Split by rule
(`bertgen.experiments.subgroups`), rnd2rnd led bert2bert on the pairs that keep their words and trailed it on the
few that rewrite a repeated mention, a split chosen after seeing per-rule scores. This script decodes, with each
landed run's kept weights ($BERTGEN_HOME/experiments/fusion/<run>/best.safetensors), the mention pairs of the test
split from position 1,000 on, which that reading never saw, and reports the contrast it predicts, rnd2rnd −
bert2bert (below 0), with the other rows' contrasts beside it, and the 2x2 design's effects
(`subgroups.FACTORIAL`). Of those, the 62 mention pairs predict one: the warm decoder's, above 0, stated on
2026-12-06 once rnd2bert had landed. It is a second look at these pairs, not a blind one: the script's first runs had
decoded them with every other row, so only rnd2bert's outputs were unseen (the effect is above 0 where rnd2bert beats
copying by more than rnd2rnd − bert2bert + bert2rnd − copy). `--split validation` does the same with the
validation pairs beyond those the runs validated on (the first `validation_examples`), which no run has read: a
second held-out set, reported on its own. It also decodes the first pairs of the tables' test set again and stops
unless they reproduce each run's saved predictions.

    python experiments/heldout_mentions.py [--split test|validation] [--results-dir experiments/results]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pandas as pd
import torch

from bertgen.evaluation import evaluate
from bertgen.experiments.config import ExperimentConfig
from bertgen.experiments.run import evaluate_kwargs, kept_model, prepare_data, read_checkpoint
from bertgen.experiments.statistics import example_statistics
from bertgen.experiments.subgroups import FACTORIAL, MENTION_RULES, comparable_runs, contrasts, difference

TASK = "fusion"
ROWS = ("rnd2rnd", "bert2bert", "bertshare", "bert2rnd", "rnd2bert")
PREDICTED = ("rnd2rnd", "bert2bert")  # the contrast stated before decoding: below 0
PREDICTED_EFFECT = "warm decoder (main effect)"  # stated before the second look: above 0
CONTRASTS = (PREDICTED, ("rnd2rnd", "bertshare"), ("rnd2rnd", "bert2rnd"), ("bertshare", "bert2bert"),
             ("bert2rnd", "bert2bert"))
CHECKED = 32  # pairs of the tables' test set decoded again to check each run's weights
SPLIT_FIELDS = ("checkpoint", "data_dir", "max_source_length", "max_target_length", "source_special_tokens",
                "test_examples", "validation_examples")  # which pairs the splits' sets hold, and how they are read


def decode(model, config: ExperimentConfig, pairs, tokenizer) -> pd.DataFrame:
    """Greedy outputs for `pairs`, decoded and round-tripped as the run's test evaluation was (`evaluate`'s frame:
    source, target and prediction as scored)."""
    return evaluate(model, tokenizer, pairs, TASK, progress=False, **evaluate_kwargs(config, tokenizer))[1]


def landed_runs(results: Path) -> tuple[pd.DataFrame, dict[str, ExperimentConfig]]:
    """The rows' runs at 100% that read their input, one platform, and their configs, which must agree on the
    test set."""
    try:
        runs = comparable_runs(TASK, results, list(ROWS), required=list(PREDICTED))
    except ValueError as error:
        raise SystemExit(str(error)) from None
    configs = {run: ExperimentConfig.from_dict(json.loads(
        (results / TASK / "runs" / run / "config.json").read_text(encoding="utf-8"))) for run in runs["run_id"]}
    for field in SPLIT_FIELDS:
        if len({getattr(c, field) for c in configs.values()}) > 1:
            raise SystemExit(f"the runs' configs differ in {field}, so their test sets differ; compare runs of one")
    return runs, configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--results-dir", type=Path, default=Path("experiments/results"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs, configs = landed_runs(args.results_dir)
    first = next(iter(configs.values()))
    tokenizer = read_checkpoint(first).tokenizer
    # every length-fitting pair of each split, in the order whose first `<split>_examples` the runs used
    data = prepare_data(dataclasses.replace(first, test_examples=0, validation_examples=0), tokenizer, progress=False)
    test, pool = (data[split].remove_columns(["input_ids", "labels", "length"]) for split in ("test", args.split))
    used = first.test_examples if args.split == "test" else first.validation_examples
    held_out = [i for i in range(used, len(pool)) if pool[i]["rule"] in MENTION_RULES]
    print(f"{TASK}: {len(pool):,} length-fitting {args.split} pairs; the runs used the first {used:,}; "
          f"{len(held_out)} of the other {len(pool) - used:,} rewrite a repeated mention")

    decoded: dict[str, list[pd.DataFrame]] = {}
    for run in runs.itertuples():
        config = configs[run.run_id]
        _, _, model = kept_model(args.results_dir, TASK, run.run_id)
        checked = decode(model, config, test.select(range(CHECKED)), tokenizer)["prediction"]
        saved = pd.read_csv(args.results_dir / TASK / "runs" / run.run_id / "predictions.csv",
                            keep_default_na=False)["prediction"][:CHECKED]
        if (same := int((checked.to_numpy() == saved.to_numpy()).sum())) < CHECKED:
            raise SystemExit(f"{run.run_id}: its kept weights reproduce {same} of {CHECKED} saved test predictions; "
                             "they are not the weights its row was scored with")
        print(f"{run.run_id}: {CHECKED} of {CHECKED} saved test predictions decoded again")
        decoded.setdefault(run.row, []).append(decode(model, config, pool.select(held_out), tokenizer))

    scored_text = next(iter(decoded.values()))[0]  # as scored: the source and target after the tokenizer's trip
    sources, targets = scored_text["source"], scored_text["target"]
    scored = {row: [example_statistics("sari", sources, f["prediction"], targets) for f in decoded[row]]
              for row in ROWS if row in decoded}
    named = dict(difference(a, b) for a, b in CONTRASTS if {a, b} <= set(scored))
    effects = FACTORIAL if set(FACTORIAL[PREDICTED_EFFECT]) <= set(scored) else {}
    table = contrasts("sari", scored, example_statistics("sari", sources, sources, targets), named | effects)
    print(f"\nSARI on the {len(held_out)} held-out {args.split} mention pairs, 95% paired bootstrap intervals:")
    print("| contrast | runs | SARI |\n|---|---|---|")
    predicted = " − ".join(PREDICTED)
    for r in table:
        marked = r["contrast"] in (predicted, PREDICTED_EFFECT)
        print(f"| {r['contrast']}{' (predicted)' if marked else ''} | {r['runs']} "
              f"| {r['estimate']:+.1f} [{r['low']:+.1f}, {r['high']:+.1f}] |")
    found = {r["contrast"]: r for r in table}
    print(f"\nrnd2rnd − bert2bert below 0 on pairs the reading never saw: "
          f"{'yes' if found[predicted]['high'] < 0 else 'no'}")
    if effects:
        print(f"the warm decoder's effect above 0 on them: {'yes' if found[PREDICTED_EFFECT]['low'] > 0 else 'no'}")


if __name__ == "__main__":
    main()
