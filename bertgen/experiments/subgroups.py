"""Where a row's lead comes from: the fusion test pairs split by what their rule asks of the model, each part
scored with the paired bootstrap of the tables (statistics.py), from the runs' saved predictions.

Every fusion rule (bertgen/data/fusion/rules.py) joins two sentences. Most keep every word and add a connective
("X. Y." -> "X, but y."); the others also rewrite a mention the two sentences repeat: a pronoun for the repeated
name (anaphora, cataphora), a relative pronoun, an apposition, or a subject dropped in a verb-phrase coordination.
Which rule is which follows from the rules' definitions, but the split itself was chosen after looking at per-rule
scores: an exploratory reading of a table, not one of the paper's claims, so its intervals are not corrected for
that choice or for multiplicity.

The paper's four 100% schemes also form a 2x2 design, the encoder random or warm and the decoder random or warm,
so their scores split into the effect of each warm side averaged over the other and their interaction
(`FACTORIAL`); those contrasts are fixed by the design, not chosen after looking.

`kept_words_lost` splits the other way, by word: of the source words a target keeps, how many an output leaves out
or replaces (`lost_words`), by how many tokenizer pieces the word takes (a rough gauge of how rare it is).
"""
from __future__ import annotations

import os
import string
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bertgen.experiments.frames import RESULTS, load_results, mark_collapsed, platform
from bertgen.experiments.statistics import example_statistics, paired_bootstrap

# rules.py's table: the rules whose target only adds a connective, and those that also replace or drop a
# mention the two sentences repeat (every *_ANAPHORA rule, cataphora, relative clause, apposition, VP coordination)
CONNECTIVE_RULES = frozenset({"PAIR_CONN", "SINGLE_S_COORD", "SINGLE_CONN_INNER", "SINGLE_CONN_START"})
MENTION_RULES = frozenset({"PAIR_CONN_ANAPHORA", "PAIR_ANAPHORA", "SINGLE_S_COORD_ANAPHORA",
                           "SINGLE_CONN_INNER_ANAPHORA", "SINGLE_CATAPHORA", "SINGLE_VP_COORD", "SINGLE_RELATIVE",
                           "SINGLE_APPOSITION"})
KEEPS, REWRITES = "keeps the words, adds a connective", "rewrites a repeated mention"

# The 2x2 design of rnd2rnd, bert2rnd, rnd2bert and bert2bert, as weights on the rows' scores: each warm side's
# main effect, ½[(warm with random) + (warm with warm)] − ½[(random with random) + (random with warm)], and the
# interaction, what warm-starting both sides adds beyond the sum of warm-starting each alone.
FACTORIAL = {
    "warm encoder (main effect)": {"bert2rnd": 0.5, "bert2bert": 0.5, "rnd2rnd": -0.5, "rnd2bert": -0.5},
    "warm decoder (main effect)": {"rnd2bert": 0.5, "bert2bert": 0.5, "rnd2rnd": -0.5, "bert2rnd": -0.5},
    "interaction": {"bert2bert": 1.0, "rnd2rnd": 1.0, "bert2rnd": -1.0, "rnd2bert": -1.0},
}


def rule_group(rule: str) -> str:
    if rule in CONNECTIVE_RULES:
        return KEEPS
    if rule in MENTION_RULES:
        return REWRITES
    raise ValueError(f"fusion rule {rule!r} is in neither group; add it to CONNECTIVE_RULES or MENTION_RULES "
                     "in bertgen/experiments/subgroups.py")


def _predictions(results: Path, task: str, runs: pd.DataFrame) -> dict[str, list[pd.DataFrame]]:
    """Each row's saved test predictions, one frame per run."""
    out: dict[str, list[pd.DataFrame]] = {}
    for run in runs.itertuples():
        path = results / task / "runs" / run.run_id / "predictions.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: run {run.run_id} has no saved test predictions to split")
        out.setdefault(run.row, []).append(pd.read_csv(path, keep_default_na=False))
    return out


def _statistics(metric: str, frame: pd.DataFrame, mask: np.ndarray, copy: bool = False) -> np.ndarray:
    """Per-example statistics of the masked pairs: the run's predictions, or copying the source."""
    frame = frame[mask]
    return example_statistics(metric, frame["source"], frame["source" if copy else "prediction"], frame["target"])


def comparable_runs(task: str, results: Path, rows: list[str], fraction: float = 1.0,
                    required: list[str] | None = None) -> pd.DataFrame:
    """The runs of `rows` at `fraction` that read their input, all from one platform (the tables' rule: never
    pooled across platforms); raises ValueError if a row of `required` (default: every row) has none."""
    frame = mark_collapsed(load_results(task, results))
    frame = frame[(frame["fraction"] == fraction) & frame["row"].isin(rows) & ~frame["collapsed"]]
    if missing := [row for row in (rows if required is None else required) if row not in set(frame["row"])]:
        raise ValueError(f"{results / task}.csv: no run of {', '.join(missing)} at {fraction:.0%} that reads its "
                         "input")
    if (platforms := platform(frame).unique()).size > 1:
        raise ValueError(f"{results / task}.csv: the rows' runs come from {', '.join(platforms)}; compare runs of "
                         "one platform (a results directory per platform)")
    return frame


def contrasts(metric: str, scored: dict[str, list[np.ndarray]], copy: np.ndarray,
              named: dict[str, dict[str, float]]) -> list[dict]:
    """Each scored row against copying the input, then each named contrast (weights on the rows' mean scores,
    {a: 1, b: -1} for a − b), from per-example statistics (one array a run): contrast, runs (per row, in the
    weights' order), estimate, low, high (the 95% paired bootstrap)."""
    terms = [(f"{row} − copy", str(len(scored[row])), [(1.0, scored[row]), (-1.0, [copy])]) for row in scored]
    terms += [(name, "/".join(str(len(scored[row])) for row in weights),
               [(weight, scored[row]) for row, weight in weights.items()]) for name, weights in named.items()]
    records = []
    for name, runs, sides in terms:
        interval = paired_bootstrap(metric, sides)
        records.append({"contrast": name, "runs": runs, "estimate": interval.estimate, "low": interval.low,
                        "high": interval.high})
    return records


def difference(a: str, b: str) -> tuple[str, dict[str, float]]:
    """The contrast a − b, named, as `contrasts` takes it."""
    return f"{a} − {b}", {a: 1.0, b: -1.0}


def group_contrasts(pairs: list[tuple[str, str]], task: str = "fusion", results_dir: str | os.PathLike | None = None,
                    fraction: float = 1.0, metric: str = "sari",
                    effects: dict[str, dict[str, float]] | None = None) -> pd.DataFrame:
    """Per rule group (and all pairs): each row named against copying the input, each (a, b) of `pairs` as a − b,
    then each of `effects` (weights on the rows' scores, e.g. `FACTORIAL`), over the runs that read their input;
    columns group, examples, contrast, runs (per row), estimate, low, high (the 95% paired bootstrap interval over
    that group's test pairs)."""
    results = Path(results_dir or RESULTS)
    named = dict(difference(a, b) for a, b in pairs) | (effects or {})
    rows = list(dict.fromkeys(row for weights in named.values() for row in weights))
    predictions = _predictions(results, task, comparable_runs(task, results, rows, fraction))
    first = predictions[rows[0]][0]
    if any(len(p) != len(first) or not p["source"].equals(first["source"]) for ps in predictions.values() for p in ps):
        raise ValueError(f"{results / task}: the runs were scored on different test pairs; split runs of one test set")
    groups = first["rule"].map(rule_group).to_numpy()
    records = []
    for group, mask in [("all pairs", np.ones(len(first), dtype=bool)), (KEEPS, groups == KEEPS),
                        (REWRITES, groups == REWRITES)]:
        scored = {row: [_statistics(metric, p, mask) for p in predictions[row]] for row in rows}
        records += [{"group": group, "examples": int(mask.sum())} | record
                    for record in contrasts(metric, scored, _statistics(metric, first, mask, copy=True), named)]
    return pd.DataFrame(records)


def _words(text: str) -> Counter:
    """The text's whitespace-split words without the punctuation attached to them (punctuation alone is no word)."""
    return Counter(word for token in text.split() if (word := token.strip(string.punctuation)))


def _kept(source: str, target: str) -> Counter:
    """The source's words that the target keeps, with their counts."""
    return _words(source) & _words(target)


def lost_words(source: str, target: str, prediction: str) -> Counter:
    """The source's words that the target keeps and the prediction leaves out or replaces (punctuation aside, so a
    changed mark at the join, "horses." for "horses,", loses nothing)."""
    return _kept(source, target) - _words(prediction)


def kept_words_lost(frame: pd.DataFrame, pieces: Callable[[str], int], most: int = 3) -> pd.DataFrame:
    """Of the source words each target keeps (`lost_words`' words, with their counts), how many the prediction
    leaves out, by the word's number of tokenizer pieces (`most` counts `most` or more); columns pieces, kept (the
    words the targets keep), lost, lost_percent."""
    kept, lost = Counter(), Counter()
    for source, target, prediction in zip(frame["source"], frame["target"], frame["prediction"]):
        should = _kept(source, target)
        gone = should - _words(prediction)  # lost_words, without finding the kept words twice
        for word, count in should.items():
            size = min(max(pieces(word), 1), most)
            kept[size] += count
            lost[size] += gone[word]
    sizes = sorted(kept)
    return pd.DataFrame({"pieces": [f"{size}+" if size == most else str(size) for size in sizes],
                         "kept": [kept[size] for size in sizes], "lost": [lost[size] for size in sizes],
                         "lost_percent": [100 * lost[size] / kept[size] for size in sizes]})
