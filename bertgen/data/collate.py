"""Collation for training: tokenize each side to its own max length, pad per batch, batch by length.

Conventions (the paper's, and the released bert2bert checkpoints'): inputs carry no special tokens;
labels are the target's ids followed by the end token ([SEP] for BERT) and without the start token
([CLS]), which the model supplies itself as `decoder_start_token_id` when it shifts labels right.
Labels are padded with -100, the index the loss ignores.

The tokenizer is any callable with the Hugging Face calling convention:
`tok(texts, add_special_tokens=..., padding=..., truncation=True, max_length=..., return_tensors=...)`
returning `input_ids` (and `attention_mask`), with a `pad_token_id` attribute.

Shapes: B batch, S source length, T target length (both the longest in the batch: dynamic padding).
"""
from __future__ import annotations

from collections.abc import Sequence

import datasets
import torch
from torch.utils.data import Sampler

from bertgen.tokenization.pair import target_tokenizer

LABEL_PAD = -100


def encode_sources(tokenizer, texts: Sequence[str], max_length: int, special_tokens: bool = False,
                   return_tensors: str | None = "pt"):
    """Tokenize inputs the way training does (used again at evaluation time, so both always agree)."""
    padding = return_tensors is not None
    return tokenizer(list(texts), add_special_tokens=special_tokens, padding=padding, truncation=True,
                     max_length=max_length, return_tensors=return_tensors)


def end_token_id(tokenizer) -> int:
    """The id that ends a target: `eos_token_id` (RoBERTa, SentencePiece), else `sep_token_id` (BERT)."""
    for attr in ("eos_token_id", "sep_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return value
    raise ValueError(f"{type(tokenizer).__name__} has neither eos_token_id nor sep_token_id: "
                     "targets need an end token for the decoder to learn to stop")


def encode_targets(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Label ids: the text's tokens then the end token, at most `max_length` in all, no start token."""
    tokenizer = target_tokenizer(tokenizer)  # with two vocabularies, the labels are the decoder's ids
    end = end_token_id(tokenizer)
    body = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length - 1)["input_ids"]
    return [list(ids) + [end] for ids in body]


def tokenize_task(dsd: datasets.DatasetDict, tokenizer, max_source_length: int = 128, max_target_length: int = 128,
                  source_special_tokens: bool = False, num_proc: int | None = None) -> datasets.DatasetDict:
    """Add `input_ids`, `labels` and `length` (the longer side, for bucketing) to every split.

    Runs on `datasets.map`, so the result is cached next to the task's arrow files and a second call with
    the same tokenizer and lengths is read back instead of recomputed.
    """
    def encode(batch):
        inputs = encode_sources(tokenizer, batch["source"], max_source_length, source_special_tokens, None)
        labels = encode_targets(tokenizer, batch["target"], max_target_length)
        ids = [list(x) for x in inputs["input_ids"]]
        return {"input_ids": ids, "labels": labels, "length": [max(len(a), len(b)) for a, b in zip(ids, labels)]}

    return dsd.map(encode, batched=True, num_proc=num_proc, desc="tokenizing")


# the columns a tokenized dataset may carry besides input_ids and labels (the collator passes them on)
MASK_COLUMNS = ("attention_mask", "decoder_attention_mask")
DECODER_INPUTS = "decoder_input_ids"


def model_columns(dataset) -> list[str]:
    """The columns the Trainer feeds the model: input_ids and labels, and the masks and decoder inputs the
    dataset has (as transformers' Trainer passes every column the model's forward takes)."""
    optional = [c for c in (*MASK_COLUMNS, DECODER_INPUTS) if c in dataset.column_names]
    return ["input_ids", "labels", *optional]


class Seq2SeqCollator:
    """A list of tokenized examples -> padded tensors input_ids [B, S], attention_mask [B, S], labels [B, T].

    An example's own `attention_mask` is kept (a dataset padded to max_length, as transformers' recipes pad
    it, marks its [PAD] positions 0), else it is 1 over the example's ids. `decoder_attention_mask` and
    `decoder_input_ids`, when every example has them, are padded to T and passed on too."""

    def __init__(self, pad_token_id: int):
        if pad_token_id is None:
            raise ValueError("the tokenizer has no pad_token_id; set one before collating")
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        B = len(features)
        S = max(len(f["input_ids"]) for f in features)
        T = max(len(f["labels"]) for f in features)
        batch = {"input_ids": torch.full((B, S), self.pad_token_id, dtype=torch.long),
                 "attention_mask": torch.zeros((B, S), dtype=torch.long),
                 "labels": torch.full((B, T), LABEL_PAD, dtype=torch.long)}
        optional = [name for name in (*MASK_COLUMNS[1:], DECODER_INPUTS) if all(name in f for f in features)]
        for name in optional:
            T = max(T, *(len(f[name]) for f in features))
            fill = self.pad_token_id if name == DECODER_INPUTS else 0
            batch[name] = torch.full((B, T), fill, dtype=torch.long)
        if T > batch["labels"].shape[1]:  # decoder inputs longer than the labels: labels padded to match
            batch["labels"] = torch.full((B, T), LABEL_PAD, dtype=torch.long)
        for i, f in enumerate(features):
            n, m = len(f["input_ids"]), len(f["labels"])
            batch["input_ids"][i, :n] = torch.as_tensor(f["input_ids"])
            mask = f.get("attention_mask")
            batch["attention_mask"][i, :n] = 1 if mask is None else torch.as_tensor(mask)
            batch["labels"][i, :m] = torch.as_tensor(f["labels"])
            for name in optional:
                batch[name][i, :len(f[name])] = torch.as_tensor(f[name])
        return batch


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of examples of similar length, so little of each batch is padding.

    Each epoch: shuffle all indices, cut them into pools of `pool_batches` batches, sort each pool by
    length, cut it into batches, and shuffle the order of the batches. Randomness comes from `seed` and
    the epoch (`set_epoch`), so a run is reproducible and every epoch differs.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                 pool_batches: int = 50, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.lengths = torch.as_tensor(list(lengths))
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.pool = batch_size * pool_batches
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        n = len(self.lengths)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        batches = []
        for start in range(0, n, self.pool):
            pool = order[start:start + self.pool]
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches += [pool[i:i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        return batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
