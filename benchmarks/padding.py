"""How much of a training batch is padding, on the workbench's real tasks, as two samplers draw batches.

Random batches (a DataLoader with shuffle=True, transformers' Trainer without group_by_length) against bertgen's
Trainer, which batches examples of similar length (bertgen.data.LengthBucketSampler). The share counted is
what packed training skips (bertgen.modeling.packing): masked source positions and target positions after a
row's last label. It sizes the random-length batch of bench_training.py.

    python benchmarks/padding.py [--batch-size 16] [--batches 200] [--tasks brown-fusion bible-modern]

Needs the corpora under $BERTGEN_HOME/raw (`make demo` or `bertgen data fetch` puts them there).
"""
from __future__ import annotations

import argparse

import torch

from bertgen.data import LengthBucketSampler, Seq2SeqCollator, load_task, tokenize_task
from bertgen.modeling.packing import decoder_keep
from bertgen.tokenization import load_tokenizer


def padding_share(dataset, batches) -> tuple[float, float]:
    """(source, target) share of the padded grids that packing skips, over the given batches of indices."""
    collate = Seq2SeqCollator(pad_token_id=0)
    grid = {"source": 0, "target": 0}
    skipped = {"source": 0, "target": 0}
    for indices in batches:
        x = collate([dataset[i] for i in indices])
        grid["source"] += x["attention_mask"].numel()
        skipped["source"] += int((x["attention_mask"] == 0).sum())
        grid["target"] += x["labels"].numel()
        skipped["target"] += int((~decoder_keep(x["labels"])).sum())
    return skipped["source"] / grid["source"], skipped["target"] / grid["target"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=200, help="batches counted per task and sampler")
    parser.add_argument("--tasks", nargs="+", default=["brown-fusion", "bible-modern"])
    args = parser.parse_args()
    tokenizer = load_tokenizer("minilm-l6")
    print(f"Batches of {args.batch_size}, {args.batches} per task and sampler, train split, minilm-l6 tokenizer.\n")
    print("| task | sampler | source padding | target positions after the last label |")
    print("|---|---|---:|---:|")
    for task in args.tasks:
        train = tokenize_task(load_task(task, split="train"), tokenizer)["train"]
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).tolist()
        samplers = {
            "random batches": [order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)],
            "bertgen Trainer (length buckets)": list(LengthBucketSampler(train["length"], args.batch_size, seed=0)),
        }
        for name, batches in samplers.items():
            source, target = padding_share(train, batches[:args.batches])
            print(f"| {task} | {name} | {source:.1%} | {target:.1%} |")


if __name__ == "__main__":
    main()
