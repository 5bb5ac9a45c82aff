"""WeightsSeen: when the fast layouts' copies of a model's weights are stale, edits through `.data` included."""
from __future__ import annotations

import math

import pytest
import torch

from bertgen.fast.weights_seen import WeightsSeen


def weights() -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.nn.Parameter(torch.randn(6, 4)), torch.nn.Parameter(torch.randn(3, 8)),
            torch.nn.Parameter(torch.randn(4)), torch.nn.Parameter(torch.randn(5, 5))]


EDITS = {
    "every weight, through .data": lambda w: [p.data.mul_(0.999) for p in w],
    "a row, through .data": lambda w: w[0].data[2].add_(1.0),
    "a column of a wide matrix, through .data": lambda w: w[1].data[:, 7].zero_(),
    "two rows swapped, through .data": lambda w: w[0].data.copy_(w[0].data[[1, 0, 2, 3, 4, 5]]),
    "a vector element, through .data": lambda w: w[2].data[3].add_(1.0),
    "a transpose, through .data": lambda w: setattr(w[3], "data", w[3].data.t()),
    "in place under no_grad": lambda w: torch.no_grad()(lambda: w[0].mul_(2))(),
    "replaced": lambda w: setattr(w[2], "data", torch.randn(4)),
}


@pytest.mark.parametrize("edit", EDITS)
def test_edits_are_seen(edit):
    w = weights()
    seen = WeightsSeen(w)
    EDITS[edit](w)
    assert seen.changed(w)


def test_nothing_changed_is_not_a_change_even_with_a_nan():
    w = weights()
    with torch.no_grad():
        w[0][0, 0] = math.nan
    seen = WeightsSeen(w)
    assert not seen.changed(w)
    assert not seen.changed([p.detach() for p in w])  # the same tensors, seen through another view


def test_tensors_made_in_inference_mode_and_empty_ones():
    with torch.inference_mode():
        w = [torch.randn(4, 3), torch.randn(0, 3), torch.randn(2, 0)]
    seen = WeightsSeen(w)
    assert not seen.changed(w)
    with torch.inference_mode():
        w[0][1] += 1.0  # a row: one of its elements is sampled
    assert seen.changed(w)
