"""bf16 autocast with float32 GEMMs (bertgen.fast.bf16) computes what torch's bf16 autocast computes: bfloat16-rounded
operands, float32 sums, bfloat16 results and gradients, only summed in another order."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bertgen.fast import bf16
from bertgen.loss import linear_cross_entropy
from bertgen.training import trainer as trainer_module
from bertgen.training.trainer import Trainer, TrainingArguments
from tests.support.models import tiny_model
from tests.training.test_trainer import tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def linear_and_grads(x, w, b, gy, context):
    x, w, b = (t.detach().clone().requires_grad_() for t in (x, w, b))
    with context():
        y = F.linear(x, w, b)
    (y.float() * gy).sum().backward()
    return y, x.grad, w.grad


def test_a_linear_and_its_gradients_are_bf16_autocasts_exactly_rounded_results():
    """bf16 autocast's linear: bfloat16 operands, exact products, float32 sums, each result rounded to bfloat16 once.
    In float64 the sums of bfloat16 products are exact, so rounding them gives the reference; torch's bfloat16
    GEMM and the float32 one each miss it only where the summation order tips a rounding (about 1 in 10,000)."""
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(384, 384, generator=g), torch.randn(1536, 384, generator=g) / 20
    b, gy = torch.randn(1536, generator=g) / 20, torch.randn(384, 1536, generator=g)
    xe, we, be, ge = (t.bfloat16().double() for t in (x, w, b, gy))
    exact = [(xe @ we.T + be), ge @ we, ge.T @ xe]  # output, input gradient, weight gradient
    exact = [e.float().bfloat16() for e in exact]
    for name, context in (("torch's", lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
                          ("float32 GEMMs", bf16.autocast_bf16_via_fp32),
                          ("fp32", lambda: torch.autocast("cpu", enabled=False))):
        y, gx, gw = linear_and_grads(x, w, b, gy, context)
        agree = [(got.to(torch.bfloat16) == e).float().mean().item() for got, e in zip((y, gx, gw), exact)]
        if name == "fp32":  # unrounded operands: another computation, not a reordering
            assert max(agree) < 0.5, agree
        else:
            assert min(agree) > 0.999, (name, agree)
            assert y.dtype == torch.bfloat16


def test_the_fused_loss_explicit_bfloat16_matmuls_are_caught_too():
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(40, 32, generator=g)
    weight, bias = torch.randn(500, 32, generator=g) / 4, torch.randn(500, generator=g)
    labels = torch.randint(0, 500, (40,), generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        native = linear_cross_entropy(hidden, weight, bias, labels)
    calls = []
    original = bf16.Bf16MatmulsInFp32.__torch_function__

    def counting(self, func, types, args=(), kwargs=None):
        calls.append(func)
        return original(self, func, types, args, kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bf16.Bf16MatmulsInFp32, "__torch_function__", counting)
        with bf16.autocast_bf16_via_fp32():
            ours = linear_cross_entropy(hidden, weight, bias, labels)
    assert torch.addmm in calls  # the chunked logits, written into a bfloat16 buffer
    assert ours.item() == pytest.approx(native.item(), rel=1e-3)
    with torch.autocast("cpu", enabled=False):
        assert abs(linear_cross_entropy(hidden, weight, bias, labels).item() - native.item()) > 1e-4


def test_what_autocast_leaves_alone_is_left_alone():
    x = torch.randn(4, 8, dtype=torch.float64)
    with bf16.autocast_bf16_via_fp32():
        assert (x @ x.T).dtype == torch.float64
        assert (x.float() @ x.float().T).dtype == torch.bfloat16
        meta = torch.randn(4, 8, device="meta")
        assert (meta @ meta.T).dtype == torch.float32  # another device
        a, b = torch.randn(16, 384), torch.randn(384, 16)
        out = torch.empty(16, 16)
        torch.mm(a, b, out=out)  # autocast does not touch out= calls: float32 in, float32 sums out
    with torch.autocast("cpu", enabled=False):
        assert torch.equal(out, a @ b)


def test_a_checkpointed_layer_recomputes_its_matmuls_as_the_forward_ran_them():
    """Gradient checkpointing recomputes a layer in backward, after the forward's contexts have closed."""
    from tests.support.models import tiny_model

    labels = torch.tensor([[5, 6, 7, 1], [8, 9, 1, -100]])
    ids = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])
    grads = []
    for checkpointed in (False, True):
        model = tiny_model().train()
        if checkpointed:
            model.gradient_checkpointing_enable()
        with bf16.autocast_bf16_via_fp32():
            loss = model(input_ids=ids, attention_mask=(ids > 0).long(), labels=labels).loss
        loss.backward()  # outside the mode, as the Trainer's
        grads.append({k: p.grad for k, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name, grad in grads[0].items():
        assert torch.equal(grad, grads[1][name]), name


@pytest.mark.parametrize("has_bf16_instructions", [False, True])
def test_the_trainer_runs_bf16_matmuls_as_fp32_gemms_only_where_the_cpu_lacks_bf16(tmp_path, monkeypatch,
                                                                                  has_bf16_instructions):
    monkeypatch.setattr(bf16, "cpu_multiplies_bf16", lambda: has_bf16_instructions)
    caught = []
    original = bf16.Bf16MatmulsInFp32.__torch_function__

    def counting(self, func, types, args=(), kwargs=None):
        if func in bf16.MATMULS:
            caught.append(func)
        return original(self, func, types, args, kwargs)

    monkeypatch.setattr(bf16.Bf16MatmulsInFp32, "__torch_function__", counting)
    arguments = TrainingArguments(output_dir=str(tmp_path), max_steps=2, batch_size=8, learning_rate=1e-3,
                                  warmup_steps=0, log_every=1, progress=False, precision="bf16")
    result = Trainer(tiny_model(), arguments, tiny_data(), pad_token_id=0).train()
    assert result.precision == "bf16" and trainer_module.emulates_bf16("cpu") == (not has_bf16_instructions)
    assert bool(caught) == (not has_bf16_instructions)
    assert bf16.emulates_bf16("meta") is False


def test_the_cpu_description_names_the_model_and_its_widest_matrix_instructions(tmp_path):
    from bertgen.fast.cpu import cpu_description

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 fma\n")
    assert cpu_description(info) == "AMD EPYC, AVX2"
    info.write_text("model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16\n")
    assert cpu_description(info) == "Intel Xeon, AMX-BF16"
    assert cpu_description(tmp_path / "missing") == "unknown CPU"


def test_an_operand_changed_in_place_is_widened_again():
    """The mode reuses the operands it widened last (the fused loss's head weight, in every chunk): not once the
    tensor has changed."""
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(8, 16, generator=g), torch.randn(16, 4, generator=g)
    with bf16.autocast_bf16_via_fp32():
        first = a @ b
        again = a @ b
        a.mul_(2)
        doubled = a @ b
    assert torch.equal(first, again) and torch.equal(doubled, (2 * first.float()).bfloat16())
