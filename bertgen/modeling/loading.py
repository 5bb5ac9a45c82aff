"""`BertGenerationEncoder/Decoder.from_pretrained` on any BERT-style checkpoint, as transformers loads them.

transformers' BertGeneration page starts from a BERT checkpoint:
`BertGenerationDecoder.from_pretrained("bert-large-uncased", add_cross_attention=True, is_decoder=True)`.
transformers loads what has a matching name and initializes the rest, logging two lists. bertgen does the
same from the files `from_pretrained` read once: `bertgen.warmstart.pretrained.convert_body` turns BERT,
RoBERTa and BertGeneration layouts into one encoder body, and one warning says what happened:
- not used: the token-type (segment) embeddings, the pooler and the pre-training heads. BertGeneration
  has no segment input; BERT added segment A's vector to every token. `fold_token_type=True` adds it to
  the position embeddings instead, which reproduces BERT's own outputs (transformers has no such option);
- newly initialized: the decoder's cross-attention and its LM head bias (the head's weight is tied to the
  word embeddings, which are loaded).
A checkpoint that already fits (bert-generation, with the model's prefixes) loads strictly; a decoder
asked for cross-attention that its checkpoint lacks gets it new, with the same warning.

One difference (README, Differences): a RoBERTa checkpoint's position table is sliced past padding_idx + 1
(RoBERTa's numbering), so bertgen's position p is RoBERTa's p-th token; transformers keeps rows 0.. as they are.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

import torch
from torch import nn

from bertgen.checkpoints import CheckpointFiles, load_state_dict_strict, resolve_dtype
from bertgen.config import BertGenerationConfig
from bertgen.generation.config import loaded_generation_config
from bertgen.warmstart.pretrained import POSITIONS, convert_body

_NEW_IN_DECODER = (r"\.crossattention\.", r"^lm_head\.")
_NOT_FROM_BODY = ("model_type", "is_decoder", "add_cross_attention", "architectures")


def from_bert_generation_checkpoint(cls: type, files: CheckpointFiles, given: BertGenerationConfig | None,
                                    dtype: str | torch.dtype, fold_token_type: bool = False,
                                    attn_implementation: str | None = None,
                                    **config_overrides: Any) -> tuple[nn.Module, list[str]]:
    """BertGenerationEncoder or BertGenerationDecoder (`cls`) from a checkpoint read once: a BertGeneration one in
    the class's own layout loads strictly, anything else as the body of a BERT / RoBERTa (or the other class's)
    checkpoint. Returns the model and what to warn about.

    `given`: the config passed to from_pretrained, used instead of the checkpoint's. `config_overrides` then
    replace config fields (`is_decoder=True, add_cross_attention=True`, `bos_token_id=101`, ...).
    `fold_token_type` (BERT / RoBERTa only): fold the segment embedding into the position embeddings instead of
    leaving it out. `attn_implementation` is accepted for transformers' code ("sdpa" or "eager": bertgen picks
    the kernel itself, the results are the same)."""
    if attn_implementation not in (None, "sdpa", "eager"):
        raise ValueError(f"{cls.__name__}.from_pretrained: attn_implementation={attn_implementation!r}; "
                         "bertgen has 'sdpa' (and 'eager' for attention maps), chosen per call")
    decoder = cls.body_prefix == "bert."  # BertGenerationDecoder: the LM head over a `bert` body
    prefixed = any(k.startswith("bert.") for k in files.state)
    if files.config.get("model_type") == "bert-generation" and prefixed == decoder:
        if fold_token_type:
            raise ValueError(f"{files.directory}: a BertGeneration checkpoint has no token-type embeddings to fold")
        config = given if given is not None else BertGenerationConfig.from_dict(files.config,
                                                                                where=str(files.config_path))
        model, messages = _load_native(cls, files, config, config_overrides, dtype)
    else:
        model, messages = _load_body(cls, files, given, config_overrides, fold_token_type, dtype, decoder)
    if cls.can_generate():
        model.generation_config = loaded_generation_config(files.generation_config, model.config)
    return model, messages


def _load_native(cls, files: CheckpointFiles, config: BertGenerationConfig, overrides: dict, dtype):
    config = config.replace(**overrides) if overrides else config
    model = cls(config)
    model.to(resolve_dtype(dtype, config.extra, files.state))
    has_cross = any(".crossattention." in k for k in files.state)
    allow = [_NEW_IN_DECODER[0]] if config.add_cross_attention and not has_cross else []
    new = load_state_dict_strict(model, files.state, files.origin, allow_missing=allow)
    return model, [_describe_new(new, config)] if new else []


def _load_body(cls, files: CheckpointFiles, given: BertGenerationConfig | None, overrides: dict,
               fold_token_type: bool, dtype, decoder: bool):
    checkpoint = convert_body(str(files.directory), files.directory, files.config, files.state, files.origin)
    if given is not None:
        config = given
    else:
        fields = {f.name for f in dataclasses.fields(BertGenerationConfig)} - {"extra", *_NOT_FROM_BODY}
        settings = {k: v for k, v in files.config.items() if k in fields}
        settings["max_position_embeddings"] = checkpoint.config.max_position_embeddings  # RoBERTa: sliced
        extra = {k: files.config[k] for k in ("dtype", "torch_dtype") if k in files.config}
        config = BertGenerationConfig.from_dict({**settings, **extra}, where=str(files.config_path))
    if decoder and "is_decoder" not in overrides and not config.is_decoder:
        overrides = {**overrides, "is_decoder": True}  # transformers warns and treats it as a decoder
    config = config.replace(**overrides) if overrides else config
    model = cls(config)
    model.to(resolve_dtype(dtype, config.extra, checkpoint.state))
    body = dict(checkpoint.state)
    if fold_token_type and checkpoint.token_type is not None:
        body[POSITIONS] = checkpoint.folded_positions
    state = {cls.body_prefix + key: tensor for key, tensor in body.items()}
    origin = {cls.body_prefix + key: path for key, path in checkpoint.origin.items()}
    new = load_state_dict_strict(model, state, origin, allow_missing=_NEW_IN_DECODER if decoder else ())
    messages = [f"a {checkpoint.layout} checkpoint, loaded as transformers does"]
    unused = []
    if checkpoint.token_type is not None:
        shape = "x".join(map(str, checkpoint.token_type.shape))
        unused.append(f"token-type embeddings ({shape}), folded into the position embeddings" if fold_token_type
                      else f"token-type embeddings ({shape}; BertGeneration has no segments: pass "
                           "fold_token_type=True to add segment A's vector to the position embeddings, "
                           "which is what BERT computes for one segment)")
    by_reason: dict[str, int] = {}
    for _, why in checkpoint.dropped.values():
        by_reason[why] = by_reason.get(why, 0) + 1
    unused += [f"{why}: {n} tensor(s)" for why, n in by_reason.items()]
    if unused:
        messages.append("not used: " + ", ".join(unused))
    if new:
        messages.append(_describe_new(new, config))
    return model, messages


def _describe_new(names: list[str], config: BertGenerationConfig) -> str:
    cross = sorted({int(m[1]) for n in names if (m := re.search(r"layer\.(\d+)\.crossattention\.", n))})
    parts = []
    if cross:
        which = "every layer" if len(cross) == config.num_hidden_layers else f"layers {cross}"
        parts.append(f"cross-attention of {which} ({sum('.crossattention.' in n for n in names)} tensors)")
    head = [n for n in names if n.startswith("lm_head.")]
    if head:
        parts.append(f"the LM head bias ({', '.join(sorted(head))})")
    others = [n for n in names if ".crossattention." not in n and not n.startswith("lm_head.")]
    if others:
        parts.append(f"{others}")
    return "newly initialized (train before use): " + ", ".join(parts)
