"""What a loaded task holds: sizes per split (and per rule, per source corpus), length percentiles, how many
examples fit a model's length limits, a few examples."""
from __future__ import annotations

import datasets
import numpy as np
import pandas as pd

PERCENTILES = (50, 90, 99, 100)
TOKEN_LIMITS = (32, 48)  # the workbench's source/target lengths


def sizes(dsd: datasets.DatasetDict, by: str | None = None) -> pd.DataFrame:
    """Examples per split; with `by` (e.g. "rule"), one row per value of that column and a total row."""
    if by is None:
        return pd.DataFrame({split: [len(ds)] for split, ds in dsd.items()}, index=["examples"]).assign(
            total=lambda df: df.sum(axis=1))
    counts = {split: pd.Series(ds[by]).value_counts() for split, ds in dsd.items()}
    table = pd.DataFrame(counts).fillna(0).astype(int).sort_index()
    table.loc["total"] = table.sum()
    return table.assign(total=table.sum(axis=1))


def lengths(ds: datasets.Dataset, column: str) -> np.ndarray:
    """Whitespace words per example: a tokenizer-free length that is the same for every model."""
    return np.array([len(text.split()) for text in ds[column]])


def length_percentiles(dsd: datasets.DatasetDict, percentiles=PERCENTILES) -> pd.DataFrame:
    rows = {}
    for split, ds in dsd.items():
        for column in ("source", "target"):
            if len(ds):
                rows[(split, column)] = np.percentile(lengths(ds, column), percentiles).round().astype(int)
    return pd.DataFrame(rows, index=[f"p{p}" for p in percentiles]).T.rename_axis(["split", "side"])


def within_tokens(dsd: datasets.DatasetDict, tokenizer, limits=TOKEN_LIMITS) -> pd.DataFrame:
    """Examples per split whose source and target are both at most N tokens of `tokenizer` (special tokens
    not counted), for each N in `limits`: how much of a task a model with that length limit can use."""
    table = {}
    for split, ds in dsd.items():
        longest = np.zeros(len(ds), dtype=int)
        for column in ("source", "target"):
            if len(ds):
                ids = tokenizer(list(ds[column]), add_special_tokens=False)["input_ids"]
                longest = np.maximum(longest, [len(x) for x in ids])
        table[split] = [int((longest <= n).sum()) for n in limits]
    frame = pd.DataFrame(table, index=[f"both sides <= {n} tokens" for n in limits])
    return frame.assign(total=frame.sum(axis=1))


def report(name: str, dsd: datasets.DatasetDict, examples: int = 3, tokenizer=None) -> str:
    """The text `bertgen data stats` prints; with a tokenizer, also how many examples fit TOKEN_LIMITS."""
    parts = [f"# {name}", "", "examples per split:", sizes(dsd).to_string()]
    first = next(iter(dsd.values()))
    for column, what in (("rule", "rule"), ("corpus", "source corpus")):
        if column in first.column_names:
            parts += ["", f"examples per {what}:", sizes(dsd, column).to_string()]
    if tokenizer is not None:
        parts += ["", "examples that fit (tokens without special tokens):", within_tokens(dsd, tokenizer).to_string()]
    parts += ["", "length in words (percentiles):", length_percentiles(dsd).to_string(), "", "examples:"]
    for row in first.select(range(min(examples, len(first)))):
        extra = f" [{row['rule']}]" if "rule" in row else ""
        parts += [f"- source{extra}: {row['source']}", f"  target: {row['target']}"]
    return "\n".join(parts)
