"""benchmarks/padding.py: the share of a padded batch that packed training skips."""
from __future__ import annotations

import importlib.util

from tests.support import ROOT

_spec = importlib.util.spec_from_file_location("bench_padding", ROOT / "benchmarks" / "padding.py")
padding = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(padding)


def test_padding_share_counts_masked_sources_and_targets_after_the_last_label():
    examples = [{"input_ids": [5, 6, 7, 8], "labels": [9, 9, 9]},
                {"input_ids": [5], "labels": [9, -100, 9, 9, 9, 9]},  # a -100 inside a target is not padding
                {"input_ids": [5, 6], "labels": [9]}]
    source, target = padding.padding_share(examples, [[0, 1], [2]])
    # batch [0, 1]: sources padded to 4 (3 of 8 masked), targets to 6 (3 of 12 after the last label);
    # batch [2] alone: no padding (sources 2 of 2, targets 1 of 1)
    assert source == 3 / 10
    assert target == 3 / 13
