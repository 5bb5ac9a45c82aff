"""The fused, chunked linear + cross-entropy equals F.cross_entropy(F.linear(...)) in value and gradients."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bertgen.loss import linear_cross_entropy

N, H, V = 37, 16, 53


def inputs(seed: int = 0, ignored: int = 5):
    """hidden (1, N, H) as a decoder gives it, weight (V, H), bias (V,), labels (1, N) with `ignored` -100s."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(N, H, generator=g).view(1, N, H).requires_grad_()
    weight = torch.randn(V, H, generator=g).requires_grad_()
    bias = torch.randn(V, generator=g).requires_grad_()
    labels = torch.randint(0, V, (1, N), generator=g)
    labels[0, torch.randperm(N, generator=g)[:ignored]] = -100
    return hidden, weight, bias, labels


def loss_and_grads(fn, hidden, weight, bias, labels, scale: float = 1.0):
    loss = fn(hidden, weight, bias, labels)
    return (loss, *torch.autograd.grad(loss * scale, (hidden, weight, bias)))


def reference(hidden, weight, bias, labels):
    logits = F.linear(hidden, weight, bias).float()  # (1, N, V)
    return F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)


@pytest.mark.parametrize("chunk_size", [1, 8, 32, 256])
def test_loss_and_gradients_equal_cross_entropy_of_the_logits(chunk_size):
    args = inputs()
    fused = lambda *a: linear_cross_entropy(*a, chunk_size=chunk_size)  # noqa: E731
    ours = loss_and_grads(fused, *args, scale=3.0)  # a grad_output other than 1 scales every gradient
    theirs = loss_and_grads(reference, *args, scale=3.0)
    for name, a, b in zip(("loss", "hidden", "weight", "bias"), ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert torch.allclose(a, b, atol=1e-5), name
    assert ours[1][0, (args[3][0] == -100)].abs().max() == 0  # ignored positions get no gradient


def test_all_labels_ignored_gives_nan_loss_and_zero_gradients_as_cross_entropy():
    args = inputs(ignored=N)
    ours, theirs = loss_and_grads(linear_cross_entropy, *args), loss_and_grads(reference, *args)
    assert ours[0].isnan() and theirs[0].isnan()
    for a, b in zip(ours[1:], theirs[1:]):
        assert torch.equal(a, b) and a.abs().max() == 0


def test_under_bf16_autocast_close_to_the_autocast_reference():
    args = inputs(seed=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = loss_and_grads(lambda *a: linear_cross_entropy(*a, chunk_size=8), *args)
        theirs = loss_and_grads(reference, *args)
    assert ours[0].dtype == torch.float32  # the loss is summed in fp32
    assert abs(ours[0].item() - theirs[0].item()) < 1e-2 * theirs[0].item()
    for name, a, b in zip(("hidden", "weight", "bias"), ours[1:], theirs[1:]):
        assert a.dtype == torch.float32, name  # gradients in the parameters' dtype
        assert (a - b).abs().max() < 2e-2 * b.abs().max(), name


def test_without_grad_only_the_loss():
    args = inputs()
    with torch.no_grad():
        loss = linear_cross_entropy(*args)
    assert loss.grad_fn is None
    assert torch.allclose(loss, reference(*args).detach(), atol=1e-5)
