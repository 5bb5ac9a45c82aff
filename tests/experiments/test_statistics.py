"""The tables' tests against their textbook definitions and scipy's reference implementations."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bertgen.experiments.statistics import (SARI_OPERATIONS, contrast, corpus_score, example_statistics,
                                            examples_to_exclude_zero, holm, paired_bootstrap, wilson_interval)
from bertgen.evaluation.metrics import bleu, exact_match, sari


def seeds(values):
    return float(np.mean(values)), float(np.std(values, ddof=1)), len(values)


def test_welch_matches_scipy():
    a, b = [60.1, 61.3, 59.2], [57.0, 58.5, 56.1, 57.9]
    c = contrast([(1.0, *seeds(a)), (-1.0, *seeds(b))])
    reference = stats.ttest_ind(a, b, equal_var=False)
    assert c.estimate == pytest.approx(np.mean(a) - np.mean(b))
    assert c.p_two_sided() == pytest.approx(reference.pvalue) and c.df == pytest.approx(reference.df)


def test_tost_is_the_larger_one_sided_p():
    a, b = [70.0, 70.4, 69.8, 70.1], [70.2, 69.9, 70.3, 70.0]
    c = contrast([(1.0, *seeds(a)), (-1.0, *seeds(b))])
    lower = stats.ttest_ind(np.array(a) + 1.0, b, equal_var=False, alternative="greater").pvalue
    upper = stats.ttest_ind(np.array(a) - 1.0, b, equal_var=False, alternative="less").pvalue
    assert c.p_equivalent(1.0) == pytest.approx(max(lower, upper))
    assert c.p_equivalent(1.0) < 0.05  # close means, small spread: equal within 1
    wide = contrast([(1.0, *seeds([60.0, 70.0, 65.0])), (-1.0, *seeds([64.0, 66.0, 69.0]))])
    assert wide.p_equivalent(1.0) > 0.05  # no evidence of equality from a wide spread, though no difference either
    assert wide.p_two_sided() > 0.05


def test_a_difference_of_differences_has_the_summed_variance():
    groups = [[50.0, 51.0, 49.5], [30.0, 31.5, 29.0], [62.0, 61.0, 63.0], [55.0, 54.0, 57.0]]
    c = contrast([(1.0, *seeds(groups[0])), (-1.0, *seeds(groups[1])), (-1.0, *seeds(groups[2])),
                  (1.0, *seeds(groups[3]))])
    variances = [np.var(g, ddof=1) / 3 for g in groups]
    assert c.estimate == pytest.approx(np.mean(groups[0]) - np.mean(groups[1]) - np.mean(groups[2])
                                       + np.mean(groups[3]))
    assert c.se == pytest.approx(np.sqrt(sum(variances)))
    assert c.df == pytest.approx(sum(variances) ** 2 / sum(v * v / 2 for v in variances))


def test_one_seed_has_no_spread_to_test():
    with pytest.raises(ValueError, match="1 seed"):
        contrast([(1.0, 70.0, 0.0, 1), (-1.0, *seeds([60.0, 61.0]))])


def test_seeds_needed_grow_as_the_difference_shrinks():
    big = contrast([(1.0, *seeds([62.0, 60.0, 61.0])), (-1.0, *seeds([58.0, 59.0, 57.0]))])
    small = contrast([(1.0, *seeds([59.5, 58.0, 59.0])), (-1.0, *seeds([58.0, 59.0, 57.0]))])
    assert big.seeds_to_detect() < small.seeds_to_detect()
    # both groups spread by 1: the smallest n with n >= 2 ((t_.975 + t_.8) sd / d)^2 at 2 (n - 1) degrees of freedom
    n = big.seeds_to_detect()
    def needed(k):
        return 2 * ((stats.t.ppf(0.975, 2 * (k - 1)) + stats.t.ppf(0.8, 2 * (k - 1))) * 1.0 / big.estimate) ** 2
    assert n >= needed(n) and (n == 2 or n - 1 < needed(n - 1))
    # with few seeds the t quantiles ask for more than the normal approximation
    normal = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 1.0 / big.estimate) ** 2
    assert n >= np.ceil(normal)


def test_seeds_needed_follow_welch_when_one_group_is_noisier():
    # rows like the sweep's: one spread 0.1 over 3 seeds, the other 0.3 over 2, 1.4 apart: Welch's df is about 1.2,
    # so the difference is not detected at 3/2 seeds, and the estimate must not say 2 seeds a row would do
    quiet, noisy = (1.0, 76.1, 0.1, 3), (-1.0, 77.5, 0.3, 2)
    c = contrast([quiet, noisy])
    assert c.p_two_sided() > 0.05
    n = c.seeds_to_detect()
    assert n == 3
    at_n = contrast([(1.0, 76.1, 0.1, n), (-1.0, 77.5, 0.3, n)])
    assert at_n.p_two_sided() < 0.05  # the test the estimate promises, run at n seeds a row
    # equal spreads recover the pooled form: df 2 (n - 1)
    equal = contrast([(1.0, 76.1, 0.2, 3), (-1.0, 77.5, 0.2, 3)])
    assert equal.df == pytest.approx(4)


def test_seeds_needed_pass_holms_correction_over_the_list():
    """The seeds promised for a list of tests are enough at Bonferroni's level, which Holm's step-down passes
    whatever the other tests give: the test run at that many seeds, the estimate the truth, has p < 0.05 / tests."""
    groups = [(1.0, 76.1, 0.1), (-1.0, 77.5, 0.3)]
    c = contrast([(*g, 3) for g in groups])
    alone, in_six = c.seeds_to_detect(), c.seeds_to_detect(family=6)
    assert in_six > alone
    assert contrast([(*g, in_six) for g in groups]).p_two_sided() < 0.05 / 6
    # the fewest such seeds: at one fewer the t the estimate promises falls short of the test's and power's quantiles
    fewer = contrast([(*g, in_six - 1) for g in groups])
    assert fewer.estimate / fewer.se < stats.t.ppf(1 - 0.05 / 12, fewer.df) + stats.t.ppf(0.8, fewer.df)
    same = contrast([(1.0, 76.0, 0.3, 3), (-1.0, 76.2, 0.3, 3)])
    n = same.seeds_to_show_equivalence(1.0, family=6)
    assert n > same.seeds_to_show_equivalence(1.0)
    assert contrast([(1.0, 76.0, 0.3, n), (-1.0, 76.2, 0.3, n)]).p_equivalent(1.0) < 0.05 / 6
    apart = contrast([(1.0, 76.0, 0.6, 3), (-1.0, 78.2, 0.6, 3)])  # 2.2 apart: beyond a margin of 1, unshown
    assert apart.p_beyond(1.0) * 6 > 0.05 and apart.seeds_to_show_equivalence(1.0) is None
    n = apart.seeds_to_show_difference(1.0, family=6)
    assert n > apart.seeds_to_show_difference(1.0) and same.seeds_to_show_difference(1.0) is None
    at_n = contrast([(1.0, 76.0, 0.6, n), (-1.0, 78.2, 0.6, n)])  # the estimate clears the test's and power's quantiles
    assert (abs(at_n.estimate) - 1.0) / at_n.se >= stats.t.ppf(1 - 0.05 / 6, at_n.df) + stats.t.ppf(0.8, at_n.df)
    fewer = contrast([(1.0, 76.0, 0.6, n - 1), (-1.0, 78.2, 0.6, n - 1)])
    assert (abs(fewer.estimate) - 1.0) / fewer.se < stats.t.ppf(1 - 0.05 / 6, fewer.df) + stats.t.ppf(0.8, fewer.df)


def test_welchs_interval_is_the_t_interval():
    c = contrast([(1.0, *seeds([62.0, 60.0, 61.0])), (-1.0, *seeds([58.0, 59.0, 57.5, 58.5]))])
    low, high = c.interval(0.90)
    half = stats.t.ppf(0.95, c.df) * c.se
    assert (low, high) == pytest.approx((c.estimate - half, c.estimate + half))
    # inside ±margin exactly where TOST at 5% shows equivalence
    for margin in (high + 0.01, high - 0.01):
        assert (c.p_equivalent(margin) < 0.05) == (-margin < low and high < margin)


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03, 0.20]) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert holm([0.5, 0.5]) == [1.0, 1.0]


def test_wilson_interval():
    low, high = wilson_interval(3, 6)
    assert (low, high) == pytest.approx((0.1876, 0.8124), abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(0, 5)[1] == pytest.approx(0.4345, abs=1e-4)


SOURCES = ["he left early . she stayed late .", "the cat sat . it was warm .", "rain fell . we stayed in .",
           "i ran . i was late .", "the sun rose . birds sang ."]
REFERENCES = ["he left early , but she stayed late .", "the cat sat because it was warm .",
              "rain fell , so we stayed in .", "i ran , but i was late .", "the sun rose and birds sang ."]
PREDICTIONS = ["he left early , but she stayed late .", "the cat sat . it was warm .", "rain fell so we stayed in .",
               "i ran and i was late .", "the sun rose , birds sang ."]


@pytest.mark.parametrize("metric", ["sari", "exact", "bleu"])
def test_example_statistics_sum_to_the_corpus_score(metric):
    totals = example_statistics(metric, SOURCES, PREDICTIONS, REFERENCES).sum(0)
    expected = {"sari": lambda: sari(SOURCES, PREDICTIONS, REFERENCES), "exact": lambda: exact_match(PREDICTIONS, REFERENCES),
                "bleu": lambda: bleu(PREDICTIONS, REFERENCES)}[metric]()
    assert corpus_score(metric, totals, np.array(len(SOURCES))) == pytest.approx(expected)


def test_sari_operations_average_to_sari_in_every_resample():
    a, b = (example_statistics("sari", SOURCES, side, REFERENCES) for side in (PREDICTIONS, SOURCES))
    parts = [[example_statistics(m, SOURCES, side, REFERENCES) for side in (PREDICTIONS, SOURCES)]
             for m in SARI_OPERATIONS]
    whole = paired_bootstrap("sari", [(1, [a]), (-1, [b])])
    split = [paired_bootstrap(m, [(1, [pa]), (-1, [pb])]) for m, (pa, pb) in zip(SARI_OPERATIONS, parts)]
    assert whole.estimate == pytest.approx(sum(i.estimate for i in split) / 3)
    # over copying, the predictions add connectives and drop periods the references drop, as copying cannot
    assert split[0].estimate > 0 and split[2].estimate > 0


def test_paired_bootstrap_of_identical_sides_is_zero_and_of_a_shift_is_the_shift():
    rng = np.random.default_rng(1)
    a = rng.uniform(40, 90, size=(300, 1))
    same = paired_bootstrap("sari", [(1.0, [a]), (-1.0, [a.copy()])])
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    shifted = paired_bootstrap("sari", [(1.0, [a + 2.0]), (-1.0, [a])])
    assert shifted.estimate == pytest.approx(2.0) and shifted.low == pytest.approx(2.0)
    assert shifted.high == pytest.approx(2.0)


def test_paired_bootstrap_interval_covers_the_sampling_spread():
    """Unpaired noise of sd 10 per example over 400 examples: the mean difference's sd is 10 sqrt(2/400)."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(60, 10, size=(400, 1)), rng.normal(58, 10, size=(400, 1))
    interval = paired_bootstrap("sari", [(1.0, [a]), (-1.0, [b])])
    assert (interval.high - interval.low) / 2 == pytest.approx(1.96 * 10 * np.sqrt(2 / 400), rel=0.15)
    # where the interval's half-width would equal the difference (an even chance to exclude 0), times
    # ((z_.975 + z_.8) / z_.975)^2 for 80% power
    even = 400 * ((interval.high - interval.low) / 2 / interval.estimate) ** 2
    power = ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / stats.norm.ppf(0.975)) ** 2
    assert power == pytest.approx(2.0432, abs=1e-4)
    assert examples_to_exclude_zero(interval) == int(np.ceil(even * power))


def test_paired_bootstrap_averages_every_seed_and_refuses_different_test_sets():
    rng = np.random.default_rng(3)
    a1, a2, b = (rng.uniform(0, 100, size=(50, 1)) for _ in range(3))
    both = paired_bootstrap("sari", [(1.0, [a1, a2]), (-1.0, [b])])
    assert both.estimate == pytest.approx((a1.mean() + a2.mean()) / 2 - b.mean())
    with pytest.raises(ValueError, match="different test sets"):
        paired_bootstrap("sari", [(1.0, [a1]), (-1.0, [b[:40]])])
