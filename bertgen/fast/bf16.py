"""bfloat16 autocast on a CPU without bfloat16 instructions: the same products, run as float32 GEMMs.

Under bf16 autocast a matmul rounds its operands to bfloat16, multiplies them, sums the products in float32 and
rounds the result to bfloat16. A CPU with AVX512-BF16 or AMX multiplies bfloat16 in hardware (oneDNN). With AVX2
alone, oneDNN refuses bfloat16 and torch falls back to a scalar bfloat16 GEMM: a MiniLM training step took 89 s
instead of float32's 4.5 (benchmarks/README.md). But a product of two bfloat16 numbers (8 significant bits each) is
exact in float32 (24), so a float32 GEMM of the bfloat16-rounded operands, its result rounded to bfloat16, computes
what autocast computes, the products summed in another order (as two BLAS libraries sum them). The gradients
follow through the casts: each is rounded to bfloat16 where autocast's bfloat16 GEMM would round it.

`autocast_bf16_via_fp32()` is torch.autocast(bf16) with its matmuls run so: a TorchFunctionMode catches F.linear,
matmul, mm, addmm, bmm and baddbmm (with `out=`, the bfloat16 products bertgen.loss writes itself). Everything else
autocast handles as before, scaled_dot_product_attention included (torch's CPU kernel is fast in bfloat16), and so
do einsum and the rarer matmuls (addbmm, mv, dot, tensordot), which bertgen's models do not call.
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
MAX_WIDENED = 4  # widened operands kept for reuse, the most recently used (bertgen.loss uses 3 between two of w)


def emulates_bf16(device: torch.device | str) -> bool:
    """Whether bf16 autocast on `device` runs its matmuls as float32 GEMMs (a CPU without bfloat16 instructions)."""
    return torch.device(device).type == "cpu" and not cpu_multiplies_bf16()


@contextlib.contextmanager
def autocast_bf16_via_fp32() -> Iterator[None]:
    """torch.autocast("cpu", dtype=torch.bfloat16) whose matmuls are float32 GEMMs of bfloat16-rounded operands."""
    with Bf16MatmulsInFp32(), torch.autocast("cpu", dtype=torch.bfloat16):
        yield


def checkpoint_contexts() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
    """torch.utils.checkpoint's `context_fn`: a checkpointed layer is recomputed in backward, outside the forward's
    contexts. checkpoint restores autocast itself; this runs the recomputation's matmuls as the forward ran them."""
    return contextlib.nullcontext(), Bf16MatmulsInFp32() if Bf16MatmulsInFp32.active else contextlib.nullcontext()


class Bf16MatmulsInFp32(TorchFunctionMode):
    """Runs each CPU matmul that bf16 autocast would run in bfloat16 (or, autocast off, one of bfloat16 operands)
    as a float32 GEMM of the bfloat16-rounded operands, its result bfloat16 as autocast's. An `out=` call (which
    autocast leaves alone) is taken over only where `out` is bfloat16."""

    active = 0  # modes entered and not yet left (checkpoint_contexts)

    def __init__(self):
        super().__init__()
        # the last operands widened, each with the tensor, its version and the grad mode it was widened under: the
        # fused loss multiplies by the same bfloat16 head weight (V x H) twice in every chunk, 26 widenings of 47 MB
        # a step
        self._widened: list[tuple[torch.Tensor, int, bool, torch.Tensor]] = []

    def _widen(self, a):
        """The bfloat16 value of a float32 or bfloat16 tensor, held exactly in float32 (anything else as it is)."""
        if not isinstance(a, torch.Tensor) or a.dtype not in _ROUNDED:
            return a
        key = (a._version, torch.is_grad_enabled())
        hit = next((entry for entry in self._widened if entry[0] is a and entry[1:3] == key), None)
        entry = hit or (a, *key, a.to(torch.bfloat16).float())
        self._widened = [entry, *[e for e in self._widened if e is not hit][:MAX_WIDENED - 1]]  # most recent first
        return entry[3]

    def __enter__(self):
        Bf16MatmulsInFp32.active += 1
        return super().__enter__()

    def __exit__(self, *exc_info):
        Bf16MatmulsInFp32.active -= 1
        return super().__exit__(*exc_info)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in MATMULS:
            return func(*args, **kwargs)
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        out = kwargs.get("out")
        autocast = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        if out is not None:
            ours = out.dtype == torch.bfloat16
        else:
            ours = (autocast and any(t.dtype == torch.float32 for t in tensors)
                    or all(t.dtype == torch.bfloat16 for t in tensors))
        if not ours or not all(t.device.type == "cpu" for t in tensors):
            return func(*args, **kwargs)
        kwargs.pop("out", None)
        with torch.autocast("cpu", enabled=False):
            result = func(*map(self._widen, args), **{k: self._widen(v) for k, v in kwargs.items()}).to(torch.bfloat16)
        return result if out is None else out.copy_(result)
