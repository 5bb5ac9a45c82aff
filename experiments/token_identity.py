"""Can a token's identity be read back from the encoder's output for it? The fusion rows' encoders before and
after training, on the tables' test pairs (experiments/RECIPE.md, stage 6).

At the searched recipe the rows with a warm encoder lose rare source words that the rows with a random one copy
(`bertgen.experiments.subgroups.kept_words_lost`). One reading: a pretrained encoder's top layer mixes each token
with its context, so cross-attention, trained from scratch, finds a related word where it needs the word itself.
This script measures that side directly with a linear probe (`bertgen.evaluation.token_identity`): fitted on the
encoder outputs of the first 500 test sources, it reads the token ids back on the other 500, split by whether the
token belongs to a word that WordPiece cuts into one piece or several (of the tokens whose id the first half holds,
since no probe can name an id it was never fitted on). It runs each landed 100% run's encoder (the paper rows' and
the beyond-paper rows') at its start (MiniLM's pretrained encoder, or a random one) and with its kept weights
($BERTGEN_HOME/experiments/fusion/<run>/best.safetensors), and writes results/token_identity.csv, with how far the
kept encoder's weights moved from its start (`encoder_moved`: the relative L2 distance over all its parameters, %).
Runs already in that file keep their rows, so only the runs landed since are probed (their weights need to be on
this machine), and those named by --again are probed again (runs probed before 2026-12-07 have no `encoder_moved`).

    python experiments/token_identity.py [--results-dir experiments/results] [--again RUN_ID...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from bertgen.evaluation import token_identity, weights_moved
from bertgen.experiments.run import build_model, kept_model, prepare_data
from bertgen.experiments.subgroups import comparable_runs

TASK = "fusion"
ROWS = ["rnd2rnd", "bert2rnd", "rnd2bert", "bert2bert", "bertshare", "bert2rnd-warm1e-4", "bert2bert-xattn"]


def word_sizes(pieces: list[str]) -> list[str]:
    """Per WordPiece token of one source: "special", or whether its word is "1 piece" or "2+ pieces"."""
    sizes = []
    for i, piece in enumerate(pieces):
        continued = i + 1 < len(pieces) and pieces[i + 1].startswith("##")
        if piece.startswith("[") and piece.endswith("]"):
            sizes.append("special")
        else:
            sizes.append("2+ pieces" if piece.startswith("##") or continued else "1 piece")
    return sizes


def read_back(model, test, tokenizer, groups: list[str]) -> dict[str, float]:
    """The share (%) of the second half's tokens the probe reads back, per group of `groups` (one label a token;
    "special" and "unfitted" are left out)."""
    ids, read = token_identity(model.eval(), test, tokenizer.pad_token_id)
    if len(groups) != len(ids):
        raise RuntimeError(f"the probe returned {len(ids)} tokens for {len(groups)} source tokens")
    frame = pd.DataFrame({"group": groups, "read": read.numpy()})
    frame = frame[~frame["group"].isin(["special", "unfitted"])]
    return frame.groupby("group")["read"].mean().mul(100).round(2).to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=Path("experiments/results"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--again", nargs="+", default=[], metavar="RUN_ID",
                        help="probe these runs again though the file has them (their weights need to be here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        runs = comparable_runs(TASK, args.results_dir, ROWS, required=[])
    except ValueError as error:
        raise SystemExit(str(error)) from None
    output = args.results_dir / "token_identity.csv"
    probed = pd.read_csv(output) if output.is_file() else pd.DataFrame(columns=["run_id"])
    probed = probed[probed["run_id"].isin(runs["run_id"])]  # a run no longer in the results leaves the file
    if unknown := sorted(set(args.again) - set(runs["run_id"])):
        raise SystemExit(f"--again {' '.join(unknown)}: not a landed 100% run of {', '.join(ROWS)} in "
                         f"{args.results_dir / TASK}.csv")
    probed = probed[~probed["run_id"].isin(args.again)]
    records = []
    for run in runs.itertuples():
        if run.run_id in set(probed["run_id"]):
            continue
        try:
            config, checkpoint, kept = kept_model(args.results_dir, TASK, run.run_id)
        except FileNotFoundError as error:
            raise SystemExit(str(error)) from None
        test = prepare_data(config, checkpoint.tokenizer, progress=False)["test"]
        # no probe can name an id it was never fitted on: those tokens are "unfitted", left out of the shares
        fitted = {token for source in test.select(range(len(test) // 2))["input_ids"] for token in source}
        groups = [size if token in fitted else "unfitted"
                  for ids in test.select(range(len(test) // 2, len(test)))["input_ids"]
                  for token, size in zip(ids, word_sizes(checkpoint.tokenizer.convert_ids_to_tokens(ids)))]
        start_model, _ = build_model(config, checkpoint)  # the run's start: build_model seeds by the config's seed
        start = read_back(start_model, test, checkpoint.tokenizer, groups)
        best = read_back(kept, test, checkpoint.tokenizer, groups)
        encoder_moved = round(weights_moved(dict(start_model.encoder.named_parameters()),
                                            dict(kept.encoder.named_parameters())), 2)
        counts = pd.Series(groups).value_counts()
        for weights_name, shares in (("start", start), ("kept", best)):
            records.append({"run_id": run.run_id, "row": run.row, "seed": run.seed, "weights": weights_name,
                            "read_one_piece": shares["1 piece"], "read_several_pieces": shares["2+ pieces"],
                            "tokens_one_piece": counts["1 piece"], "tokens_several_pieces": counts["2+ pieces"],
                            "encoder_moved": 0.0 if weights_name == "start" else encoder_moved})
        print(run.run_id, "start", start, "kept", best, f"encoder moved {encoder_moved}%", flush=True)
    table = pd.concat([probed, pd.DataFrame(records)], ignore_index=True) if records else probed
    landed = {run_id: i for i, run_id in enumerate(runs["run_id"])}  # the results' order, a run probed again too
    table = table.sort_values("run_id", key=lambda ids: ids.map(landed), kind="stable")
    table.to_csv(output, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
