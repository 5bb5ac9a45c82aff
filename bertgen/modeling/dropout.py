"""Dropout for training on a CPU at half torch's cost: the same distribution, a cheaper mask.

torch's CPU dropout draws its noise with `bernoulli_` (about 7 ns an element here) and then divides it by
1 - p. Here the noise starts as random integers in a float tensor (`random_()`: uniform over 0..2**24, one
mt19937 draw, about 3 ns), which two in-place passes turn into 0 where an integer falls below p * (2**24 + 1)
and 1 / (1 - p) elsewhere: P(keep) = 1 - p to within 2**-24, the resolution of `torch.rand`. The output is
x * noise, as in torch, so autograd keeps the noise for the backward. On other devices (CUDA has a fused
dropout kernel) and outside training this is `F.dropout`.

Random numbers come from torch's default generator, so `torch.manual_seed` makes the masks repeatable; they
are not the masks `F.dropout` would draw from the same seed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_DRAWS = 2**24 + 1  # random_() on float32 draws integers uniform over [0, 2**24], each exactly representable


def dropout_noise(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Tensor of `shape`: 0 with probability p, else 1 / (1 - p), each element independently."""
    noise = torch.empty(shape, dtype=torch.float32, device=device).random_()
    noise = noise.ge_(p * _DRAWS).to(dtype)  # 1.0 kept, 0.0 dropped
    return noise.mul_(1.0 / (1.0 - p))


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """`F.dropout(x, p, training)`: zero each element with probability p and scale the rest by 1 / (1 - p)."""
    if not training or x.device.type != "cpu" or not 0.0 < p < 1.0:
        return F.dropout(x, p, training)  # also raises F.dropout's error for p outside [0, 1]
    return x * dropout_noise(x.shape, p, x.dtype, x.device)


class Dropout(nn.Dropout):
    """`nn.Dropout` (same arguments, same repr, no parameters) through `dropout` above."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            return super().forward(x)
        return dropout(x, self.p, self.training)
