"""Does beam search change a verdict the tables reach with greedy decoding? Runs' test pairs decoded again from their
kept weights with beam search, beside the greedy outputs their rows were scored with (experiments/RECIPE.md, stage 6).

The default is 4 beams and a length penalty of 0.6 in transformers' form (a finished beam's log-probability over
length ** 0.6); the paper's WMT14 decoding is 4 beams and 0.6 in GNMT's form, ((5 + length) / 6) ** 0.6
(`--length-penalty-style gnmt`); it does not state DiscoFuse's. Every run named must have been scored greedily and
have its kept weights on this machine (or beam outputs already written); before a run is decoded, its first 32 test
pairs are decoded greedily again and must reproduce its saved predictions. The beam outputs are written to
results/<task>/beam<N>-<style>-lp<penalty>/<run_id>.csv, so the figures recompute from the repository once the kept
weights are gone; a run with a file there is not decoded again. Prints, per run, the SARI of both decodings, beam −
greedy, and how many outputs repeat a word trigram (the targets' share beside it); per `--contrast A B`, A − B under
each decoding. Intervals are 95% paired bootstraps over the test pairs with the seeds fixed: an exploration, not a
test across seeds.

    python experiments/beam_search.py RUN_ID... [--contrast RUN_A RUN_B]... [--beams 4] [--length-penalty 0.6]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bertgen.evaluation import evaluate
from bertgen.experiments.config import PROJECT
from bertgen.experiments.run import evaluate_kwargs, kept_model, prepare_data, work_dir
from bertgen.experiments.statistics import corpus_score, example_statistics, paired_bootstrap
from bertgen.training.trainer import BEST

CHECKED = 32  # test pairs decoded greedily again to check each run's weights


def repeats_trigram(text: str) -> bool:
    words = text.split()
    trigrams = list(zip(words, words[1:], words[2:]))
    return len(trigrams) != len(set(trigrams))


def beam_folder(results: Path, task: str, beams: int, style: str, length_penalty: float) -> Path:
    return results / task / f"beam{beams}-{style}-lp{length_penalty:g}"


def check_runs(results: Path, task: str, runs: list[str], folder: Path) -> None:
    """Before anything is decoded: every run has greedy saved predictions, and beam outputs or its kept weights."""
    for run_id in runs:
        run_dir = results / task / "runs" / run_id
        if not (run_dir / "predictions.csv").is_file():
            raise SystemExit(f"{run_dir / 'predictions.csv'}: no saved test predictions; is {run_id!r} a run id of "
                             f"{results / (task + '.csv')}?")
        if json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("num_beams", 1) != 1:
            raise SystemExit(f"{run_id}: its row was scored with beam search; this compares beams with greedy rows")
        if not (folder / f"{run_id}.csv").is_file() and not (work_dir() / task / run_id / BEST).is_file():
            raise SystemExit(f"{work_dir() / task / run_id / BEST}: run {run_id}'s kept weights are not on this "
                             "machine (they stay on the machine that trained it), and it has no beam outputs yet")


def beam_outputs(results: Path, task: str, run_id: str, beams: int, style: str, length_penalty: float) -> pd.DataFrame:
    """The run's test outputs with beam search, read from its beam folder or decoded and written there."""
    path = beam_folder(results, task, beams, style, length_penalty) / f"{run_id}.csv"
    if path.is_file():
        return pd.read_csv(path, keep_default_na=False)
    config, checkpoint, model = kept_model(results, task, run_id)
    tokenizer = checkpoint.tokenizer
    test = prepare_data(config, tokenizer, progress=False)["test"].remove_columns(["input_ids", "labels", "length"])
    greedy = evaluate_kwargs(config, tokenizer)
    first = test.select(range(min(CHECKED, len(test))))
    checked = evaluate(model, tokenizer, first, task, progress=False, **greedy)[1]["prediction"]
    saved = pd.read_csv(results / task / "runs" / run_id / "predictions.csv", keep_default_na=False)["prediction"]
    if (same := int((checked.to_numpy() == saved[:len(first)].to_numpy()).sum())) < len(first):
        raise SystemExit(f"{run_id}: its kept weights reproduce {same} of {len(first)} saved test predictions; they "
                         "are not the weights its row was scored with")
    beam = greedy | {"num_beams": beams, "length_penalty": length_penalty, "length_penalty_style": style}
    frame = evaluate(model, tokenizer, test, task, progress=False, **beam)[1][["source", "target", "prediction"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run ids of results/<task>.csv whose kept weights are on this machine")
    parser.add_argument("--contrast", nargs=2, action="append", default=[], metavar=("RUN_A", "RUN_B"))
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--length-penalty", type=float, default=0.6)
    parser.add_argument("--length-penalty-style", choices=("hf", "gnmt"), default="hf")
    parser.add_argument("--task", default="fusion")
    parser.add_argument("--results-dir", type=Path, default=PROJECT / "experiments" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if unknown := {run for pair in args.contrast for run in pair} - set(args.runs):
        parser.error(f"--contrast names runs not listed: {sorted(unknown)}")
    style, penalty = args.length_penalty_style, args.length_penalty
    check_runs(args.results_dir, args.task, args.runs, beam_folder(args.results_dir, args.task, args.beams, style,
                                                                   penalty))
    scored = {}  # run -> {decoding: per-example SARI statistics}
    print(f"| run | greedy SARI | beam {args.beams} SARI | beam − greedy | repeats a trigram: greedy, beam, targets |")
    print("|---|---|---|---|---|")
    for run in args.runs:
        greedy = pd.read_csv(args.results_dir / args.task / "runs" / run / "predictions.csv", keep_default_na=False)
        beam = beam_outputs(args.results_dir, args.task, run, args.beams, style, penalty)
        if list(beam["source"]) != list(greedy["source"]):
            raise SystemExit(f"{run}: the beam outputs are for other test pairs than its saved predictions")
        scored[run] = {name: example_statistics("sari", f["source"], f["prediction"], f["target"])
                       for name, f in (("greedy", greedy), ("beam", beam))}
        sari = {name: float(corpus_score("sari", stats.sum(0), np.array(len(stats))))
                for name, stats in scored[run].items()}
        gain = paired_bootstrap("sari", [(1.0, [scored[run]["beam"]]), (-1.0, [scored[run]["greedy"]])])
        shares = [f"{100 * frame[column].map(repeats_trigram).mean():.1f}%"
                  for frame, column in ((greedy, "prediction"), (beam, "prediction"), (greedy, "target"))]
        print(f"| {run} | {sari['greedy']:.1f} | {sari['beam']:.1f} | {gain} | {', '.join(shares)} |")
    for a, b in args.contrast:
        by_decoding = {name: paired_bootstrap("sari", [(1.0, [scored[a][name]]), (-1.0, [scored[b][name]])])
                       for name in ("greedy", "beam")}
        print(f"\n{a} − {b}: greedy {by_decoding['greedy']}, beam {args.beams} {by_decoding['beam']}")


if __name__ == "__main__":
    main()
