"""The decoder's one-token step as a flat loop of torch calls over weights in the layout that reads fastest.

A decoding step multiplies a few rows by every decoder weight, so its cost is reading the weights plus what
runs around each read. Through the modules, every layer costs ~25 module calls, an input check with host
syncs, mask building and separate products. Here, for a CPU model in float32 or bfloat16 in eval mode, each
layer's weights are held once in the layout its dtype reads fastest (profiled on MiniLM's shapes, 1 to 32 rows:
float32 as contiguous (in, out) matrices for `addmm`, 1.2-2x faster than F.linear's (out, in); bfloat16 as
oneDNN's prepacked blocks, ~2x faster than F.linear), self-attention's q/k/v as one (H, 3H) product and
cross-attention's k/v as one (H, 2H), and a step is one embedding lookup and per layer 6 products, 2 attentions,
3 LayerNorms and an activation: no module dispatch, no checks (generate checked its inputs once), no host syncs.

Two layouts, one class each over a shared skeleton (the attentions, the cross-attention keys/values, the cache
of packed weights):
- `BertGenerationStep`: BertGeneration's post-LN layers (x = LayerNorm(x + sublayer(x))), nn.Linear weights
  (out, in), copied into (in, out) and q/k/v fused.
- `GPT2Step`: GPT-2's pre-LN blocks (x = x + sublayer(LayerNorm(x)), then ln_f), Conv1D weights, which are
  (in, out) and q/k/v (c_attn) and cross-attention k/v (crossattention.c_attn) fused already: in float32 the
  step reads the model's own tensors, no copy.

The packed weights live beside the model (weakly keyed, like FastHead's) until a weight changes; where they are
copies they double the decoder body's memory while they live. Same products summed in other orders: hidden
states differ from the modules' by float rounding (~1e-6 relative in float32); tests/generation and
tests/modeling compare tokens with transformers.

The beams of one input attend to one encoder output: with `group` = beams, cross-attention keys/values and
the source mask hold one row per input, and the beams' queries meet them in one attention call as `group`
queries of that input (reading each input's keys/values once per step, not once per beam).

Shapes: R rows (inputs x beams still decoding), G rows per input (`group`), A = R / G inputs, H hidden,
nh heads, hs head size, S source length, L cached positions.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bertgen.activations import ACT2FN
from bertgen.cache import KVCache
from bertgen.fast.weights_seen import WeightsSeen

_FAST_DECODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
DTYPES = (torch.float32, torch.bfloat16)


class PackedLinear:
    """x @ W + b for (rows, in) -> (rows, out), W in its dtype's fastest layout. `weight` is (out, in), as
    nn.Linear's, or with `in_out` (in, out), as GPT-2's Conv1D: float32 then reads it as it is."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, in_out: bool = False):
        self.bias = bias.detach().contiguous()
        weight = weight.detach().t() if in_out else weight.detach()  # (out, in), possibly a view
        self.packed = None
        if weight.dtype == torch.bfloat16 and torch.backends.mkldnn.is_available():
            try:
                self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), None)
            except (RuntimeError, AttributeError):  # a torch build without (this) oneDNN op: the plain layout
                self.packed = None
        self.transposed = None if self.packed is not None else weight.t().contiguous()  # (in, out)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")
        return torch.addmm(self.bias, x, self.transposed)


def _linear(*linears: nn.Linear) -> PackedLinear:
    """nn.Linears reading the same input as one product: (rows, in) -> (rows, sum of outs)."""
    return PackedLinear(torch.cat([m.weight for m in linears]), torch.cat([m.bias for m in linears]))


def _conv1d(conv: nn.Module) -> PackedLinear:
    """A GPT-2 Conv1D: its (in, out) weight is addmm's layout already."""
    return PackedLinear(conv.weight, conv.bias, in_out=True)


def _norm(norm: nn.LayerNorm) -> tuple:
    """A LayerNorm's (shape, weight, bias, eps) for `torch.layer_norm(x, *norm)`: the same kernel as the module's,
    without its attribute lookups and F.layer_norm's dispatch checks (19 calls a step)."""
    return norm.normalized_shape, norm.weight.detach(), norm.bias.detach(), norm.eps


@dataclass
class _Layer:
    """One decoder layer's products and LayerNorms, named by the sub-layer they belong to (a LayerNorm comes
    after its sub-layer in BertGeneration, before it in GPT-2)."""

    qkv: PackedLinear  # (H, 3H) self-attention queries, keys, values
    attention_out: PackedLinear
    cross_q: PackedLinear
    cross_kv: PackedLinear  # (H, 2H) of the encoder output, once per generate call
    cross_out: PackedLinear
    ffn_in: PackedLinear
    ffn_out: PackedLinear
    norm_attention: tuple
    norm_cross: tuple
    norm_ffn: tuple
    scale: float | None = None  # attention's score scale; None: SDPA's 1 / sqrt(hs)


class FastDecoder:
    """A decoder body's forward for one new token per row against a KVCache, returning (R, H) hidden states (the
    last ones, as the body's last_hidden_state). `FastDecoder.get(decoder)` gives the step of the decoder's
    layout, or None where the modules should run."""

    layout = ""  # the decoder config's model_type this step reads
    body_name = ""  # the attribute that holds the decoder's body

    def __init__(self, decoder):
        config = decoder.config
        self.seen = WeightsSeen(self.weights(decoder))
        self.nh, self.hs = config.num_attention_heads, config.head_size
        self.act = ACT2FN[config.hidden_act]
        self.layers: list[_Layer] = []

    def __call__(self, ids: torch.Tensor, cache: KVCache, encoder_states: torch.Tensor,
                 cross_mask: torch.Tensor | None, group: int = 1) -> torch.Tensor:
        """ids (R,) the newest token of each row -> (R, H). encoder_states (A, S, H) and cross_mask (A, 1, 1, S)
        bool (True = attend) or None: one row per `group` consecutive rows."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------- the shared parts

    def cross_keys_values(self, cache: KVCache, encoder_states: torch.Tensor) -> None:
        """Every layer's cross-attention keys/values from the (A, S, H) encoder output, into the cache."""
        A, S, H = encoder_states.shape
        flat = encoder_states.reshape(A * S, H)
        for i, layer in enumerate(self.layers):
            kv = layer.cross_kv(flat).view(A, S, 2, self.nh, self.hs)  # (A, S, 2, nh, hs)
            cache.cross[i] = (kv[:, :, 0].transpose(1, 2).contiguous(),  # (A, nh, S, hs)
                              kv[:, :, 1].transpose(1, 2).contiguous())

    def self_attention(self, i: int, x: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Layer i's self-attention of (R, H) new rows over their cached positions, output projection included."""
        layer, R, nh, hs = self.layers[i], x.shape[0], self.nh, self.hs
        qkv = layer.qkv(x).view(R, 3, nh, 1, hs)  # (R, 3, nh, 1, hs)
        k, v = cache.update(i, qkv[:, 1], qkv[:, 2])  # (R, nh, L, hs): every cached position is in the past
        y = F.scaled_dot_product_attention(qkv[:, 0], k, v, scale=layer.scale)  # (R, nh, 1, hs)
        return layer.attention_out(y.reshape(R, nh * hs))  # (R, H)

    def cross_attention(self, i: int, x: torch.Tensor, cache: KVCache, cross_mask: torch.Tensor | None,
                        group: int) -> torch.Tensor:
        """Layer i's cross-attention of (R, H) rows over the encoder output, `group` rows per input."""
        layer, R, nh, hs = self.layers[i], x.shape[0], self.nh, self.hs
        k, v = cache.cross[i]  # (A, nh, S, hs)
        q = layer.cross_q(x).view(-1, group, nh, hs).transpose(1, 2)  # (A, nh, G, hs): an input's rows together
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=cross_mask, scale=layer.scale)  # (A, nh, G, hs)
        return layer.cross_out(y.transpose(1, 2).reshape(R, nh * hs))  # (R, H)

    def _start(self, cache: KVCache, encoder_states: torch.Tensor) -> int:
        """Cross-attention keys/values at the first step; the position of the new token."""
        if cache.cross[0] is None:
            self.cross_keys_values(cache, encoder_states)
        return cache.get_seq_length()

    # ----------------------------------------------------------------------------- when, and which layout

    @classmethod
    def weights(cls, decoder) -> list[torch.Tensor]:
        """What the step reads: a change to any makes a fresh step (bertgen.fast.weights_seen)."""
        return list(getattr(decoder, cls.body_name).parameters())

    @classmethod
    def applies(cls, decoder) -> bool:
        """Whether this layout's step computes what `decoder`'s modules do."""
        raise NotImplementedError

    @classmethod
    def get(cls, decoder) -> FastDecoder | None:
        """The fast step of `decoder`, or None where the modules should run: not CPU, not float32/bfloat16,
        training mode (dropout), no cross-attention, another layout (BERT / RoBERTa stacks), layers replaced
        (quantized, adapters), or under CPU autocast (its matmuls run in the dtype autocast picks, which only the
        modules follow)."""
        config = decoder.config
        if (decoder.training or torch.is_autocast_enabled("cpu") or not getattr(config, "add_cross_attention", False)
                or config.hidden_act not in ACT2FN):
            return None
        step = next((s for s in (BertGenerationStep, GPT2Step)
                     if config.model_type == s.layout and isinstance(getattr(decoder, s.body_name, None), nn.Module)),
                    None)
        if step is None:
            return None
        weights = step.weights(decoder)
        if not (weights[0].device.type == "cpu" and weights[0].dtype in DTYPES
                and all(p.device == weights[0].device and p.dtype == weights[0].dtype for p in weights)
                and step.applies(decoder)):
            return None
        fast = _FAST_DECODERS.get(decoder)
        if type(fast) is not step or fast.seen.changed(weights):
            fast = _FAST_DECODERS[decoder] = step(decoder)
        return fast


class BertGenerationStep(FastDecoder):
    """BertGenerationDecoder's `bert` body: embeddings + LayerNorm, then post-LN layers."""

    layout, body_name = "bert-generation", "bert"

    def __init__(self, decoder):
        super().__init__(decoder)
        embeddings = decoder.bert.embeddings
        self.words = embeddings.word_embeddings.weight.detach()  # (V, H)
        self.positions = embeddings.position_embeddings.weight.detach()  # (P, H)
        self.norm_embeddings = _norm(embeddings.LayerNorm)
        for layer in decoder.bert.encoder.layer:
            attention, cross = layer.attention, layer.crossattention
            self.layers.append(_Layer(
                qkv=_linear(attention.self.query, attention.self.key, attention.self.value),
                attention_out=_linear(attention.output.dense),
                cross_q=_linear(cross.self.query),
                cross_kv=_linear(cross.self.key, cross.self.value),
                cross_out=_linear(cross.output.dense),
                ffn_in=_linear(layer.intermediate.dense), ffn_out=_linear(layer.output.dense),
                norm_attention=_norm(attention.output.LayerNorm), norm_cross=_norm(cross.output.LayerNorm),
                norm_ffn=_norm(layer.output.LayerNorm)))

    def __call__(self, ids, cache, encoder_states, cross_mask, group=1):
        position = self._start(cache, encoder_states)
        x = torch.layer_norm(self.words[ids] + self.positions[position], *self.norm_embeddings)  # (R, H)
        for i, layer in enumerate(self.layers):
            x = torch.layer_norm(self.self_attention(i, x, cache).add_(x), *layer.norm_attention)
            x = torch.layer_norm(self.cross_attention(i, x, cache, cross_mask, group).add_(x), *layer.norm_cross)
            x = torch.layer_norm(layer.ffn_out(self.act(layer.ffn_in(x))).add_(x), *layer.norm_ffn)  # (R, H)
        return x

    @classmethod
    def applies(cls, decoder) -> bool:
        layers = list(decoder.bert.encoder.layer)
        linears = [m for layer in layers for m in layer.modules() if isinstance(m, nn.Linear)]
        return (all(hasattr(layer, "crossattention") for layer in layers) and len(linears) == 10 * len(layers)
                and all(type(m) is nn.Linear and m.bias is not None for m in linears))


# every parameter of a GPT-2 block with cross-attention: anything else (quantized or adapted projections, which
# rename or drop these) is the modules' to run
GPT2_BLOCK = {f"{name}.{p}" for name in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_cross_attn", "crossattention.q_attn",
                                         "crossattention.c_attn", "crossattention.c_proj", "ln_2", "mlp.c_fc",
                                         "mlp.c_proj") for p in ("weight", "bias")}


class GPT2Step(FastDecoder):
    """GPT2LMHeadModel's `transformer` body: token + learned position embeddings, pre-LN blocks, ln_f."""

    layout, body_name = "gpt2", "transformer"

    def __init__(self, decoder):
        super().__init__(decoder)
        config, body = decoder.config, decoder.transformer
        self.words = body.wte.weight.detach()  # (V, H)
        self.positions = body.wpe.weight.detach()  # (P, H)
        self.norm_final = _norm(body.ln_f)
        for i, block in enumerate(body.h):
            attention, cross = block.attn, block.crossattention
            scale = self.hs ** -0.5 if config.scale_attn_weights else 1.0  # as GPT2Attention
            if config.scale_attn_by_inverse_layer_idx:
                scale /= float(i + 1)
            self.layers.append(_Layer(
                qkv=_conv1d(attention.c_attn), attention_out=_conv1d(attention.c_proj),
                cross_q=_conv1d(cross.q_attn), cross_kv=_conv1d(cross.c_attn), cross_out=_conv1d(cross.c_proj),
                ffn_in=_conv1d(block.mlp.c_fc), ffn_out=_conv1d(block.mlp.c_proj),
                norm_attention=_norm(block.ln_1), norm_cross=_norm(block.ln_cross_attn), norm_ffn=_norm(block.ln_2),
                scale=scale))

    def __call__(self, ids, cache, encoder_states, cross_mask, group=1):
        position = self._start(cache, encoder_states)
        x = self.words[ids] + self.positions[position]  # (R, H)
        for i, layer in enumerate(self.layers):
            x = self.self_attention(i, torch.layer_norm(x, *layer.norm_attention), cache).add_(x)
            x = self.cross_attention(i, torch.layer_norm(x, *layer.norm_cross), cache, cross_mask, group).add_(x)
            x = layer.ffn_out(self.act(layer.ffn_in(torch.layer_norm(x, *layer.norm_ffn)))).add_(x)  # (R, H)
        return torch.layer_norm(x, *self.norm_final)

    @classmethod
    def applies(cls, decoder) -> bool:
        return all({name for name, _ in block.named_parameters()} == GPT2_BLOCK for block in decoder.transformer.h)
