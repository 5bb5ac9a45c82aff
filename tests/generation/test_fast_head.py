"""The decoding step's output layer: the fast layouts compute F.linear's logits, and the oneDNN path is really
taken (a torch upgrade that drops its private ops would silently fall back to the slow GEMM)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bertgen.generation.fast_head import FastHead


@pytest.fixture()
def linear():
    torch.manual_seed(0)
    return nn.Linear(48, 300)


@pytest.mark.parametrize("rows", [1, 4])
def test_fast_head_matches_linear(linear, rows):
    hidden = torch.randn(rows, 48)
    torch.testing.assert_close(FastHead.get(linear)(hidden), F.linear(hidden, linear.weight, linear.bias),
                               rtol=1e-5, atol=1e-5)


def test_the_onednn_layout_is_taken_on_this_torch(linear):
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch build has no oneDNN")
    head = FastHead.get(linear)
    head(torch.randn(3, 48))
    assert isinstance(head.packed, torch.Tensor), (
        "torch.ops.mkldnn._reorder_linear_weight failed: multi-row decoding steps now use the slow F.linear path")


def test_a_changed_weight_gets_a_fresh_head(linear):
    before = FastHead.get(linear)
    with torch.no_grad():
        linear.weight.mul_(2)
    after = FastHead.get(linear)
    assert after is not before
    hidden = torch.randn(1, 48)
    torch.testing.assert_close(after(hidden), F.linear(hidden, linear.weight, linear.bias), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [1, 4])
def test_bfloat16_head_rounds_as_linear_and_returns_float32(linear, rows):
    linear = linear.to(torch.bfloat16)
    hidden = torch.randn(rows, 48, dtype=torch.bfloat16)
    logits = FastHead.get(linear)(hidden)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, F.linear(hidden, linear.weight, linear.bias).float(), rtol=1e-2, atol=1e-2)


def test_no_fast_head_for_float16_or_bias_free_layers():
    assert FastHead.get(nn.Linear(8, 8).to(torch.float16)) is None
    assert FastHead.get(nn.Linear(8, 8, bias=False)) is None
