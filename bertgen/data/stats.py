"""What a loaded task holds: sizes per split (and per rule), length percentiles, a few examples."""
from __future__ import annotations

import datasets
import numpy as np
import pandas as pd

PERCENTILES = (50, 90, 99, 100)


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


def report(name: str, dsd: datasets.DatasetDict, examples: int = 3) -> str:
    """The text `bertgen data stats` prints."""
    parts = [f"# {name}", "", "examples per split:", sizes(dsd).to_string()]
    first = next(iter(dsd.values()))
    if "rule" in first.column_names:
        parts += ["", "examples per rule:", sizes(dsd, "rule").to_string()]
    parts += ["", "length in words (percentiles):", length_percentiles(dsd).to_string(), "", "examples:"]
    for row in first.select(range(min(examples, len(first)))):
        extra = f" [{row['rule']}]" if "rule" in row else ""
        parts += [f"- source{extra}: {row['source']}", f"  target: {row['target']}"]
    return "\n".join(parts)
