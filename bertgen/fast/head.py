"""The output layer of a decoding step in the weight layout that reads fastest on a CPU.

Decoding reads the (V, H) output matrix once per step, the largest read of the step; see FastHead for the
layouts and benchmarks/bench_generation.py for what they save. The oneDNN path uses private torch ops:
tests/fast/test_head.py fails if a torch upgrade drops them.

Greedy decoding needs only each row's best token, not its V logits, so `FastHead.greedy_tokens` reads a
bfloat16 copy of the matrix instead (half the bytes) and bounds how far each bfloat16 logit can be from the
float32 one: a token whose upper bound falls below the best lower bound of its row cannot win, and the few that
can are scored again in float32. The token is the float32 head's, decided on float32 logits.
"""
from __future__ import annotations

import math
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from bertgen.fast.cpu import cpu_multiplies_bf16
from bertgen.fast.weights_seen import WeightsSeen

_FAST_HEADS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Rows per step up to which the screen pays (the break-even measured on MiniLM's head): beyond it, bfloat16's
# products cost more than the bytes they save.
SCREEN_MAX_ROWS = 8
MAX_RESCORED_SHARE = 16  # rescoring more than 1/16 of the vocabulary in float32 costs more than the full head


class FastHead:
    """The output layer in the weight layout that reads fastest for the rows at hand. Its (V, H) matrix is
    the largest thing a decoding step reads, and torch's default GEMM streams it slower than it could
    (benchmarks/README.md has the figures): for one row, a contiguous (H, V) transpose; for more, oneDNN's
    prepacked blocks. In bfloat16, oneDNN's blocks for any rows. Each layout is a copy of the weight, made on first use and kept beside the model until the weight
    changes. Same products, summed in another order: the logits differ from `F.linear`'s by float rounding
    (~1e-6 relative in float32). The logits come back in float32, as generate scores them."""

    def __init__(self, linear: nn.Linear):
        self.seen = WeightsSeen(self.weights(linear))
        bias = linear.bias if linear.bias is not None else linear.weight.new_zeros(linear.out_features)  # GPT-2's
        self.weight, self.bias = linear.weight.detach(), bias.detach()
        self.transposed = self.packed = self.screen = None

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

    def greedy_tokens(self, hidden: torch.Tensor, process) -> torch.Tensor | None:
        """(rows, H) -> (rows,) each row's first maximum of `process(logits)`, as `process(self(hidden)).max(-1)`
        picks it, reading the matrix in bfloat16 (see the module's docstring). `process` may only mask scores
        (set them to -inf, as n-gram blocking and minimum length do), whatever their values. None, and the
        caller scores in full, where the screen cannot run (weights not float32, more than SCREEN_MAX_ROWS rows,
        a CPU without bfloat16 instructions, no oneDNN) or cannot decide cheaply (a row with every score masked,
        a bound or score not finite, or so many near-best tokens that rescoring them would cost more)."""
        if hidden.shape[0] > SCREEN_MAX_ROWS:
            return None
        if self.screen is None:  # built on first use, like the other layouts
            self.screen = BfloatScreen.build(self.weight, self.bias) or False
        if self.screen is False:
            return None
        logits, bound = self.screen(hidden)  # (rows, V), (rows, 1)
        scores = process(logits)
        # the winner's float32 score is at least best - bound, so a token below best - 2 bounds cannot win
        threshold = scores.amax(-1, keepdim=True) - 2 * bound  # (rows, 1)
        if not bool(torch.isfinite(threshold).all()):
            return None
        rows, tokens = (scores >= threshold).nonzero(as_tuple=True)  # (k,) each, in (row, token) order
        if len(tokens) > max(scores.numel() // MAX_RESCORED_SHARE, 64):  # a few dozen are cheap at any size
            return None
        exact = (self.weight[tokens] * hidden[rows]).sum(-1) + self.bias[tokens]  # (k,) float32 logits
        R = hidden.shape[0]
        row_max = exact.new_full((R,), -math.inf).scatter_reduce(0, rows, exact, "amax")  # (R,)
        top = exact == row_max[rows]  # (k,)
        # the first maximum of each row, as max() over the full float32 logits picks it
        return tokens.new_full((R,), scores.shape[-1]).scatter_reduce(0, rows[top], tokens[top], "amin")

    def _pack(self) -> torch.Tensor | bool:
        """oneDNN's layout of the weight, or False where this torch build has no (compatible) oneDNN."""
        if not torch.backends.mkldnn.is_available():
            return False
        try:
            return torch.ops.mkldnn._reorder_linear_weight(self.weight, None)
        except (RuntimeError, AttributeError):
            return False

    @staticmethod
    def weights(linear: nn.Linear) -> list[torch.Tensor]:
        """What the layouts copy: a change to these makes a fresh head (bertgen.fast.weights_seen)."""
        return [linear.weight] + ([linear.bias] if linear.bias is not None else [])

    @classmethod
    def get(cls, linear) -> FastHead | None:
        """The fast head of `linear`, or None where the plain layer should run (GPU, float16 or quantized
        layers, or under CPU autocast, whose dtypes only the plain layer follows). A bias-free layer (GPT-2's
        head) gets a zero bias."""
        usable = (type(linear) is nn.Linear and linear.weight.device.type == "cpu"
                  and linear.weight.dtype in (torch.float32, torch.bfloat16) and not torch.is_autocast_enabled("cpu"))
        if not usable:
            return None
        head = _FAST_HEADS.get(linear)
        if head is None or head.seen.changed(cls.weights(linear)):
            head = _FAST_HEADS[linear] = cls(linear)
        return head


class BfloatScreen:
    """A float32 linear layer's (V, H) matrix in bfloat16 (oneDNN's layout), and a bound on how far its logits
    are from float32's, one per hidden state x: for every row w_v of the matrix and b_v of the bias,
    |bf16 logit - float32 logit| <= ROUNDING |x| max_v |w_v| + TINY (Euclidean norms), where
    ROUNDING = (3 * 2**-8 + 2**-13 + 2 H 2**-24)(1 + 4 H 2**-24) and TINY = 2**-22 max_v |b_v| + (H + sqrt(H)
    max_v |w_v|) 2**-125:
    - rounding x and w_v to bfloat16 (8 significant bits) moves each factor by at most 2**-8 of itself, so each
      product by at most 2 * 2**-8 + 2**-16 of |x_i w_vi|, and the sum of the |x_i w_vi| is at most |x| |w_v|
      (Cauchy-Schwarz);
    - the float32 sums of H products, on both sides, err by at most H * 2**-24 of that sum each;
    - oneDNN writes the product in bfloat16: at most 2**-8 of it, so of |x| |w_v| (1 + 2**-7);
    - adding the bias in float32, on both sides: at most 2**-24 of each sum;
    - the two norms, computed in float32, may come out low by H * 2**-24 of themselves each (the last factor);
    - subnormal numbers, which oneDNN reads as zero, and products that underflow: TINY's second term.
    The norm of x must itself be exact to float32's precision: a row whose norm is under 2**-50 (or not finite)
    gets an infinite bound, which makes the caller score it in full. One bound per row rather than per logit: a
    little looser, and no pass over the vocabulary to compute it.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, packed: torch.Tensor):
        self.packed, self.bias = packed, bias
        H, largest_row = weight.shape[1], float(weight.norm(dim=1).max())
        rounding = (3 * 2**-8 + 2**-13 + 2 * H * 2**-24) * (1 + 4 * H * 2**-24)
        self.scale = rounding * largest_row  # times |x|
        self.tiny = 2**-22 * float(bias.abs().max()) + (H + math.sqrt(H) * largest_row) * 2**-125

    @classmethod
    def build(cls, weight: torch.Tensor, bias: torch.Tensor) -> BfloatScreen | None:
        """The screen of a layer, or None where it would not pay or cannot run: not float32, a CPU without
        bfloat16 instructions (oneDNN would emulate them), or a torch build without oneDNN's linear ops."""
        if weight.dtype != torch.float32 or not cpu_multiplies_bf16() or not torch.backends.mkldnn.is_available():
            return None
        try:
            return cls(weight, bias, torch.ops.mkldnn._reorder_linear_weight(weight.bfloat16(), None))
        except (RuntimeError, AttributeError):
            return None

    def __call__(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, H) float32 -> the bfloat16 logits in float32, (rows, V), and each row's bound on their error,
        (rows, 1): infinite where |x| is too small to be computed exactly."""
        product = torch.ops.mkldnn._linear_pointwise(hidden.bfloat16(), self.packed, None, "none", [], "")
        norm = hidden.norm(dim=1, keepdim=True)  # (rows, 1)
        bound = (norm * self.scale + self.tiny).masked_fill_(norm < 2**-50, math.inf)
        return product.float().add_(self.bias), bound
