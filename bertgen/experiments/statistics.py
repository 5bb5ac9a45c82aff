"""Tests fitted to the tables' sample sizes: a few seeds per row, a few hundred to a few thousand test examples.

Two sources of noise move a row's score, and each gets its own test:
- **the test set**: which examples were drawn. A *paired bootstrap over test examples* resamples the examples
  (the same resample for both sides, every seed of each row kept) and recomputes each run's corpus score, so
  the interval of a difference shows how much it could move with another test set of the same size.
- **the seed**: initialization and data order. *Welch's t* on the per-seed scores, with Welch-Satterthwaite
  degrees of freedom (with 3 seeds a side, about 2-4), compares rows across seeds; `contrast` generalizes it to
  a difference of differences (the paper's "warm-starting helps more with less data").
- "the same" needs evidence of equality: *two one-sided tests* (TOST) against a stated margin.
- *Holm's* step-down correction over the tests of one table.

Corpus scores are rebuilt from per-example additive statistics (`example_statistics`), so a resample costs one
matrix product: a sentence-mean metric (SARI, exact match) has one statistic per example, BLEU sacrebleu's
n-gram counts and lengths.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sacrebleu.metrics import BLEU
from scipy import stats

from bertgen.evaluation.metrics import exact_match, sari_operations, sari_sentence

ALPHA = 0.05
POWER = 0.8  # for "how many more seeds or examples would decide it"
BOOTSTRAP_RESAMPLES = 2000
SARI_OPERATIONS = ("sari_keep", "sari_delete", "sari_add")  # metrics.sari_operations' order
_BLEU = BLEU()


# ------------------------------------------------------------------------------ per-example statistics

def example_statistics(metric: str, sources: Sequence[str], predictions: Sequence[str],
                       references: Sequence[str]) -> np.ndarray | None:
    """(examples, k) additive statistics whose column sums give the corpus score (`corpus_score`); None for a
    metric without them (its rows get no bootstrap interval)."""
    if metric == "sari":
        return np.array([[100 * sari_sentence(s, p, [r])] for s, p, r in zip(sources, predictions, references)])
    if metric in SARI_OPERATIONS:  # one of SARI's three parts, whose mean is SARI
        part = SARI_OPERATIONS.index(metric)
        return np.array([[100 * sari_operations(s, p, [r])[part]] for s, p, r in zip(sources, predictions, references)])
    if metric == "exact":
        return np.array([[exact_match([p], [r])] for p, r in zip(predictions, references)])
    if metric == "bleu":
        return np.array(_BLEU._extract_corpus_statistics(list(predictions), [list(references)]), dtype=float)
    return None


def corpus_score(metric: str, totals: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Scores from statistics summed over (resampled) examples: `totals` (..., k), `count` (...) examples."""
    if metric == "bleu":
        flat = totals.reshape(-1, totals.shape[-1])
        return np.array([_BLEU._compute_score_from_stats(list(row)).score for row in flat]).reshape(totals.shape[:-1])
    return totals[..., 0] / count


@dataclass
class Interval:
    estimate: float
    low: float
    high: float
    examples: int
    confidence: float = 0.95

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.estimate:+.1f} [{self.low:+.1f}, {self.high:+.1f}]"


def paired_bootstrap(metric: str, terms: Sequence[tuple[float, Sequence[np.ndarray]]], confidence: float = 0.95,
                     resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Interval:
    """The percentile interval of sum_i w_i * (mean score over term i's runs), resampling the test examples with
    the same draw for every run of every term: (+1, a's runs), (-1, b's runs) gives a - b. Every run's statistics
    (`example_statistics`) are over the same examples in the same order."""
    runs = [r for _, term_runs in terms for r in term_runs]
    n = len(runs[0])
    if any(len(r) != n for r in runs):
        raise ValueError(f"paired_bootstrap: the runs were scored on different test sets "
                         f"({sorted({len(r) for r in runs})} examples); pair runs of one test set")
    generator = np.random.default_rng(seed)
    # each resample as counts per example: (resamples, n) @ (n, k) sums a run's statistics over every resample
    weights = generator.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)
    observed, draws = 0.0, np.zeros(resamples)
    for weight, term_runs in terms:
        observed += weight * np.mean([corpus_score(metric, r.sum(0), np.array(n)) for r in term_runs])
        draws += weight * np.mean([corpus_score(metric, weights @ r, np.full(resamples, n)) for r in term_runs], axis=0)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(float(observed), float(low), float(high), n, confidence)


def examples_to_exclude_zero(interval: Interval) -> int | None:
    """About how many test examples would make the interval exclude 0 with POWER if the difference is the truth,
    as the seeds' estimate does: its standard error (the half-width over the normal quantile) shrinks as
    1/sqrt(examples), and the difference must clear the interval by POWER's quantile of it. None for a zero
    difference."""
    if interval.estimate == 0:
        return None
    z = stats.norm.ppf(1 - (1 - interval.confidence) / 2)
    se = (interval.high - interval.low) / 2 / z
    return math.ceil(interval.examples * ((z + stats.norm.ppf(POWER)) * se / abs(interval.estimate)) ** 2)


# ---------------------------------------------------------------------------------------- across seeds

@dataclass
class Contrast:
    """sum_i weight_i * mean(group_i) with its Welch standard error and Welch-Satterthwaite degrees of freedom."""

    estimate: float
    se: float
    df: float
    seeds: tuple[int, ...]
    spreads: tuple[tuple[float, float], ...]  # each group's (weight, seed spread), for power estimates

    def p_two_sided(self) -> float:
        """Welch's p of a zero difference; 1 where the seeds agree exactly (no spread is no evidence)."""
        if self.se == 0:
            return 1.0
        return float(2 * stats.t.sf(abs(self.estimate) / self.se, self.df))

    def p_beyond(self, margin: float) -> float:
        """One-sided p of |difference| <= margin: small means the difference exceeds the margin."""
        if self.se == 0:
            return 1.0
        return float(stats.t.sf((abs(self.estimate) - margin) / self.se, self.df))

    def p_equivalent(self, margin: float) -> float:
        """TOST: the larger of the two one-sided p-values of |difference| >= margin; small means |d| < margin. 1
        where the seeds agree exactly."""
        if self.se == 0:
            return 1.0
        lower = stats.t.sf((self.estimate + margin) / self.se, self.df)  # H0: d <= -margin
        upper = stats.t.cdf((self.estimate - margin) / self.se, self.df)  # H0: d >= +margin
        return float(max(lower, upper))

    def interval(self, confidence: float) -> tuple[float, float]:
        """Welch's interval of the difference across seeds: the estimate ± the t quantile times its standard error
        (at 90% it is TOST's: inside ±margin exactly where TOST at 5% shows equivalence)."""
        half = float(stats.t.ppf(1 - (1 - confidence) / 2, self.df)) * self.se if self.se else 0.0
        return self.estimate - half, self.estimate + half

    def seeds_to_detect(self, family: int = 1) -> int | None:
        """Seeds per group for a two-sided test to detect the observed difference with POWER at ALPHA / family:
        Bonferroni's level, which passes Holm's correction over `family` tests whatever the others give. None where
        there is no spread or no difference."""
        return _seeds_for(abs(self.estimate), self.spreads, 1 - ALPHA / (2 * family))

    def seeds_to_show_equivalence(self, margin: float, family: int = 1) -> int | None:
        """Seeds per group for TOST at ALPHA / family (as `seeds_to_detect`) to show |d| < margin with POWER if the
        observed difference is the truth; None where it is not inside the margin (more seeds would not show
        equivalence), or where no n up to MAX_SEEDS does."""
        if abs(self.estimate) >= margin:
            return None
        return _seeds_for(margin - abs(self.estimate), self.spreads, 1 - ALPHA / family)

    def seeds_to_show_difference(self, margin: float, family: int = 1) -> int | None:
        """Seeds per group for the one-sided test of |d| > margin (`p_beyond`) at ALPHA / family to show it with
        POWER if the observed difference is the truth; None where it lies within the margin, or where no n up to
        MAX_SEEDS does."""
        if abs(self.estimate) <= margin:
            return None
        return _seeds_for(abs(self.estimate) - margin, self.spreads, 1 - ALPHA / family)


MAX_SEEDS = 10_000


def _seeds_for(effect: float, spreads: Sequence[tuple[float, float]], level: float) -> int | None:
    """The fewest seeds n per group (2 or more) with which Welch's t at quantile `level` detects `effect` with
    POWER, each group keeping its own seed spread: the contrast's variance is sum w^2 sd^2 / n, its
    Welch-Satterthwaite degrees of freedom (n - 1) (sum w^2 sd^2)^2 / sum (w^2 sd^2)^2 (two groups of one spread
    give 2 (n - 1); a group far noisier than the others gives nearer n - 1, the loss that makes a pooled estimate
    promise too much). The t quantiles, not the normal ones: with a few seeds the normal approximation promises
    too much too. None where no n up to MAX_SEEDS does."""
    variances = [w * w * sd * sd for w, sd in spreads]
    total = sum(variances)
    if effect == 0 or total == 0 or not math.isfinite(total):
        return None
    df_per_seed = total ** 2 / sum(v * v for v in variances)  # df = (n - 1) * this
    for n in range(2, MAX_SEEDS + 1):
        df = (n - 1) * df_per_seed
        if effect / math.sqrt(total / n) >= stats.t.ppf(level, df) + stats.t.ppf(POWER, df):
            return n
    return None


def contrast(groups: Sequence[tuple[float, float, float, int]]) -> Contrast:
    """Welch's t for sum_i w_i * mean_i over groups (w_i, mean_i, sample std_i, seeds_i), each of 2+ seeds.
    Two groups (+1, a), (-1, b) give Welch's two-sample test of mean(a) - mean(b)."""
    for weight, _, _, n in groups:
        if n < 2:
            raise ValueError(f"contrast: a group of weight {weight:+g} has {n} seed(s); Welch's t needs 2+ per group")
    parts = [(w * mean, w * w * sd * sd / n, n) for w, mean, sd, n in groups]
    variance = sum(v for _, v, _ in parts)
    df_denominator = sum(v * v / (n - 1) for _, v, n in parts)
    df = variance ** 2 / df_denominator if df_denominator > 0 else math.inf
    spreads = tuple((w, sd) for w, _, sd, _ in groups)
    return Contrast(sum(m for m, _, _ in parts), math.sqrt(variance), df, tuple(n for *_, n in groups), spreads)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (a collapse rate out of a few runs)."""
    if trials == 0:
        return 0.0, 1.0
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
