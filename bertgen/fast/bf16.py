"""bfloat16 autocast on a CPU without bfloat16 instructions: the same products, run as float32 GEMMs.

Under bf16 autocast a matmul rounds its operands to bfloat16, multiplies them, sums the products in float32 and
rounds the result to bfloat16. A CPU with AVX512-BF16 or AMX multiplies bfloat16 in hardware (oneDNN). Without
them torch falls back to a scalar bfloat16 GEMM: on an AVX2 machine a MiniLM training step took 65 s instead of
float32's 4.6 (benchmarks/README.md). But a product of two bfloat16 numbers (8 significant bits each) is exact in
float32 (24), so a float32 GEMM of the bfloat16-rounded operands, its result rounded to bfloat16, computes what
autocast computes, the products summed in another order (as two BLAS libraries sum them). The gradients follow
through the casts: each is rounded to bfloat16 where autocast's bfloat16 GEMM would round it.

`autocast_bf16_via_fp32()` is torch.autocast(bf16) with its matmuls run so: a TorchFunctionMode catches the
matmuls (F.linear, matmul, mm, addmm, bmm, baddbmm, including the bfloat16 ones bertgen.loss calls itself); every
other op autocast handles as before.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from bertgen.fast.cpu import cpu_multiplies_bf16

MATMULS = frozenset({F.linear, torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.Tensor.mm,
                     torch.addmm, torch.Tensor.addmm, torch.bmm, torch.Tensor.bmm, torch.baddbmm, torch.Tensor.baddbmm})
_ROUNDED = (torch.float32, torch.bfloat16)  # what autocast casts to bfloat16 (float64 it leaves alone)


def emulates_bf16(device: torch.device | str) -> bool:
    """Whether bf16 autocast on `device` runs its matmuls as float32 GEMMs (a CPU without bfloat16 instructions)."""
    return torch.device(device).type == "cpu" and not cpu_multiplies_bf16()


@contextlib.contextmanager
def autocast_bf16_via_fp32() -> Iterator[None]:
    """torch.autocast("cpu", dtype=torch.bfloat16) whose matmuls are float32 GEMMs of bfloat16-rounded operands."""
    with Bf16MatmulsInFp32(), torch.autocast("cpu", dtype=torch.bfloat16):
        yield


class Bf16MatmulsInFp32(TorchFunctionMode):
    """Runs each CPU matmul that bf16 autocast would run in bfloat16, or whose operands are bfloat16, as a float32
    GEMM of the bfloat16-rounded operands; the result (or `out=`) is bfloat16, as autocast's."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in MATMULS:
            return func(*args, **kwargs)
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        autocast = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        if not all(t.device.type == "cpu" for t in tensors) or not (
                autocast and any(t.dtype == torch.float32 for t in tensors)
                or any(t.dtype == torch.bfloat16 for t in tensors)):
            return func(*args, **kwargs)
        out = kwargs.pop("out", None)

        def widened(a):  # the bfloat16 value, held exactly in float32
            return a.to(torch.bfloat16).float() if isinstance(a, torch.Tensor) and a.dtype in _ROUNDED else a

        with torch.autocast("cpu", enabled=False):
            result = func(*map(widened, args), **{k: widened(v) for k, v in kwargs.items()}).to(torch.bfloat16)
        return result if out is None else out.copy_(result)
