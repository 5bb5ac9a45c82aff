"""Dropout on a CPU (bertgen.fast.dropout) and attention with dropout: the distribution F.dropout draws
from, and, under the same masks, transformers' loss and gradients."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import bertgen.fast.dropout as dropout_module
from bertgen.modeling import EncoderDecoderModel
from bertgen.modeling.attention import attention_with_dropout, causal_mask
from bertgen.fast.dropout import Dropout, dropout, dropout_noise, noise_from_draws

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


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 1e-5])
def test_every_draw_maps_to_drop_with_probability_p_within_2_to_the_minus_25(p):
    """All 2**24 + 1 values random_() can draw, each once: the dropped share is p to within half a draw (the
    draws themselves are uniform to 2**-24: a 32-bit integer modulo 2**24 + 1)."""
    draws = torch.arange(2**24 + 1, dtype=torch.float32)
    noise = noise_from_draws(draws, p)
    dropped = (noise == 0).sum().item()
    assert abs(dropped / (2**24 + 1) - p) <= 2**-25
    assert torch.equal(noise[dropped:], torch.full_like(noise[dropped:], 1 / (1 - p)))  # the smallest draws drop


def test_neighbouring_elements_drop_independently():
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


def test_bfloat16_input_keeps_its_dtype_and_scales_as_f_dropout():
    torch.manual_seed(7)
    x = torch.randn(400, 500).bfloat16()
    y = dropout(x, 0.1)
    kept = y != 0
    assert y.dtype == torch.bfloat16
    assert abs(1 - kept.float().mean().item() - 0.1) < 0.005
    scale = torch.tensor(1 / 0.9).bfloat16()  # F.dropout's bf16 noise holds the scale in bf16 too
    assert torch.equal(y[kept], x[kept] * scale)


def test_f_dropout_edge_cases_and_p_near_0_or_1_go_to_f_dropout(monkeypatch):
    x = torch.randn(200, 50)
    assert dropout(x, 0.1, training=False) is x  # identity outside training
    assert torch.equal(dropout(x, 0.0), x)
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    with pytest.raises(ValueError, match="dropout probability"):
        dropout(x, 1.5)
    # 2**-25 resolution is too coarse within 2**-20 of 0 or 1: there torch's own dropout runs
    monkeypatch.setattr(dropout_module, "dropout_noise", lambda *a: pytest.fail("fast path used"))
    torch.manual_seed(8)
    assert torch.equal(dropout(x, 1 - 1e-9), F.dropout(x, 1 - 1e-9) * 0)  # all dropped, as torch does
    assert dropout(x, 1e-9).shape == x.shape


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


def test_bfloat16_attention_is_computed_in_float32_as_sdpa(monkeypatch):
    """Under bf16 the scores, softmax and dropout run in float32, as SDPA's math path runs them."""
    torch.manual_seed(9)
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    drawn = []
    monkeypatch.setattr(dropout_module, "dropout_noise", lambda *a: drawn.append(dropout_noise(*a)) or drawn[-1])
    y = attention_with_dropout(q.bfloat16(), k.bfloat16(), v.bfloat16(), None, False, 0.2)
    reference = ((q.bfloat16().float() @ k.bfloat16().float().transpose(-2, -1) / math.sqrt(8)).softmax(-1)
                 * drawn[0]) @ v.bfloat16().float()
    assert y.dtype == torch.bfloat16 and drawn[0].dtype == torch.float32
    assert torch.equal(y, reference.bfloat16())


def all_kept(shape, p, dtype=torch.float32, device="cpu"):
    """Noise that keeps every element at scale 1: dropout's code path with the reference's (absent) masks."""
    return torch.ones(shape, dtype=dtype, device=device)


@pytest.mark.usefixtures("one_thread")
def test_training_with_all_keeping_masks_is_transformers_without_dropout(hf_dir, batch, monkeypatch):
    """Dropout 0.1 everywhere and every mask keeping all: the loss and every gradient are transformers' (whose
    tiny model has dropout 0, so SDPA), through the CPU dropout path, an all-padding source row included."""
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


def with_dropout(model, p: float = 0.1):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
        if hasattr(module, "dropout_p"):
            module.dropout_p = p
    return model.train()


def assert_same_loss_and_gradients(ours, theirs, ours_loss, their_loss):
    assert abs(ours_loss.item() - their_loss.item()) < TOL
    for name, p in ours.named_parameters():
        assert (p.grad - theirs.get_parameter(name).grad).abs().max() < TOL, name


@pytest.mark.usefixtures("one_thread")
def test_training_with_dropout_is_transformers_under_the_same_masks(hf_dir, batch, monkeypatch):
    """bertgen's masks, recorded and handed in the same order to transformers' dropouts (eager attention, whose
    attention dropout is F.dropout): the same loss and gradients. A mask in the wrong place would not match."""
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    ours = with_dropout(EncoderDecoderModel.from_pretrained(hf_dir))
    theirs = with_dropout(HFEncoderDecoderModel.from_pretrained(hf_dir, attn_implementation="eager"))
    drawn = []
    monkeypatch.setattr(dropout_module, "dropout_noise", lambda *a: drawn.append(dropout_noise(*a)) or drawn[-1])
    torch.manual_seed(10)
    loss = ours(**batch).loss
    loss.backward()
    assert len(drawn) == 18 and all((noise == 0).any() for noise in drawn)  # real masks, every one dropping some
    replay = iter(drawn)

    def replayed(x, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return x
        noise = next(replay)
        assert noise.shape == x.shape
        return x * noise

    monkeypatch.setattr(F, "dropout", replayed)
    reference = theirs(**batch).loss
    reference.backward()
    assert next(replay, None) is None  # every mask used, in order
    assert_same_loss_and_gradients(ours, theirs, loss, reference)


@pytest.mark.usefixtures("one_thread")
def test_torch_dropout_switch_repeats_transformers_seeded_run(hf_dir, batch, monkeypatch):
    """BERTGEN_TORCH_DROPOUT=1: torch's dropout and SDPA, so one seed gives transformers' masks and loss."""
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    ours = with_dropout(EncoderDecoderModel.from_pretrained(hf_dir))
    theirs = with_dropout(HFEncoderDecoderModel.from_pretrained(hf_dir))
    torch.manual_seed(11)
    reference = theirs(**batch).loss
    reference.backward()
    torch.manual_seed(11)
    assert abs(ours(**batch).loss.item() - reference.item()) > 1e-4  # bertgen's own masks differ
    ours.zero_grad()
    monkeypatch.setenv("BERTGEN_TORCH_DROPOUT", "1")
    torch.manual_seed(11)
    loss = ours(**batch).loss
    loss.backward()
    assert_same_loss_and_gradients(ours, theirs, loss, reference)
