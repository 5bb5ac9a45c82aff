"""The paper's claims about warm-starting and the orderings of its table, judged with tests fitted to the sample
size (bertgen/experiments/statistics.py).

Rothe et al. (2020) conclude that (1) a pretrained encoder matters most (bert2rnd beats rnd2bert), (2) BERTShare
matches bert2bert with far fewer parameters, and (3) warm-starting helps more with less data (the gap between
bert2bert and rnd2rnd widens from the 100% to the 10% column). Each becomes one test across seeds:
- "a beats b": Welch's t on the seeds' scores; **reproduced** when, after Holm's correction over the table's
  claims, the difference is significant in the paper's direction (and, where the test predictions give one, the
  paired bootstrap interval over test examples excludes 0 on that side); **contradicted** when the same holds
  in the other direction; otherwise **cannot tell**, with the seeds per row (or test examples) that would
  decide it if the estimate holds (at Bonferroni's level over the list, which Holm's correction then passes
  whatever the other tests give), and which way.
- "a matches b": two one-sided tests against a stated margin (`MARGINS`): **reproduced** only with evidence of
  equality (TOST significant after Holm, and the bootstrap's 90% interval inside the margin), **contradicted** by
  evidence that the difference exceeds the margin (one-sided, Bonferroni over the list, and the interval outside
  it), otherwise **cannot tell**.
- Seeds that agree exactly give no spread to test against: **cannot tell**.
- the widening: Welch's t on the contrast (warm - cold at 10%) - (warm - cold at 100%).
Paper differences under `TIE` points are ties: an ordering the paper does not make, judged as "the same".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from bertgen.experiments.statistics import ALPHA, Contrast, Interval, contrast, examples_to_exclude_zero, holm

MARGINS = {"sari": 1.0, "exact": 1.0, "bleu": 1.0, "loss": 0.02}  # "the same" within this, in the metric's units
TIE = 0.5  # points: a paper difference under this is a tie, not an ordering


def measured(r: pd.Series, metric: str) -> int:
    """How many of the row's seeds that read their input have a value of `metric` (a results file widened by a
    newer bertgen leaves older runs' new columns empty); summaries without the count fall back to `seeds`."""
    count = r.get(f"{metric}_n", r["seeds"])
    return 0 if pd.isna(count) else int(count)


def seed_scores(summary: pd.DataFrame, row: str, fraction: float, metric: str) -> tuple[float, float, int] | None:
    """(mean, sample std, seeds) of a row's measured seeds; None under 2 seeds: one value has no spread."""
    found = summary[(summary["row"] == row) & (summary["fraction"] == fraction)]
    if found.empty or measured(found.iloc[0], metric) < 2:
        return None
    r = found.iloc[0]
    return float(r[f"{metric}_mean"]), float(r[f"{metric}_std"]), measured(r, metric)


@dataclass
class Test:
    """One claim or ordering: sum of weight * row's mean, its Welch contrast, and how it is judged."""

    title: str
    kind: str  # "better" (the contrast should be > 0 in the metric's good direction), "same", "widening"
    terms: tuple[tuple[float, str, float], ...]  # (weight, row, fraction)
    contrast: Contrast | None = None
    interval: Interval | None = None  # paired bootstrap over test examples, where predictions are kept
    p_value: float = math.nan
    p_adjusted: float = math.nan
    missing: list[str] = field(default_factory=list)
    # the verdict when the contrast is found above 0 and below it: a paper's claim is reproduced or contradicted,
    # a beyond-paper hypothesis is supported or reversed
    outcomes: tuple[str, str] = ("reproduced", "contradicted")

    @property
    def key(self) -> tuple:
        return self.terms


def _term(row: str, fraction: float) -> str:
    return row if fraction == 1 else f"{row} at {fraction:.0%}"


def prepare(test: Test, summary: pd.DataFrame, metric: str, margin: float) -> Test:
    """Fill the test's Welch contrast and raw p-value (TOST for "same"), or the rows it is missing."""
    sign = -1.0 if metric == "loss" else 1.0  # contrasts point the metric's good way
    groups = []
    for weight, row, fraction in test.terms:
        scores = seed_scores(summary, row, fraction, metric)
        if scores is None:
            test.missing.append(_term(row, fraction))
        else:
            groups.append((sign * weight, *scores))
    if test.missing:
        return test
    test.contrast = contrast(groups)
    test.p_value = test.contrast.p_equivalent(margin) if test.kind == "same" else test.contrast.p_two_sided()
    return test


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _at_most(count: int | None, what: str, cap: int) -> str | None:
    if count is None:
        return None
    return f"about {count:,} {what}" if count <= cap else f"over {cap:,} {what}"


def decide(test: Test, metric: str, margin: float, family: int, listed: int | None = None) -> str:
    """The verdict line's end: the estimate, the tests' figures and the verdict. `family`: how many tests Holm's
    correction ran over (a "same" test's difference is corrected by Bonferroni over them); `listed`: how many the
    list holds once every row has landed, which the seeds that would decide it are planned for."""
    c = test.contrast
    # contrasts point the metric's good way: for the loss, the estimate is how much lower a's loss is
    digits = 4 if metric == "loss" else 2  # a loss differs by thousandths
    figures = f"{c.estimate:+.{digits}f} {'loss reduction' if metric == 'loss' else metric}"
    if test.interval is not None:
        figures += f", {test.interval.confidence:.0%} bootstrap interval over {test.interval.examples} test examples " \
                   f"[{test.interval.low:+.{digits}f}, {test.interval.high:+.{digits}f}]"
    figures += f"; Welch t({c.df:.1f}) across seeds {'/'.join(map(str, c.seeds))}"
    if test.kind == "same":
        low, high = c.interval(1 - 2 * ALPHA)
        figures += f", {1 - 2 * ALPHA:.0%} interval [{low:+.{digits}f}, {high:+.{digits}f}], " \
                   f"equivalence within ±{margin:g} (TOST) p {_p(test.p_value)}"
    else:
        figures += f", two-sided p {_p(test.p_value)}"
    figures += f", Holm-adjusted p {_p(test.p_adjusted)}"
    if c.se == 0:
        return f"{figures}: **cannot tell** (the seeds agree exactly: no spread to test against)"
    significant = test.p_adjusted < ALPHA
    # the seeds that would decide it pass Holm's correction over the whole list whatever its other tests give:
    # Bonferroni's level
    planned = max(family, listed or family)
    level = f", at {ALPHA:g}/{planned} for the list's {planned} tests," if planned > 1 else ""
    interval = test.interval
    if test.kind == "same":
        inside = interval is None or (-margin < interval.low and interval.high < margin)
        outside = interval is None or interval.low > margin or interval.high < -margin
        different = c.p_beyond(margin) * family < ALPHA and outside  # Bonferroni over the family
        if significant and inside:
            return f"{figures}: **reproduced** (equal within ±{margin:g})"
        if different:
            return f"{figures}: **contradicted** (they differ by more than the margin)"
        if abs(c.estimate) < margin:
            need = c.seeds_to_show_equivalence(margin, planned)  # None: more than statistics.MAX_SEEDS
            seeds = "over 100" if need is None or need > 100 else f"about {need}"
            more = f"{seeds} seeds per row{level} would show equivalence if the estimate holds"
        elif abs(c.estimate) == margin:
            more = f"the estimate lies on the margin, ±{margin:g}: no number of seeds would decide it"
        else:  # outside the margin: more seeds could show the difference, never equivalence
            apart = c.seeds_to_show_difference(margin, planned)  # None: more than statistics.MAX_SEEDS
            seeds = "over 100" if apart is None or apart > 100 else f"about {apart}"
            examples = "" if outside else \
                f" and more test examples (the bootstrap interval reaches inside ±{margin:g})"
            more = (f"the estimate lies outside ±{margin:g}, so more seeds would not show equivalence; {seeds} seeds "
                    f"per row{level}{examples} would show they differ by more than the margin if the estimate holds; "
                    "it would then be contradicted")
        return f"{figures}: **cannot tell** ({more})"
    # the bootstrap must point the way Welch does
    supports = interval is None or (interval.low > 0 if c.estimate > 0 else interval.high < 0)
    if significant and supports:
        return f"{figures}: **{test.outcomes[0] if c.estimate > 0 else test.outcomes[1]}**"
    if c.estimate == 0:
        return f"{figures}: **cannot tell** (the estimate is 0: no number of seeds would decide it)"
    count = c.seeds_to_detect(planned)  # None: more than statistics.MAX_SEEDS
    beyond = count is None or count > 100
    decide_by = [f"{'over 100' if beyond else f'about {count}'} seeds per row{level}"]
    if interval is not None and not interval.excludes_zero():  # the bootstrap's own 95%, which `supports` reads
        if examples := _at_most(examples_to_exclude_zero(interval), "test examples", 100_000):
            decide_by.append(examples)
    small = ", the difference being small against the seeds' spread" if beyond else ""
    then = f"; it would then be {test.outcomes[0] if c.estimate > 0 else test.outcomes[1]}"
    return f"{figures}: **cannot tell** (would need {' and '.join(decide_by)} if the estimate holds{small}{then})"


def paper_claims() -> list[Test]:
    return [Test("A pretrained encoder matters most (bert2rnd > rnd2bert)", "better",
                 ((1.0, "bert2rnd", 1.0), (-1.0, "rnd2bert", 1.0))),
            Test("BERTShare matches bert2bert with about 60% of the parameters", "same",
                 ((1.0, "bertshare", 1.0), (-1.0, "bert2bert", 1.0))),
            Test("Warm-starting helps more with less data ((bert2bert − rnd2rnd) at 10% − at 100%)", "widening",
                 ((1.0, "bert2bert", 0.1), (-1.0, "rnd2rnd", 0.1), (-1.0, "bert2bert", 1.0), (1.0, "rnd2rnd", 1.0)))]


def beyond_paper_tests() -> list[Test]:
    """Each beyond-paper row (its first term) against the paper row it changes one thing of, at one data size
    (experiments/RECIPE.md, stages 4 and 6 and the demo's recipe): what the change was made for, as a hypothesis,
    supported or reversed."""
    return [Test("A gentler rate for the warm encoder helps bert2rnd (bert2rnd-warm1e-4 > bert2rnd)", "better",
                 ((1.0, "bert2rnd-warm1e-4", 1.0), (-1.0, "bert2rnd", 1.0)), outcomes=("supported", "reversed")),
            Test("Cross-attention copied from self-attention helps bert2bert (bert2bert-xattn > bert2bert)", "better",
                 ((1.0, "bert2bert-xattn", 1.0), (-1.0, "bert2bert", 1.0)), outcomes=("supported", "reversed")),
            Test("A gentler rate for the warm parts helps bert2bert at 10% (bert2bert-warm1e-4 > bert2bert, at 10%)",
                 "better", ((1.0, "bert2bert-warm1e-4", 0.1), (-1.0, "bert2bert", 0.1)),
                 outcomes=("supported", "reversed"))]


def judge(tests: list[Test], summary: pd.DataFrame, metric: str,
          intervals: dict[tuple, Interval] | None = None, listed: int | None = None,
          planned: set[tuple[str, float]] | None = None) -> list[str]:
    """One line per test: Holm's correction over the tests of the list that can be judged. `planned`: the (row,
    fraction) the task has configs of, where known (the summary's landed rows count too); a test with a term outside
    them is not run on the task, neither judged nor counted in the list. `listed`: how many tests the list holds
    once every row planned for it has landed (default: the tests given that the task runs), which the seeds that
    would decide a test are planned for."""
    margin = MARGINS.get(metric, 1.0)
    not_run = {}  # a test's key -> its rows the task neither ran nor planned
    if planned is not None:
        planned = planned | set(zip(summary["row"], summary["fraction"]))
        not_run = {test.key: rows for test in tests
                   if (rows := [_term(row, fraction) for _, row, fraction in test.terms if (row, fraction) not in planned])}
    tests_run = [test for test in tests if test.key not in not_run]
    listed = listed if listed is not None else len(tests_run)
    for test in tests_run:
        prepare(test, summary, metric, margin)
        interval = (intervals or {}).get(test.key)
        if interval is not None and metric == "loss":  # as the contrast: pointing the good way (lower)
            interval = Interval(-interval.estimate, -interval.high, -interval.low, interval.examples,
                                interval.confidence)
        test.interval = interval
    ready = [t for t in tests_run if not t.missing]
    for test, adjusted in zip(ready, holm([t.p_value for t in ready])):
        test.p_adjusted = adjusted
    lines = []
    for test in tests:
        if rows := not_run.get(test.key):
            lines.append(f"- **{test.title}**: **not run on this task** (it has no runs or configs of "
                         f"{', '.join(dict.fromkeys(rows))}).")
        elif test.missing:
            lines.append(f"- **{test.title}**: cannot judge yet: needs {', '.join(test.missing)} with 2+ seeds that "
                         "read their input.")
        else:
            lines.append(f"- **{test.title}** ({metric}): {decide(test, metric, margin, len(ready), listed)}.")
    return lines


def verdicts(summary: pd.DataFrame, metric: str, intervals: dict[tuple, Interval] | None = None) -> list[str]:
    """The paper's three claims, one line each; `summary` has per (fraction, row): seeds, `<metric>_mean`,
    `<metric>_std` (and `<metric>_n`); `intervals` the paired bootstrap of each claim's contrast by its terms."""
    return judge(paper_claims(), summary, metric, intervals)


def ordering_tests(rows: list[tuple[str, float]], fraction: float) -> list[Test]:
    """Every pair of rows the paper scores, as (row, paper score): an ordering where the paper's scores differ by
    TIE or more (the better row first), "the same" where they are within it."""
    tests = []
    for i, (a, paper_a) in enumerate(rows):
        for b, paper_b in rows[i + 1:]:
            if round(abs(paper_a - paper_b), 6) < TIE:  # 64.1 - 63.6 is 0.49999999999999 in floats
                tests.append(Test(f"{a} ≈ {b} (paper {paper_a:g} vs {paper_b:g}: a tie)", "same",
                                  ((1.0, a, fraction), (-1.0, b, fraction))))
            else:
                (hi, p_hi), (lo, p_lo) = sorted([(a, paper_a), (b, paper_b)], key=lambda x: -x[1])
                tests.append(Test(f"{hi} > {lo} (paper {p_hi:g} vs {p_lo:g})", "better",
                                  ((1.0, hi, fraction), (-1.0, lo, fraction))))
    return tests
