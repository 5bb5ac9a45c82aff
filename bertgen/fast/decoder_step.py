"""The decoder's one-token step as a flat loop of torch calls over weights in the layout that reads fastest.

A decoding step multiplies a few rows by every decoder weight, so its cost is reading the weights plus what
runs around each read. Through the modules, every layer costs ~25 module calls, an input check with host
syncs, mask building and three separate q/k/v products. Here, for a CPU model in float32 or bfloat16 in eval
mode, each layer's weights are copied once into the layout its dtype reads fastest (profiled on MiniLM's
shapes, 1 to 32 rows: float32 as contiguous (in, out) transposes for `addmm`, 1.2-2x faster than F.linear's
(out, in); bfloat16 as oneDNN's prepacked blocks, ~2x faster than F.linear), self-attention's q/k/v fused
into one (H, 3H) product and cross-attention's k/v into one (H, 2H), and a step is one embedding lookup and
per layer 7 products, 2 attentions, 3 LayerNorms and an activation: no module dispatch, no checks (generate
checked its inputs once), no host syncs.

The copies live beside the model (weakly keyed, like FastHead's) until a weight changes; they double the
decoder body's memory while they live. Same products summed in other orders: hidden states differ from the
modules' by float rounding (~1e-6 relative in float32); tests/generation compares tokens with transformers.

The beams of one input attend to one encoder output: with `group` = beams, cross-attention keys/values and
the source mask hold one row per input, and the beams' queries meet them in one attention call as `group`
queries of that input (reading each input's keys/values once per step, not once per beam).

Shapes: R rows (inputs x beams still decoding), G rows per input (`group`), A = R / G inputs, H hidden,
nh heads, hs head size, S source length, L cached positions.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import nn

from bertgen.activations import ACT2FN
from bertgen.cache import KVCache

_FAST_DECODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
DTYPES = (torch.float32, torch.bfloat16)


class PackedLinear:
    """`F.linear(x, weight, bias)` for (rows, in) -> (rows, out), the weight in its dtype's fastest layout."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        self.bias = bias.detach().contiguous()
        self.packed = None
        if weight.dtype == torch.bfloat16 and torch.backends.mkldnn.is_available():
            try:
                self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), None)
            except (RuntimeError, AttributeError):  # a torch build without (this) oneDNN op: the plain layout
                self.packed = None
        self.transposed = None if self.packed is not None else weight.detach().t().contiguous()  # (in, out)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        return torch.addmm(self.bias, x, self.transposed)


def _fused(*linears: nn.Linear) -> PackedLinear:
    """Several linears reading the same input as one product: (rows, in) -> (rows, sum of outs)."""
    return PackedLinear(torch.cat([m.weight for m in linears]), torch.cat([m.bias for m in linears]))


class _Layer:
    """One decoder layer's weights, packed: self-attention, cross-attention, feed-forward."""

    def __init__(self, layer):
        attention, cross = layer.attention, layer.crossattention
        self.qkv = _fused(attention.self.query, attention.self.key, attention.self.value)  # (H, 3H)
        self.attention_out = PackedLinear(attention.output.dense.weight, attention.output.dense.bias)
        self.ln_attention = _norm(attention.output.LayerNorm)
        self.cross_q = PackedLinear(cross.self.query.weight, cross.self.query.bias)
        self.cross_kv = _fused(cross.self.key, cross.self.value)  # (H, 2H), once per generate call
        self.cross_out = PackedLinear(cross.output.dense.weight, cross.output.dense.bias)
        self.ln_cross = _norm(cross.output.LayerNorm)
        self.ffn_in = PackedLinear(layer.intermediate.dense.weight, layer.intermediate.dense.bias)
        self.ffn_out = PackedLinear(layer.output.dense.weight, layer.output.dense.bias)
        self.ln_ffn = _norm(layer.output.LayerNorm)


def _norm(norm: nn.LayerNorm) -> tuple:
    """A LayerNorm's (shape, weight, bias, eps) for `torch.layer_norm(x, *norm)`: the same kernel as the module's,
    without its attribute lookups and F.layer_norm's dispatch checks (19 calls a step)."""
    return norm.normalized_shape, norm.weight.detach(), norm.bias.detach(), norm.eps


class FastDecoder:
    """`decoder.bert(ids, ...)` for one new token per row against a KVCache, returning (R, H) hidden states."""

    def __init__(self, decoder):
        body, config = decoder.bert, decoder.config
        self.version = self.state(decoder)
        self.nh, self.hs = config.num_attention_heads, config.head_size
        embeddings = body.embeddings
        self.words = embeddings.word_embeddings.weight.detach()  # (V, H)
        self.positions = embeddings.position_embeddings.weight.detach()  # (P, H)
        self.ln_embeddings = _norm(embeddings.LayerNorm)
        self.act = ACT2FN[config.hidden_act]
        self.layers = [_Layer(layer) for layer in body.encoder.layer]

    def cross_keys_values(self, cache: KVCache, encoder_states: torch.Tensor) -> None:
        """Every layer's cross-attention keys/values from the (A, S, H) encoder output, into the cache."""
        A, S, H = encoder_states.shape
        flat = encoder_states.reshape(A * S, H)
        for i, layer in enumerate(self.layers):
            kv = layer.cross_kv(flat).view(A, S, 2, self.nh, self.hs)  # (A, S, 2, nh, hs)
            cache.cross[i] = (kv[:, :, 0].transpose(1, 2).contiguous(),  # (A, nh, S, hs)
                              kv[:, :, 1].transpose(1, 2).contiguous())

    def __call__(self, ids: torch.Tensor, cache: KVCache, encoder_states: torch.Tensor,
                 cross_mask: torch.Tensor | None, group: int = 1) -> torch.Tensor:
        """ids (R,) the newest token of each row -> (R, H). encoder_states (A, S, H) and cross_mask (A, 1, 1, S)
        bool (True = attend) or None: one row per `group` consecutive rows."""
        R, nh, hs = ids.shape[0], self.nh, self.hs
        if cache.cross[0] is None:
            self.cross_keys_values(cache, encoder_states)
        position = cache.get_seq_length()
        x = torch.layer_norm(self.words[ids] + self.positions[position], *self.ln_embeddings)  # (R, H)
        for i, layer in enumerate(self.layers):
            qkv = layer.qkv(x).view(R, 3, nh, 1, hs)  # (R, 3, nh, 1, hs)
            k, v = cache.update(i, qkv[:, 1], qkv[:, 2])  # (R, nh, L, hs): every cached position is in the past
            y = F.scaled_dot_product_attention(qkv[:, 0], k, v)  # (R, nh, 1, hs)
            x = torch.layer_norm(layer.attention_out(y.reshape(R, nh * hs)).add_(x), *layer.ln_attention)  # (R, H)
            k, v = cache.cross[i]  # (A, nh, S, hs)
            q = layer.cross_q(x).view(-1, group, nh, hs).transpose(1, 2)  # (A, nh, G, hs): an input's rows together
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=cross_mask)  # (A, nh, G, hs)
            x = torch.layer_norm(layer.cross_out(y.transpose(1, 2).reshape(R, nh * hs)).add_(x), *layer.ln_cross)
            x = torch.layer_norm(layer.ffn_out(self.act(layer.ffn_in(x))).add_(x), *layer.ln_ffn)  # (R, H)
        return x

    @staticmethod
    def state(decoder) -> tuple[int, ...]:
        """Changes when any weight does: trained in place (version) or replaced (storage)."""
        return tuple(v for p in decoder.bert.parameters() for v in (p._version, p.data_ptr()))

    @classmethod
    def get(cls, decoder) -> FastDecoder | None:
        """The fast step of `decoder`, or None where the modules should run: not CPU, not float32/bfloat16,
        training mode (dropout), no cross-attention, or layers replaced (quantized, adapters)."""
        body = getattr(decoder, "bert", None)
        if body is None:  # a GPT-2 decoder: its modules run (the fast step is BertGeneration's layout)
            return None
        layers = list(body.encoder.layer)
        weight = body.embeddings.word_embeddings.weight
        usable = (weight.device.type == "cpu" and weight.dtype in DTYPES and not decoder.training
                  and decoder.config.model_type == "bert-generation"  # BERT / RoBERTa stacks: the modules
                  and decoder.config.add_cross_attention and decoder.config.hidden_act in ACT2FN
                  and all(hasattr(layer, "crossattention") for layer in layers))
        if usable:
            linears = [m for layer in layers for m in layer.modules() if isinstance(m, nn.Linear)]
            usable = all(type(m) is nn.Linear and m.bias is not None and m.weight.dtype == weight.dtype
                         for m in linears) and len(linears) == 10 * len(layers)
        if not usable:
            return None
        fast = _FAST_DECODERS.get(decoder)
        if fast is None or fast.version != cls.state(decoder):
            fast = _FAST_DECODERS[decoder] = cls(decoder)
        return fast
