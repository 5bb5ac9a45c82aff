"""Dropout for training on a CPU: the same distribution as torch's, a cheaper mask.

torch's CPU dropout draws its noise with `bernoulli_` and then divides it by 1 - p. Here the noise starts as random
integers in a float tensor (`random_()`: one 32-bit mt19937 draw modulo 2**24 + 1, cheaper than bernoulli's;
benchmarks/bench_training.py measures both), which two in-place passes turn into 0 where an integer falls below
round(p * (2**24 + 1)) and 1 / (1 - p) elsewhere: P(drop) = p to within 2**-23 (the rounding, and the modulo's
slight tilt against the top 256 values). The output is x * noise, as in torch, so autograd keeps the noise for the
backward. On other devices (CUDA has a fused dropout kernel), outside training, and for p within 2**-20 of 0 or 1
(where that resolution matters) this is `F.dropout`.

Random numbers come from torch's default generator, so `torch.manual_seed` makes the masks repeatable; they
are not the masks `F.dropout` draws from the same seed, so a seeded training run no longer repeats
transformers' loss for loss. BERTGEN_TORCH_DROPOUT=1 goes back to torch's dropout (and SDPA's attention
dropout, see modeling.attention.attention_with_dropout) for that.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

_DRAWS = 2**24 + 1  # random_() on float32 draws integers in [0, 2**24], each exactly representable
_RESOLUTION = 2**-20  # p nearer than this to 0 or 1 goes to F.dropout


def fast_cpu_dropout() -> bool:
    """Whether training on a CPU uses this module's dropout; BERTGEN_TORCH_DROPOUT=1 turns it off."""
    return os.environ.get("BERTGEN_TORCH_DROPOUT") != "1"


def dropout_noise(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Tensor of `shape`: 0 with probability p, else 1 / (1 - p), each element independently."""
    return noise_from_draws(torch.empty(shape, dtype=torch.float32, device=device).random_(), p, dtype)


def noise_from_draws(draws: torch.Tensor, p: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """float32 integers in [0, 2**24] (overwritten) -> 0 for the round(p * (2**24 + 1)) smallest, 1 / (1 - p) else."""
    kept = draws.ge_(round(p * _DRAWS)).to(dtype)  # 1.0 kept, 0.0 dropped
    return kept.mul_(1.0 / (1.0 - p))


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """`F.dropout(x, p, training)`: zero each element with probability p and scale the rest by 1 / (1 - p)."""
    if not training or x.device.type != "cpu" or not _RESOLUTION < p < 1.0 - _RESOLUTION or not fast_cpu_dropout():
        return F.dropout(x, p, training)  # also raises F.dropout's error for p outside [0, 1]
    return x * dropout_noise(x.shape, p, x.dtype, x.device)


class Dropout(nn.Dropout):
    """`nn.Dropout` (same arguments, same repr, no parameters) through `dropout` above."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            return super().forward(x)
        return dropout(x, self.p, self.training)
