"""attend(): its three ways (attention maps, the CPU dropout formula, SDPA) compute one formula."""
from __future__ import annotations

import pytest
import torch

from bertgen.modeling.attention import attend, attention_with_dropout, causal_mask


def _qkv(T: int, L: int):
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 4, T, 8, generator=g), torch.randn(2, 4, L, 8, generator=g), torch.randn(2, 4, L, 8, generator=g)


def _by_hand(q, k, v, mask, scale):
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, nh, T, L)
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


@pytest.mark.parametrize("T, L", [(5, 5), (3, 7), (1, 6)], ids=["full", "cached", "one-step"])
@pytest.mark.parametrize("scale", [None, 0.25])
def test_the_three_ways_agree_with_the_formula_under_a_causal_and_a_padding_mask(T, L, scale):
    q, k, v = _qkv(T, L)
    padding = torch.ones(2, 1, 1, L, dtype=torch.bool)
    padding[1, ..., -2:] = False  # row 1: the last two keys are padding
    expected = _by_hand(q, k, v, padding & causal_mask(T, L, q.device), 8 ** -0.5 if scale is None else scale)
    sdpa, none = attend(q, k, v, padding, is_causal=True, scale=scale)
    maps, weights = attend(q, k, v, padding, is_causal=True, scale=scale, output_attentions=True)
    formula = attention_with_dropout(q, k, v, padding, True, 1e-12, scale)  # p below the noise's resolution
    assert none is None and weights.shape == (2, 4, T, L)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, T))
    assert not weights[1, ..., -2:].any()  # padding keys get no weight
    for out in (sdpa, maps, formula):
        assert (out - expected).abs().max() < 1e-5


def test_dropout_in_training_on_a_cpu_zeroes_weights_and_keeps_the_mean():
    q, k, v = _qkv(6, 6)
    v = torch.ones_like(v)  # every output is the sum of its (dropped, rescaled) weights
    torch.manual_seed(0)
    out, _ = attend(q, k, v, is_causal=True, dropout_p=0.5)
    assert (out == 0).any() and abs(out.mean().item() - 1.0) < 0.15
