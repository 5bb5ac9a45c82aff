"""The decoding step's output layer: the fast layouts compute F.linear's logits, and the oneDNN path is really
taken (a torch upgrade that drops its private ops would silently fall back to the slow GEMM)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bertgen.fast.head import BfloatScreen, FastHead
from tests.support import skip_without_onednn_bf16


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


def test_no_fast_head_for_float16_layers():
    assert FastHead.get(nn.Linear(8, 8).to(torch.float16)) is None


@pytest.mark.parametrize("rows", [1, 5])
def test_a_bias_free_layer_gets_a_zero_bias(rows):
    """GPT-2's head has no bias: its fast head computes x @ W^T, as F.linear without one, to float rounding."""
    torch.manual_seed(0)
    linear = nn.Linear(48, 300, bias=False)
    head = FastHead.get(linear)
    x = torch.randn(rows, 48)
    assert head is not None and torch.equal(head.bias, torch.zeros(300))
    assert torch.allclose(head(x), F.linear(x, linear.weight), atol=1e-5)
    with torch.no_grad():
        linear.weight.mul_(2)  # trained in place: a fresh head
    assert FastHead.get(linear) is not head


# ------------------------------------------------------------------------------------- greedy's bfloat16 screen

def screen_of(linear):
    """The screen built directly, so these tests also run where the CPU would emulate bfloat16."""
    skip_without_onednn_bf16()
    weight = linear.weight.detach()
    return BfloatScreen(weight, linear.bias.detach(), torch.ops.mkldnn._reorder_linear_weight(weight.bfloat16(), None))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_the_screen_bounds_every_bfloat16_logits_distance_from_float32(scale):
    torch.manual_seed(1)
    linear = nn.Linear(384, 3000)
    with torch.no_grad():
        linear.weight.mul_(scale)
        linear.bias.mul_(scale * 10)
    screen = screen_of(linear)
    hidden = torch.randn(4, 384) * torch.tensor([[1e-2], [1.0], [10.0], [1e3]])
    logits, bound = screen(hidden)
    exact = F.linear(hidden.double(), linear.weight.double(), linear.bias.double())
    float32 = F.linear(hidden, linear.weight, linear.bias)
    assert ((logits - exact).abs() <= bound).all()
    assert ((logits - float32).abs() <= bound).all()
    assert ((logits - float32).abs().amax(-1, keepdim=True) > bound / 40).all()  # the bound is near the truth


def screened_head(linear):
    head = FastHead(linear)
    head.screen = screen_of(linear)
    return head


def test_the_bound_holds_where_bfloat16_rounds_every_component_the_same_way():
    """x = 1 + 2**-8 rounds to 1 (bfloat16's full unit roundoff, 2**-8) in every component, aligned with a row:
    the bfloat16 logits are 0.125 off; a bound built on 2**-9 would pick token 1 here."""
    x = torch.full((1, 16), 1 + 2**-8)
    linear = nn.Linear(16, 2)
    with torch.no_grad():
        linear.weight[0], linear.weight[1] = x[0], -x[0]
        linear.bias[:] = torch.tensor([0.0, 32.22])
    head = screened_head(linear)
    logits, bound = head.screen(x)
    float32 = F.linear(x, linear.weight, linear.bias)
    assert ((logits - float32).abs() <= bound).all() and (logits - float32).abs().max() > 0.12
    assert head.greedy_tokens(x, lambda s: s).tolist() == float32.max(-1).indices.tolist() == [0]


def near_ties(rows):
    """A head whose rows come in pairs a float32 rounding apart, and hidden states that make them the best."""
    torch.manual_seed(2)
    linear = nn.Linear(64, 500)
    with torch.no_grad():
        linear.weight[1::2] = linear.weight[0::2] * (1 + 2**-22)  # each odd row a hair above the even one
        linear.bias[1::2] = linear.bias[0::2]
        linear.weight[7] = linear.weight[6]  # and one exact tie: the first (6) must win
    hidden = linear.weight[torch.tensor([6, 40, 41, 300])[:rows]].detach() * 5  # each row aims at a pair
    return linear, hidden


@pytest.mark.parametrize("rows", [1, 2, 4])
def test_greedy_tokens_are_the_float32_heads_first_maximum_through_near_ties(rows):
    linear, hidden = near_ties(rows)
    head = screened_head(linear)
    banned = torch.tensor([41])

    def process(scores):  # masks only, as n-gram blocking does
        scores[:, banned] = -float("inf")
        return scores

    expected = process(F.linear(hidden, linear.weight, linear.bias)).max(-1).indices
    tokens = head.greedy_tokens(hidden, process)
    assert torch.equal(tokens, expected)
    assert tokens[0] == 6  # the exact tie went to the first row of the pair
    logits, bound = head.screen(hidden)
    candidates = (logits >= logits.amax(-1, keepdim=True) - 2 * bound).sum(-1)
    assert (candidates < 500 // 10).all()  # the float32 rescoring touched a few rows, not the matrix


def test_greedy_tokens_decline_where_the_screen_does_not_apply(linear, monkeypatch):
    from bertgen.fast import head as fast_head

    head = screened_head(linear)
    hidden = torch.randn(fast_head.SCREEN_MAX_ROWS + 1, 48)
    assert head.greedy_tokens(hidden, lambda s: s) is None  # too many rows to pay
    assert head.greedy_tokens(hidden[:1], lambda s: s.fill_(-float("inf"))) is None  # nothing left to pick
    huge = torch.zeros(1, 48)
    huge[0, :2] = 3e19  # finite logits, but |x| overflows: an infinite bound must not let masked tokens back in
    assert head.greedy_tokens(huge, lambda s: s) is None
    assert head.greedy_tokens(torch.full((1, 48), 1e-20), lambda s: s) is None  # |x| too small to be exact
    flat = nn.Linear(48, 3000)
    with torch.no_grad():
        flat.bias.zero_()
    # every token ties: rescoring them all would cost more than the float32 head
    assert screened_head(flat).greedy_tokens(torch.zeros(1, 48), lambda s: s) is None
    monkeypatch.setattr(fast_head, "cpu_multiplies_bf16", lambda: False)
    assert BfloatScreen.build(linear.weight.detach(), linear.bias.detach()) is None  # bfloat16 emulated: no gain
    assert BfloatScreen.build(linear.weight.detach().bfloat16(), linear.bias.detach()) is None


def test_an_unchanged_weight_keeps_its_head(linear):
    head = FastHead.get(linear)
    head(torch.randn(3, 48))  # its layouts made
    assert FastHead.get(linear) is head
