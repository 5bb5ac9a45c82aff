"""Teacher-forced losses: the cross-entropy per label token of a model on a tokenized dataset, with each example's
own source or (for the source gap, bertgen.evaluation.diagnostics) another example's."""
from __future__ import annotations

import torch

from bertgen.data.collate import LABEL_PAD, Seq2SeqCollator


@torch.no_grad()
def token_loss(model: torch.nn.Module, dataset, pad_token_id: int, batch_size: int = 32,
               source_shift: int = 0) -> float:
    """Teacher-forced cross-entropy per label token over a tokenized dataset (`input_ids`, `labels`).
    `source_shift=k` pairs each example's labels with the source of example i + k (cyclically): the loss a
    decoder gets from the wrong input, for bertgen.evaluation.diagnostics' source gap."""
    device = next(model.parameters()).device
    collate, total, count = Seq2SeqCollator(pad_token_id), 0.0, 0
    inputs = list(dataset["input_ids"])
    if source_shift:
        inputs = inputs[source_shift:] + inputs[:source_shift]
    for start in range(0, len(dataset), batch_size):
        rows = dataset[start:start + batch_size]
        sources = inputs[start:start + batch_size]
        batch = collate([{"input_ids": a, "labels": b} for a, b in zip(sources, rows["labels"])])
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        n = int((batch["labels"] != LABEL_PAD).sum())
        total, count = total + float(loss) * n, count + n
    return total / count
