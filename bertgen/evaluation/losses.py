"""Teacher-forced losses: the cross-entropy per label token of a model on a tokenized dataset, with each example's
own source or (for the source gap, bertgen.evaluation.diagnostics) another example's."""
from __future__ import annotations

import torch

from bertgen.data.collate import LABEL_PAD, Seq2SeqCollator
from bertgen.modeling.outputs import loss_of


@torch.no_grad()
def token_loss(model: torch.nn.Module, dataset, pad_token_id: int, batch_size: int = 32,
               source_shift: int = 0) -> float:
    """Teacher-forced cross-entropy per label token over a tokenized dataset (`input_ids`, `labels`; an
    `attention_mask` column is honoured). `source_shift=k` pairs each example's labels with the source of
    example i + k (cyclically): the loss a decoder gets from the wrong input, for the source gap (bertgen.evaluation.diagnostics)."""
    device = next(model.parameters()).device
    collate, total, count = Seq2SeqCollator(pad_token_id), 0.0, 0
    source_columns = [c for c in ("input_ids", "attention_mask") if c in dataset.column_names]
    sources = [dict(zip(source_columns, row)) for row in zip(*(dataset[c] for c in source_columns))]
    if source_shift:
        sources = sources[source_shift:] + sources[:source_shift]
    for start in range(0, len(dataset), batch_size):
        rows = dataset[start:start + batch_size]
        batch = collate([{**source, "labels": b} for source, b in zip(sources[start:start + batch_size],
                                                                       rows["labels"])])
        loss = loss_of(model(**{k: v.to(device) for k, v in batch.items()}))
        n = int((batch["labels"] != LABEL_PAD).sum())
        total, count = total + float(loss) * n, count + n
    return total / count
