"""A pretrained checkpoint run the way it was trained (token types included), with plain torch ops and no
bertgen module: the yardstick for "the warm-started encoder is still the pretrained encoder".

Shapes: B batch, S source length, H hidden, nh heads, hs head size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from bertgen.activations import ACT2FN
from bertgen.warmstart.pretrained import PretrainedCheckpoint

def reference_hidden_states(checkpoint: PretrainedCheckpoint, input_ids: torch.Tensor,
                            attention_mask: torch.Tensor | None = None,
                            token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """The checkpoint's own encoder output (B, S, H), token types included, from its tensors with plain
    torch ops (BertModel / RobertaModel on unpadded positions): no bertgen module takes part."""
    s, c = checkpoint.state, checkpoint.config
    B, S = input_ids.shape  # B batch, S source length
    H, nh, hs = c.hidden_size, c.num_attention_heads, c.head_size
    x = s["embeddings.word_embeddings.weight"][input_ids] + s["embeddings.position_embeddings.weight"][:S]
    if checkpoint.token_type is not None:
        x = x + checkpoint.token_type[torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids]
    norm = lambda x, p: F.layer_norm(x, (H,), s[f"{p}.weight"], s[f"{p}.bias"], c.layer_norm_eps)  # noqa: E731
    linear = lambda x, p: F.linear(x, s[f"{p}.weight"], s[f"{p}.bias"])  # noqa: E731
    x = norm(x, "embeddings.LayerNorm")  # (B, S, H)
    mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]  # (B, 1, 1, S)
    for i in range(c.num_hidden_layers):
        p = f"encoder.layer.{i}"
        q, k, v = (linear(x, f"{p}.attention.self.{n}").view(B, S, nh, hs).transpose(1, 2)  # (B, nh, S, hs)
                   for n in ("query", "key", "value"))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(B, S, H)
        x = norm(x + linear(a, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = ACT2FN[c.hidden_act](linear(x, f"{p}.intermediate.dense"))  # (B, S, 4H)
        x = norm(x + linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    return x
