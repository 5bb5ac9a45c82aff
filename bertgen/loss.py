"""The LM head's cross-entropy without the (tokens x vocabulary) logits: a fused, chunked linear + cross-entropy.

A training batch's logits are large (768 tokens x 30522 words: 94 MB in fp32, and as much again for their
log-softmax and its gradient), and they are written and read several times for what the loss needs from each
row: its log-sum-exp and the label's logit. So, as Liger-Kernel's fused linear cross entropy (Hsu et al. 2024),
the rows that have a label are taken a few hundred at a time, and each chunk's logits become its loss and at
once its gradient (softmax - one_hot), which goes into the gradients of the hidden states, the weight and the
bias; the next chunk reuses the buffers. All of this happens in the forward; the backward scales the stored
gradients by grad_output.

Under autocast the matmuls run in the autocast dtype (as F.linear would) and the softmax, the loss and the
weight/bias gradient sums in fp32.

Shapes: N tokens that have a label, H hidden size, V vocabulary size, c rows per chunk.
"""
from __future__ import annotations

import torch

IGNORE_INDEX = -100


class LinearCrossEntropy(torch.autograd.Function):
    """Mean over rows of cross_entropy(x @ weight.T + bias, y), every y a valid class."""

    @staticmethod
    def forward(ctx, x, weight, bias, y, dtype: torch.dtype, chunk_size: int, compute_grads: bool):
        (N, H), V, device = x.shape, weight.shape[0], x.device
        xs, w, b = x.to(dtype), weight.to(dtype), bias.to(dtype)  # (N, H), (V, H), (V,)
        loss = torch.zeros((), dtype=torch.float32, device=device)
        grad_x = torch.empty_like(xs)  # (N, H)
        # in fp32 the first chunk's product overwrites the weight gradient (beta=0): no zero fill of V x H first
        overwrite = dtype == torch.float32 and N > 0
        grad_w = (torch.empty if overwrite else torch.zeros)(V, H, dtype=torch.float32, device=device)
        grad_b = torch.zeros(V, dtype=torch.float32, device=device)
        # buffers reused by every chunk (on CPU a fresh tensor this large costs its page faults each time); in
        # fp32 the matmul and softmax buffers are one, and there is nothing to copy between them
        size = V * min(chunk_size, N)
        low = torch.empty(size, dtype=dtype, device=device)  # a chunk's logits, then its gradient, for matmuls
        high = low if dtype == torch.float32 else torch.empty(size, dtype=torch.float32, device=device)
        if dtype != torch.float32:  # the weight gradient's per-chunk product, and the same in fp32 to sum
            product, product32 = torch.empty_like(w), torch.empty_like(grad_w)
        for start in range(0, N, chunk_size):
            xc, yc = xs[start:start + chunk_size], y[start:start + chunk_size]  # (c, H), (c,)
            c = len(yc)
            rows = torch.arange(c, device=device)
            # vocabulary-major logits (V, c): CPU BLAS runs this GEMM faster than the (c, V) one (~20% in fp32)
            logits = torch.addmm(b[:, None], w, xc.t(), out=low[:V * c].view(V, c))
            if high is not low:
                logits = high[:V * c].view(V, c).copy_(logits)  # fp32
            label_logits = logits[yc, rows]  # (c,)
            top = logits.amax(dim=0)  # (c,)
            probs = logits.sub_(top).exp_()  # unnormalized softmax, in place: (V, c)
            total = probs.sum(dim=0)  # (c,)
            loss += (top + total.log() - label_logits).sum()  # log-sum-exp - label logit
            if not compute_grads:
                continue
            # d mean / d logits = (softmax - one_hot) / N: (V, c); with N = 0 there is no chunk, the loss is NaN
            # (as F.cross_entropy's) and the gradients are zero
            grad = probs.div_(total * N)
            grad[yc, rows] -= 1 / N
            grad_b += grad.sum(dim=1)
            if high is not low:
                grad = low[:V * c].view(V, c).copy_(grad)  # in the matmul dtype
            torch.mm(grad.t(), w, out=grad_x[start:start + c])  # (c, H)
            if dtype == torch.float32:
                grad_w.addmm_(grad, xc, beta=float(start > 0))  # accumulate inside the GEMM
            else:
                grad_w += product32.copy_(torch.mm(grad, xc, out=product))  # low-precision product, fp32 sum
        if compute_grads:
            ctx.save_for_backward(grad_x.to(x.dtype), grad_w.to(weight.dtype), grad_b.to(bias.dtype))
        return loss / N

    @staticmethod
    def backward(ctx, grad_output):
        # in place: the weight's gradient is as large as the weight; a second backward through the same graph
        # fails the saved tensors' version check instead of reusing scaled gradients
        grad_x, grad_w, grad_b = ctx.saved_tensors
        return grad_x.mul_(grad_output), grad_w.mul_(grad_output), grad_b.mul_(grad_output), None, None, None, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, labels: torch.Tensor,
                         chunk_size: int = 256) -> torch.Tensor:
    """`F.cross_entropy(F.linear(hidden, weight, bias).float(), labels, ignore_index=-100)` (the mean over the
    labels that are not -100; NaN when there are none, as F.cross_entropy) without the (..., V) logits.

    hidden (..., H), weight (V, H), bias (V,), labels (...). Under autocast the matmuls run in its dtype.
    """
    keep = labels.reshape(-1) != IGNORE_INDEX  # (B*T,)
    x = hidden.reshape(-1, hidden.shape[-1])[keep]  # (N, H)
    y = labels.reshape(-1)[keep]  # (N,)
    device = hidden.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype
    compute_grads = torch.is_grad_enabled() and any(t.requires_grad for t in (hidden, weight, bias))
    with torch.autocast(device, enabled=False):  # the dtypes are chosen above, not by autocast
        return LinearCrossEntropy.apply(x, weight, bias, y, dtype, chunk_size, compute_grads)


def head_logits_and_loss(head: torch.nn.Module, hidden: torch.Tensor, labels: torch.Tensor | None, shift: int,
                         logits_to_keep: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The LM head's logits (B, T, V), or of the last `logits_to_keep` positions only (generation reads the last),
    and the mean cross-entropy of position t against label t + shift over the labels that are not -100, as
    transformers computes it (in float32)."""
    T = hidden.shape[1]
    if logits_to_keep:  # generation needs only the last position: skip the (T-1) x V matmul
        hidden = hidden[:, -logits_to_keep:]
    logits = head(hidden)  # (B, T, V)
    loss = None
    if labels is not None:
        loss = torch.nn.functional.cross_entropy(logits[:, :T - shift].float().reshape(-1, logits.shape[-1]),
                                                 labels[:, shift:].reshape(-1), ignore_index=-100)
    return logits, loss
