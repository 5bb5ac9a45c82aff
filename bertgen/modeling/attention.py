"""Attention, once for every model here: the masks, `attend` (softmax(q k^T * scale + mask) v), and LayerInputs,
what a layer's attentions read besides the hidden states.

`attend` picks one of three ways to compute the same formula, by what the call asks for:
- attention maps (`output_attentions`): written out, as transformers' eager attention, so the weights exist;
- dropout on a CPU in training: written out with `bertgen.fast.dropout`'s cheaper noise
  (`attention_with_dropout`); BERTGEN_TORCH_DROPOUT=1 sends this case to SDPA as well;
- everything else: `torch.nn.functional.scaled_dot_product_attention` (SDPA), which fuses it.

Masks are boolean, True = attend, as transformers passes them to SDPA: a query whose keys are all masked gets a
zero output (an additive -inf bias would give NaN), which is what the reference computes for an empty input.

Shapes: B batch, nh heads, hs head size, T queries (this call), L keys (cached + T, or the source length S).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bertgen.cache import KVCache
from bertgen.fast.dropout import dropout, fast_cpu_dropout
from bertgen.modeling.packing import Packing


def padding_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, L) 1 = attend / 0 = padding  ->  boolean (B, 1, 1, L), True = attend; None when nothing is masked."""
    if mask is None or bool(mask.all()):
        return None
    return mask.bool()[:, None, None, :]


def causal_mask(query_length: int, key_length: int, device: torch.device) -> torch.Tensor:
    """(1, 1, T, L) boolean: query i, at absolute position L - T + i, may attend to keys 0..L - T + i."""
    offset = key_length - query_length
    return torch.ones(query_length, key_length, dtype=torch.bool, device=device).tril(offset)[None, None]


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
           is_causal: bool = False, dropout_p: float = 0.0, scale: float | None = None,
           output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """q (B, nh, T, hs), k and v (B, nh, L, hs) -> (B, nh, T, hs), and the (B, nh, T, L) weights when
    `output_attentions` (else None).

    `mask` broadcastable to (B, nh, T, L), True = attend. `is_causal` adds the causal mask aligned to the last
    query (query i at position L - T + i, as a cached decoder's queries are). `dropout_p` (0 outside training)
    drops attention weights. `scale` multiplies the scores; None divides them by sqrt(hs)."""
    T, L = q.shape[-2], k.shape[-2]
    if is_causal and T == 1:  # one new query at the last position: every cached key is in its past
        is_causal = False
    elif is_causal and (mask is not None or T != L or output_attentions):
        # SDPA's is_causal assumes T == L and no other mask: fold causality into the mask instead
        causal = causal_mask(T, L, q.device)
        mask, is_causal = causal if mask is None else mask & causal, False
    if output_attentions:  # the explicit path, for attention maps
        scores = q @ k.transpose(-2, -1)  # (B, nh, T, L); scaled as each reference does (BERT divides)
        scores = scores / math.sqrt(q.shape[-1]) if scale is None else scores * scale
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = dropout(scores.softmax(dim=-1), dropout_p)
        return weights @ v, weights
    if dropout_p > 0 and q.device.type == "cpu" and fast_cpu_dropout():
        return attention_with_dropout(q, k, v, mask, is_causal, dropout_p, scale), None
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal,
                                          scale=scale), None


def attention_with_dropout(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                           is_causal: bool, p: float, scale: float | None = None) -> torch.Tensor:
    """softmax(q k^T * scale + mask) @ v with dropout p on the weights, for training on a CPU.

    What `F.scaled_dot_product_attention(q, k, v, mask, p)` computes, but its CPU math path (the only one with
    dropout) adds passes of its own (a "safe" softmax's isneginf/all/where, q and k scaled apart) and draws its
    mask with bernoulli_; this is the plain formula with fast.dropout's noise. As in the math path, float16
    and bfloat16 inputs are computed in float32 and the output cast back. Arguments as `attend`'s.
    """
    if q.dtype in (torch.float16, torch.bfloat16):
        with torch.autocast(q.device.type, enabled=False):
            return attention_with_dropout(q.float(), k.float(), v.float(), mask, is_causal, p, scale).to(q.dtype)
    if is_causal:
        causal = causal_mask(q.shape[-2], k.shape[-2], q.device)
        mask = causal if mask is None else mask & causal
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q * scale) @ k.transpose(-2, -1)  # (B, nh, T, L)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = scores.softmax(dim=-1)
    if mask is not None:
        attends = mask.any(dim=-1, keepdim=True)  # (B or 1, 1, T or 1, 1)
        if not bool(attends.all()):  # a query with no key to attend to gets a zero output, as in SDPA
            weights = weights * attends
    return dropout(weights, p) @ v  # (B, nh, T, hs)


@dataclass(frozen=True)
class LayerInputs:
    """What each layer of one forward pass reads besides its hidden states, built once by the stack and passed
    whole: to every layer, and through gradient checkpointing. The defaults run a layer alone, unmasked."""

    self_mask: torch.Tensor | None = None  # (B, 1, 1, L) bool, True = attend; None: no padding
    is_causal: bool = False  # self-attention sees only the past (a decoder)
    encoder_hidden_states: torch.Tensor | None = None  # (B, S, H), (N_S, H) packed; None: no cross-attention
    cross_mask: torch.Tensor | None = None  # (B, 1, 1, S) bool over the encoder's positions
    cache: KVCache | None = None  # keys and values of earlier calls, extended by this one
    output_attentions: bool = False
    packing: Packing | None = None  # the hidden states are these kept positions, (N, H) (modeling.packing)
    encoder_packing: Packing | None = None  # encoder_hidden_states are packed so
