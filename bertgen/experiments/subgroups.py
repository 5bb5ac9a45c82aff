"""Where a row's lead comes from: the fusion test pairs split by what their rule asks of the model, each part
scored with the paired bootstrap of the tables (statistics.py), from the runs' saved predictions.

Every fusion rule (bertgen/data/fusion/rules.py) joins two sentences. Most keep every word and add a connective
("X. Y." -> "X, but y."); the others also rewrite a mention the two sentences repeat: a pronoun for the repeated
name (anaphora, cataphora), a relative pronoun, an apposition, or a subject dropped in a verb-phrase coordination.
The split is fixed by the rules, not by the scores; it is an exploratory reading of a table, not one of the paper's
claims, so its intervals are not corrected for multiplicity.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from bertgen.experiments.frames import RESULTS, load_results, mark_collapsed, platform
from bertgen.experiments.statistics import Interval, example_statistics, paired_bootstrap

# the rules whose target rewrites a mention the two sentences repeat (rules.py's table, the *_ANAPHORA rules
# and the four that replace or drop the repeated noun phrase)
MENTION_RULES = frozenset({"PAIR_CONN_ANAPHORA", "PAIR_ANAPHORA", "SINGLE_S_COORD_ANAPHORA",
                           "SINGLE_CONN_INNER_ANAPHORA", "SINGLE_CATAPHORA", "SINGLE_VP_COORD", "SINGLE_RELATIVE",
                           "SINGLE_APPOSITION"})
REWRITES, KEEPS = "rewrites a repeated mention", "keeps the words, adds a connective"


def rule_group(rule: str) -> str:
    return REWRITES if rule in MENTION_RULES else KEEPS


def _predictions(results: Path, task: str, runs: pd.DataFrame) -> dict[str, list[pd.DataFrame]]:
    """Each row's saved test predictions, one frame per run."""
    out: dict[str, list[pd.DataFrame]] = {}
    for run in runs.itertuples():
        path = results / task / "runs" / run.run_id / "predictions.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: run {run.run_id} has no saved test predictions to split")
        out.setdefault(run.row, []).append(pd.read_csv(path, keep_default_na=False))
    return out


def group_contrasts(pairs: list[tuple[str, str]], task: str = "fusion", results_dir: str | os.PathLike | None = None,
                    fraction: float = 1.0, metric: str = "sari") -> pd.DataFrame:
    """Per rule group (and all pairs): each row against copying the input, and each (a, b) of `pairs` as a − b,
    over the runs of one platform that read their input; columns group, examples, contrast, runs, estimate,
    low, high (the 95% paired bootstrap interval over that group's test pairs)."""
    results = Path(results_dir or RESULTS)
    frame = mark_collapsed(load_results(task, results))
    frame = frame[(frame["fraction"] == fraction) & ~frame["collapsed"]].assign(platform=platform)
    if frame.empty:
        raise ValueError(f"{results / task}.csv: no run at {fraction:.0%} of the data that reads its input")
    if frame["platform"].nunique() > 1:  # the tables' rule: runs of different platforms are never pooled
        frame = frame[frame["platform"] == frame["platform"].mode()[0]]
    predictions = _predictions(results, task, frame)
    rows = [row for pair in pairs for row in pair]
    if missing := sorted(set(rows) - set(predictions)):
        raise ValueError(f"{results / task}.csv: no run of {', '.join(missing)} at {fraction:.0%} to compare "
                         f"(rows with runs: {', '.join(sorted(predictions))})")
    first = next(iter(predictions.values()))[0]
    if any(len(p) != len(first) or not p["source"].equals(first["source"]) for ps in predictions.values() for p in ps):
        raise ValueError(f"{results / task}: the runs were scored on different test pairs; split runs of one test set")
    groups = first["rule"].map(rule_group)
    records = []
    for group, mask in [("all pairs", groups.notna()), *((g, groups == g) for g in (KEEPS, REWRITES))]:
        picked = first[mask.to_numpy()]

        def stats(p: pd.DataFrame, source: bool = False):
            p = p[mask.to_numpy()]
            return example_statistics(metric, p["source"], p["source"] if source else p["prediction"], p["target"])

        scored = {row: [stats(p) for p in predictions[row]] for row in dict.fromkeys(rows)}
        copy = [stats(first, source=True)]
        contrasts = [(f"{row} − copy", (1, scored[row]), (-1, copy)) for row in scored]
        contrasts += [(f"{a} − {b}", (1, scored[a]), (-1, scored[b])) for a, b in pairs]
        for name, *terms in contrasts:
            interval: Interval = paired_bootstrap(metric, terms)
            runs = "/".join(str(len(t[1])) for t in terms if t[1] is not copy)
            records.append({"group": group, "examples": len(picked), "contrast": name, "runs": runs,
                            "estimate": interval.estimate, "low": interval.low, "high": interval.high})
    return pd.DataFrame(records)
