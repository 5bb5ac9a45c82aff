"""The paper's three claims about warm-starting, judged on our runs with their seed spread.

Rothe et al. (2020) conclude that (1) a pretrained encoder matters most (bert2rnd beats rnd2bert), (2)
BERTShare matches bert2bert with far fewer parameters, and (3) warm-starting helps more with less data (the gap
between bert2bert and rnd2rnd widens from the 100% to the 10% column). A claim is decided only where the seed
spread separates the rows: two rows differ when their means are more than twice the standard error of the
difference apart (`separated`); with 3 seeds a row's std is itself uncertain, so the verdict says "cannot
tell" rather than guess.
"""
from __future__ import annotations

import math

import pandas as pd


def measured(r: pd.Series, metric: str) -> int:
    """How many of the row's seeds that read their input have a value of `metric` (a results file widened by a
    newer bertgen leaves older runs' new columns empty); summaries without the count fall back to `seeds`."""
    count = r.get(f"{metric}_n", r["seeds"])
    return 0 if pd.isna(count) else int(count)


def separated(a: pd.Series, b: pd.Series, metric: str) -> tuple[float, float, bool]:
    """(difference of means a - b, twice its standard error, whether the difference exceeds it)."""
    diff = a[f"{metric}_mean"] - b[f"{metric}_mean"]
    se = math.sqrt(sum((r[f"{metric}_std"] if not math.isnan(r[f"{metric}_std"]) else 0.0) ** 2 / max(1, measured(r, metric))
                       for r in (a, b)))
    return diff, 2 * se, abs(diff) > 2 * se and min(measured(a, metric), measured(b, metric)) >= 2


def _row(summary: pd.DataFrame, row: str, fraction: float, metric: str) -> pd.Series | None:
    """The row's summary, or None where fewer than 2 seeds that read their input measured `metric`: one value has
    no spread to judge by."""
    found = summary[(summary["row"] == row) & (summary["fraction"] == fraction)]
    return None if found.empty or measured(found.iloc[0], metric) < 2 else found.iloc[0]


def _missing(*rows: str) -> str:
    return f"cannot judge yet: needs the {', '.join(rows)} rows with 2+ seeds that read their input"


def verdicts(summary: pd.DataFrame, metric: str) -> list[str]:
    """One line per claim; `summary` has per (fraction, row): seeds, `<metric>_mean`, `<metric>_std`."""
    higher = metric != "loss"
    better = (lambda d: d > 0) if higher else (lambda d: d < 0)
    lines = []

    encoder, decoder = _row(summary, "bert2rnd", 1.0, metric), _row(summary, "rnd2bert", 1.0, metric)
    if encoder is None or decoder is None:
        lines.append(f"- **A pretrained encoder matters most** (bert2rnd > rnd2bert): {_missing('bert2rnd', 'rnd2bert')}.")
    else:
        diff, bound, sep = separated(encoder, decoder, metric)
        verdict = ("reproduced" if better(diff) else "contradicted") if sep else "cannot tell (within the seed spread)"
        lines.append(f"- **A pretrained encoder matters most** (bert2rnd > rnd2bert on {metric}): bert2rnd − rnd2bert "
                     f"= {diff:+.2f} (2 SE = {bound:.2f}): **{verdict}**.")

    share, full = _row(summary, "bertshare", 1.0, metric), _row(summary, "bert2bert", 1.0, metric)
    if share is None or full is None:
        lines.append(f"- **BERTShare matches bert2bert**: {_missing('bertshare', 'bert2bert')}.")
    else:
        diff, bound, sep = separated(share, full, metric)
        verdict = ("not reproduced: bertshare is worse" if not better(diff) else "bertshare is better") if sep \
            else "reproduced (no difference beyond the seed spread)"
        lines.append(f"- **BERTShare matches bert2bert** with about 60% of the parameters ({metric}): bertshare − "
                     f"bert2bert = {diff:+.2f} (2 SE = {bound:.2f}): **{verdict}**.")

    gaps = {}
    for fraction in (1.0, 0.1):
        warm, cold = _row(summary, "bert2bert", fraction, metric), _row(summary, "rnd2rnd", fraction, metric)
        if warm is not None and cold is not None:
            gaps[fraction] = separated(warm, cold, metric)
    if len(gaps) < 2:
        lines.append("- **Warm-starting helps more with less data**: cannot judge yet: needs bert2bert and rnd2rnd "
                     "at 100% and 10% with 2+ seeds that read their input.")
    else:
        (d_full, b_full, _), (d_low, b_low, _) = gaps[1.0], gaps[0.1]
        widening = (d_low - d_full) if higher else (d_full - d_low)
        bound = math.hypot(b_full, b_low)
        verdict = ("reproduced" if widening > 0 else "contradicted") if abs(widening) > bound \
            else "cannot tell (within the seed spread)"
        lines.append(f"- **Warm-starting helps more with less data** ({metric}): bert2bert − rnd2rnd is {d_full:+.2f} "
                     f"at 100% and {d_low:+.2f} at 10% (widening {widening:+.2f}, 2 SE = {bound:.2f}): **{verdict}**.")
    return lines
