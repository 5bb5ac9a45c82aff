"""The paper's claims are judged only where the seed spread separates the rows."""
from __future__ import annotations

import pandas as pd

from bertgen.experiments.claims import separated, verdicts


def summary(rows: dict[tuple[str, float], tuple[float, float]], metric: str = "sari", seeds: int = 3) -> pd.DataFrame:
    return pd.DataFrame([{"row": row, "fraction": fraction, "seeds": seeds, f"{metric}_mean": mean,
                          f"{metric}_std": std} for (row, fraction), (mean, std) in rows.items()])


def test_separation_needs_the_difference_beyond_twice_its_standard_error():
    a, b = {"sari_mean": 50.0, "sari_std": 1.0, "seeds": 3}, {"sari_mean": 48.0, "sari_std": 1.0, "seeds": 3}
    diff, bound, sep = separated(pd.Series(a), pd.Series(b), "sari")
    assert diff == 2.0 and abs(bound - 2 * (2 / 3) ** 0.5) < 1e-9 and sep
    assert not separated(pd.Series(a), pd.Series({**b, "sari_mean": 49.0}), "sari")[2]
    assert not separated(pd.Series({**a, "seeds": 1}), pd.Series({**b, "seeds": 1, "sari_mean": 10.0}), "sari")[2]


def test_all_three_claims_reproduced():
    lines = verdicts(summary({("bert2rnd", 1.0): (60, 0.5), ("rnd2bert", 1.0): (50, 0.5),
                              ("bert2bert", 1.0): (62, 0.5), ("bertshare", 1.0): (61.8, 0.5),
                              ("rnd2rnd", 1.0): (55, 0.5), ("bert2bert", 0.1): (50, 0.5),
                              ("rnd2rnd", 0.1): (30, 0.5)}), "sari")
    assert [line.endswith("**reproduced**.") or "**reproduced (no difference" in line for line in lines] == [True] * 3


def test_claims_within_the_spread_or_missing_are_not_decided():
    lines = verdicts(summary({("bert2rnd", 1.0): (51, 5.0), ("rnd2bert", 1.0): (50, 5.0),
                              ("bert2bert", 1.0): (62, 0.5), ("bertshare", 1.0): (55, 0.5)}), "sari")
    assert "cannot tell (within the seed spread)" in lines[0]
    assert "not reproduced: bertshare is worse" in lines[1]
    assert "cannot judge yet" in lines[2]


def test_for_the_loss_lower_is_better():
    lines = verdicts(summary({("bert2rnd", 1.0): (3.0, 0.05), ("rnd2bert", 1.0): (3.5, 0.05)}, "loss"), "loss")
    assert "**reproduced**" in lines[0]


def test_a_row_with_one_seed_is_not_judged():
    lines = verdicts(summary({("bert2bert", 1.0): (75, 0.0), ("bertshare", 1.0): (74, 0.0)}, seeds=1), "sari")
    assert "cannot judge yet" in lines[1] and "2+ seeds" in lines[1]
