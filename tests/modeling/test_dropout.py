"""Dropout on a CPU (bertgen.modeling.dropout) and attention with dropout: the distribution F.dropout draws
from, and, under the same masks, transformers' loss and gradients."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import bertgen.modeling.dropout as dropout_module
from bertgen.modeling import EncoderDecoderModel
from bertgen.modeling.bert_generation import attention_with_dropout, causal_mask
from bertgen.modeling.dropout import Dropout, dropout, dropout_noise

TOL = 1e-5


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_noise_drops_with_probability_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    n = 1_000_000
    noise = dropout_noise((n,), p)
    dropped = (noise == 0).double().mean().item()
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / n)  # 5 standard deviations
    assert noise.unique().tolist() == [0.0, pytest.approx(1 / (1 - p))]
    assert abs(noise.double().mean().item() - 1) < 5 * math.sqrt(p / (1 - p) / n)  # unbiased: E[noise] = 1


def test_noise_elements_are_independent():
    """Neighbouring elements (the same or consecutive random draws) are dropped together at rate p * p."""
    torch.manual_seed(1)
    n, p = 1_000_000, 0.5
    dropped = dropout_noise((n,), p) == 0
    both = (dropped[1:] & dropped[:-1]).double().mean().item()
    assert abs(both - p * p) < 5 * math.sqrt(p * p * (1 - p * p) / n)


def test_dropout_output_and_gradient_use_one_mask():
    torch.manual_seed(2)
    x = torch.randn(64, 96, requires_grad=True)
    y = dropout(x, 0.25)
    kept = y != 0
    assert 0.2 < 1 - kept.float().mean().item() < 0.3
    scale = torch.tensor(1 / 0.75)  # in fp32, as F.dropout's noise holds it
    assert torch.equal(y[kept], x[kept] * scale)
    y.backward(torch.ones_like(y))
    assert torch.equal(x.grad, kept.float() * scale)


def test_the_seed_repeats_the_mask():
    x = torch.ones(1000)
    torch.manual_seed(3)
    first = dropout(x, 0.1)
    torch.manual_seed(3)
    again = dropout(x, 0.1)
    assert torch.equal(first, again)
    assert not torch.equal(first, dropout(x, 0.1))


def test_dropout_keeps_dtype_and_f_dropout_edge_cases():
    x = torch.randn(200, 50)
    assert dropout(x.bfloat16(), 0.1).dtype == torch.bfloat16
    assert dropout(x, 0.1, training=False) is F.dropout(x, 0.1, False)  # identity outside training
    assert torch.equal(dropout(x, 0.0), x)
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    with pytest.raises(ValueError, match="dropout probability"):
        dropout(x, 1.5)


def test_dropout_module_is_nn_dropout():
    module = Dropout(0.1)
    assert isinstance(module, torch.nn.Dropout)
    assert repr(module) == repr(torch.nn.Dropout(0.1))
    assert module.state_dict() == {}
    x = torch.randn(10, 10)
    assert torch.equal(module.eval()(x), x)
    torch.manual_seed(4)
    assert (module.train()(x) == 0).any()


def test_attention_with_dropout_is_the_formula_under_its_own_mask(monkeypatch):
    """Padding, causality and a query with no key to attend to (zero output, as SDPA), with the drawn noise."""
    torch.manual_seed(5)
    B, nh, T, L, hs = 3, 2, 4, 6, 8
    q, k, v = (torch.randn(B, nh, n, hs) for n in (T, L, L))
    padding = torch.ones(B, 1, 1, L, dtype=torch.bool)
    padding[1, ..., 4:] = False
    padding[2] = False  # this input has no key at all
    mask = padding & causal_mask(T, L, q.device)
    drawn = []
    monkeypatch.setattr(dropout_module, "dropout_noise", lambda *a: drawn.append(dropout_noise(*a)) or drawn[-1])
    y = attention_with_dropout(q, k, v, mask, False, 0.3)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(hs)).masked_fill(~mask, -math.inf)
    weights = scores.softmax(-1).nan_to_num(0.0)  # rows without keys: 0
    assert drawn[0].shape == (B, nh, T, L)
    assert (y - (weights * drawn[0]) @ v).abs().max() < TOL
    assert torch.equal(y[2], torch.zeros_like(y[2]))
    # is_causal builds the causal mask itself
    causal = attention_with_dropout(q, k, v, None, True, 0.3)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(hs)).masked_fill(~causal_mask(T, L, q.device), -math.inf)
    assert (causal - (scores.softmax(-1) * drawn[1]) @ v).abs().max() < TOL


def all_kept(shape, p, dtype=torch.float32, device="cpu"):
    """Noise that keeps every element at scale 1: dropout's code path with the reference's (absent) masks."""
    return torch.ones(shape, dtype=dtype, device=device)


@pytest.mark.usefixtures("one_thread")
def test_training_with_dropout_is_transformers_under_the_same_masks(hf_dir, batch, monkeypatch):
    """Dropout 0.1 everywhere and every mask keeping all: the loss and every gradient are transformers' (whose
    tiny model has dropout 0), through the CPU dropout path, padding and an all-padding source row included."""
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    ours = EncoderDecoderModel.from_pretrained(hf_dir).train()
    ours.fused_loss = True
    for module in ours.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.1
        if hasattr(module, "dropout_p"):
            module.dropout_p = 0.1
    theirs = HFEncoderDecoderModel.from_pretrained(hf_dir).train()
    batch["attention_mask"][2] = 0  # a source with nothing to attend to
    calls = []
    monkeypatch.setattr(dropout_module, "dropout_noise", lambda *a: calls.append(a) or all_kept(*a))
    out = ours(**batch)
    out.loss.backward()
    reference = theirs(**batch).loss
    reference.backward()
    # embeddings 2, encoder layers 3 each, decoder layers 5 each (the tiny config has 2 layers a side)
    assert len(calls) == 2 + 2 * 3 + 2 * 5
    assert abs(out.loss.item() - reference.item()) < TOL
    for name, p in ours.named_parameters():
        assert (p.grad - theirs.get_parameter(name).grad).abs().max() < TOL, name
    monkeypatch.undo()
    torch.manual_seed(6)
    assert abs(ours(**batch).loss.item() - reference.item()) > 1e-3  # real masks change the loss
