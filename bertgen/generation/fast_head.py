"""The output layer of a decoding step in the weight layout that reads fastest on a CPU.

Decoding reads the (V, H) output matrix once per step, the largest read of the step; see FastHead for the
layouts and benchmarks/bench_generation.py for what they save. The oneDNN path uses private torch ops:
tests/generation/test_fast_head.py fails if a torch upgrade drops them.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import nn

_FAST_HEADS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FastHead:
    """The output layer in the weight layout that reads fastest for the rows at hand. Its (V, H) matrix is
    the largest thing a decoding step reads, and torch's default GEMM streams it 1.5-3x slower than it
    could (profiled on MiniLM's 30522 x 384, 1 to 32 rows): for one row, a contiguous (H, V) transpose;
    for more, oneDNN's prepacked blocks. In bfloat16, oneDNN's blocks for any rows (~1.8x F.linear's speed for
    one row). Each layout is a copy of the weight, made on first use and kept beside the model until the weight
    changes. Same products, summed in another order: the logits differ from `F.linear`'s by float rounding
    (~1e-6 relative in float32). The logits come back in float32, as generate scores them."""

    def __init__(self, linear: nn.Linear):
        self.version = self.state(linear)
        self.weight, self.bias = linear.weight.detach(), linear.bias.detach()
        self.transposed = self.packed = None

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:  # (rows, H) -> (rows, V) float32
        if hidden.shape[0] == 1 and self.weight.dtype == torch.float32:
            if self.transposed is None:
                self.transposed = self.weight.t().contiguous()  # (H, V)
            return torch.addmm(self.bias, hidden, self.transposed)
        if self.packed is None:
            self.packed = self._pack()
        if self.packed is False:
            return F.linear(hidden, self.weight, self.bias).float()
        return torch.ops.mkldnn._linear_pointwise(hidden, self.packed, self.bias, "none", [], "").float()

    def _pack(self) -> torch.Tensor | bool:
        """oneDNN's layout of the weight, or False where this torch build has no (compatible) oneDNN."""
        if not torch.backends.mkldnn.is_available():
            return False
        try:
            return torch.ops.mkldnn._reorder_linear_weight(self.weight, None)
        except (RuntimeError, AttributeError):
            return False

    @staticmethod
    def state(linear: nn.Linear) -> tuple[int, ...]:
        """Changes when the weights do: trained in place (version) or replaced (storage)."""
        w, b = linear.weight, linear.bias
        return w._version, w.data_ptr(), b._version, b.data_ptr()

    @classmethod
    def get(cls, linear) -> FastHead | None:
        """The fast head of `linear`, or None where the plain layer should run (GPU, float16, quantized or
        bias-free layers)."""
        usable = (type(linear) is nn.Linear and linear.bias is not None and linear.weight.device.type == "cpu"
                  and linear.weight.dtype in (torch.float32, torch.bfloat16))
        if not usable:
            return None
        head = _FAST_HEADS.get(linear)
        if head is None or head.version != cls.state(linear):
            head = _FAST_HEADS[linear] = cls(linear)
        return head
