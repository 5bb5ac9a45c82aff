"""`BertGenerationEncoder/Decoder.from_pretrained` on any BERT-style checkpoint, as transformers loads them.

transformers' BertGeneration page starts from a BERT checkpoint:
`BertGenerationDecoder.from_pretrained("bert-large-uncased", add_cross_attention=True, is_decoder=True)`.
transformers loads what has a matching name and initializes the rest, logging two lists. bertgen does the
same through `bertgen.warmstart.pretrained` (which reads BERT, RoBERTa and BertGeneration layouts as one
encoder body) and says what happened in one warning:
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
import os
import re
import warnings
from typing import Any

import torch

from bertgen.checkpoints import load_state_dict_strict, read_state_dict, resolve_config_argument, resolve_dtype
from bertgen.config import CONFIG_NAME, BertGenerationConfig, read_json_object
from bertgen.generation.config import loaded_generation_config
from bertgen.hub import resolve_checkpoint_dir
from bertgen.warmstart.pretrained import POSITIONS, read_pretrained

_NEW_IN_DECODER = (r"\.crossattention\.", r"^lm_head\.")
_NOT_FROM_BODY = ("model_type", "is_decoder", "add_cross_attention", "architectures")


class BodyLoadingMixin:
    """`from_pretrained` for BertGenerationEncoder and BertGenerationDecoder (before PreTrainedMixin)."""

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, dtype: str | torch.dtype = "auto",
                        device: str | torch.device | None = None, fold_token_type: bool = False,
                        attn_implementation: str | None = None, config: BertGenerationConfig | None = None,
                        **config_overrides: Any):
        """Load a checkpoint directory (or hub id): a BertGeneration one, or the body of a BERT / RoBERTa one.

        `config` (a BertGenerationConfig, or a directory holding one), as transformers: used instead of the
        checkpoint's config.json. `config_overrides` then replace config fields (`is_decoder=True,
        add_cross_attention=True`, `bos_token_id=101`, ...). `fold_token_type` (BERT / RoBERTa only): fold the segment embedding into
        the position embeddings instead of leaving it out. `attn_implementation` is accepted for
        transformers' code ("sdpa" or "eager": bertgen picks the kernel itself, the results are the same)."""
        if attn_implementation not in (None, "sdpa", "eager"):
            raise ValueError(f"{cls.__name__}.from_pretrained: attn_implementation={attn_implementation!r}; "
                             "bertgen has 'sdpa' (and 'eager' for attention maps), chosen per call")
        directory = resolve_checkpoint_dir(path_or_id)
        given = resolve_config_argument(cls, config)
        config_path = directory / CONFIG_NAME
        if not config_path.is_file():
            raise FileNotFoundError(f"{directory}: no {CONFIG_NAME}; a checkpoint directory needs one")
        hf_config = read_json_object(config_path, "restore it from the checkpoint's source")
        state, origin = read_state_dict(directory)
        is_decoder_class = hasattr(cls, "logits_and_loss")
        prefixed = any(k.startswith("bert.") for k in state)
        if hf_config.get("model_type") == "bert-generation" and prefixed == is_decoder_class:
            if fold_token_type:
                raise ValueError(f"{directory}: a BertGeneration checkpoint has no token-type embeddings to fold")
            config = given if given is not None else BertGenerationConfig.from_dict(hf_config, where=str(config_path))
            model, messages = cls._load_native(config, config_overrides, state, origin, dtype)
        else:
            model, messages = cls._load_body(directory, hf_config, config_overrides, fold_token_type, dtype, given)
        if messages:
            warnings.warn(f"{cls.__name__}.from_pretrained({str(path_or_id)!r}): " + "; ".join(messages),
                          stacklevel=2)
        if hasattr(model, "generate"):
            model.generation_config = loaded_generation_config(directory, model.config)
        if device is not None:
            model.to(device)
        return model.eval()

    @classmethod
    def _load_native(cls, config, overrides, state, origin, dtype):
        config = config.replace(**overrides) if overrides else config
        model = cls(config)
        model.to(resolve_dtype(dtype, config.extra, state))
        has_cross = any(".crossattention." in k for k in state)
        allow = [_NEW_IN_DECODER[0]] if config.add_cross_attention and not has_cross else []
        new = load_state_dict_strict(model, state, origin, allow_missing=allow)
        return model, [_describe_new(new, config)] if new else []

    @classmethod
    def _load_body(cls, directory, hf_config, overrides, fold_token_type, dtype, given=None):
        checkpoint = read_pretrained(directory)
        if given is not None:
            config = given
        else:
            fields = {f.name for f in dataclasses.fields(BertGenerationConfig)} - {"extra", *_NOT_FROM_BODY}
            settings = {k: v for k, v in hf_config.items() if k in fields}
            settings["max_position_embeddings"] = checkpoint.config.max_position_embeddings  # RoBERTa: sliced
            extra = {k: hf_config[k] for k in ("dtype", "torch_dtype") if k in hf_config}
            config = BertGenerationConfig.from_dict({**settings, **extra}, where=str(directory / CONFIG_NAME))
        is_decoder_class = hasattr(cls, "logits_and_loss")
        if is_decoder_class and "is_decoder" not in overrides and not config.is_decoder:
            overrides = {**overrides, "is_decoder": True}  # transformers warns and treats it as a decoder
        config = config.replace(**overrides) if overrides else config
        model = cls(config)
        model.to(resolve_dtype(dtype, config.extra, checkpoint.state))
        prefix = "bert." if is_decoder_class else ""
        body = dict(checkpoint.state)
        if fold_token_type and checkpoint.token_type is not None:
            body[POSITIONS] = checkpoint.folded_positions
        state = {prefix + key: tensor for key, tensor in body.items()}
        origin = {prefix + key: path for key, path in checkpoint.origin.items()}
        new = load_state_dict_strict(model, state, origin, allow_missing=_NEW_IN_DECODER if is_decoder_class else ())
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
