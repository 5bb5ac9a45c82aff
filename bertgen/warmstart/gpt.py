"""The paper's GPT-2 schemes: `gpt` (GPT-2 alone, the input as a prefix), `rnd2gpt`, `bert2gpt`, `roberta2gpt`
(a random, BERT or RoBERTa encoder and a GPT-2 decoder whose cross-attention is new).

A GPT-2 checkpoint is read as one body under GPT2Model's names (`wte.weight`, `h.0.attn.c_attn.weight`, ...),
from either of transformers' layouts. Its ids are GPT-2's: <|endoftext|> starts, ends and pads the output (the
vocabulary has no other special token). The encoder of `rnd2gpt` has BERT's architecture at GPT-2's width and
reads GPT-2's vocabulary, through the same (shared) word-embedding matrix, as the paper counts it (Table 1: 39M
of embeddings); `bert2gpt` and `roberta2gpt` keep two matrices, one per vocabulary.

The decoder's cross-attention (`crossattention`, `ln_cross_attn`) starts as GPT-2's own initialization of such a
layer: weights normal(0, initializer_range), c_proj's scaled by 1 / sqrt(2 n_layer), biases 0, unit LayerNorm.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from bertgen.checkpoints import read_checkpoint, read_config_json
from bertgen.config import CONFIG_NAME, BertGenerationConfig, ConfigError, EncoderDecoderConfig, GPT2Config
from bertgen.warmstart.plan import ID_FIELDS, STACK_FIELDS, StackPlan, WarmStartPlan, _as_checkpoint, _ids, _side, \
    _stack_config
from bertgen.warmstart.pretrained import PretrainedCheckpoint

GPT_SCHEMES = ("gpt", "rnd2gpt", "bert2gpt", "roberta2gpt")
# BertGeneration's names of the dropout rates, as GPT-2 spells them: one override sets both stacks
DROPOUT_FIELDS = {"hidden_dropout_prob": ("resid_pdrop", "embd_pdrop"), "attention_probs_dropout_prob": ("attn_pdrop",)}
_BUFFER = re.compile(r"(^|\.)(attn|crossattention)\.(masked_)?bias$")  # causal masks older versions saved
_CROSS = re.compile(r"^h\.\d+\.(crossattention|ln_cross_attn)\.")


def read_gpt2(name_or_path: str | os.PathLike) -> PretrainedCheckpoint:
    """A GPT-2 checkpoint (GPT2LMHeadModel or GPT2Model layout, safetensors or .bin) as one body under GPT2Model's
    names; the LM head, tied to wte, is the same tensor and not listed."""
    files = read_checkpoint(name_or_path, _read_gpt2_config)
    return _convert(str(name_or_path), files.directory, files.config, files.state, files.origin)


def _read_gpt2_config(directory: Path) -> GPT2Config:
    """config.json as a GPT2Config, refused before any weight is read if it is another model's."""
    hf_config, config_path = read_config_json(directory), directory / CONFIG_NAME
    if hf_config.get("model_type") != "gpt2":
        raise ConfigError(f"{config_path}: model_type is {hf_config.get('model_type')!r}, but the decoder of a GPT "
                          "scheme (gpt, rnd2gpt, bert2gpt, roberta2gpt) is a GPT-2 checkpoint (model_type 'gpt2')")
    return GPT2Config.from_dict(hf_config, where=str(config_path))


def meta_gpt2(config: GPT2Config | None = None, name: str = "gpt2") -> PretrainedCheckpoint:
    """A GPT-2 checkpoint of meta tensors (shapes, no values), gpt2's (124M) by default: enough to build a model
    on the meta device and count its parameters (Table 1)."""
    config = config or GPT2Config()
    state = {key: torch.empty(shape, device="meta") for key, shape in _gpt2_shapes(config).items()}
    return _convert(name, None, config, state, {})


def _gpt2_shapes(config: GPT2Config) -> dict[str, tuple[int, ...]]:
    """Every tensor of a GPT2Model body under its own names (Conv1D weights are (in, out))."""
    H, ffn = config.n_embd, config.intermediate_size  # noqa: N806 (H: the shape legend's hidden size)
    shapes = {"wte.weight": (config.vocab_size, H), "wpe.weight": (config.n_positions, H),
              "ln_f.weight": (H,), "ln_f.bias": (H,)}
    block = {"ln_1": None, "attn.c_attn": (H, 3 * H), "attn.c_proj": (H, H), "ln_2": None, "mlp.c_fc": (H, ffn),
             "mlp.c_proj": (ffn, H)}
    for i in range(config.n_layer):
        for module, shape in block.items():
            shapes[f"h.{i}.{module}.weight"] = shape or (H,)
            shapes[f"h.{i}.{module}.bias"] = shape[1:] if shape else (H,)
    return shapes


def _convert(name, directory, config: GPT2Config, raw: dict, origin: dict) -> PretrainedCheckpoint:
    state, file_keys, dropped, body_origin = {}, {}, {}, {}
    for file_key, tensor in raw.items():
        key = file_key.removeprefix("transformer.")
        if _BUFFER.search(key):
            continue
        if key == "lm_head.weight":
            if config.tie_word_embeddings:
                continue  # the same tensor as wte
            dropped[file_key] = (tensor.numel(), "LM head (the new one is tied to wte)")
        elif _CROSS.match(key):
            dropped[file_key] = (tensor.numel(), "cross-attention of another encoder (new here)")
        else:
            state[key], file_keys[key] = tensor, file_key
            if file_key in origin:
                body_origin[key] = origin[file_key]
    ids = {"decoder_start_token_id": config.bos_token_id, "bos_token_id": config.bos_token_id,
           "eos_token_id": config.eos_token_id, "pad_token_id": config.eos_token_id}  # GPT-2 pads with <|endoftext|>
    return PretrainedCheckpoint(name=name, directory=directory, layout="gpt2", config=config, state=state,
                                token_type=None, file_keys=file_keys, dropped=dropped, origin=body_origin,
                                token_ids=ids)


@dataclass(frozen=True)
class GPT2StackPlan(StackPlan):
    """A GPT-2 stack: every body tensor of the checkpoint, under the model's `prefix` (cross-attention is new)."""

    def tensors(self, names: Sequence[str]) -> dict[str, str]:
        return {name: name[len(self.prefix):] for name in names
                if name.startswith(self.prefix) and name[len(self.prefix):] in self.checkpoint.state}


def is_gpt_scheme(scheme: str) -> bool:
    return str(scheme).lower() in GPT_SCHEMES


def plan_gpt(scheme: str, checkpoint, *, decoder_checkpoint=None, fold_token_type: bool = True,
             cross_attention: str = "random", device: str | torch.device | None = None,
             **overrides) -> WarmStartPlan:
    """Plan `gpt`, `rnd2gpt`, `bert2gpt` or `roberta2gpt`. `checkpoint` is the encoder's BERT / RoBERTa checkpoint
    and `decoder_checkpoint` GPT-2's; for `gpt` and `rnd2gpt`, which take no encoder weights, `checkpoint` may be
    GPT-2's itself. `overrides`: BertGeneration config fields (hidden_dropout_prob also sets GPT-2's resid_pdrop and
    embd_pdrop, attention_probs_dropout_prob its attn_pdrop) and the ids."""
    scheme = str(scheme).lower()
    if cross_attention != "random":
        raise ValueError(f"warm_start: {scheme!r} starts its cross-attention at random (the paper's recipe); "
                         f"cross_attention={cross_attention!r} is for BERT decoders")
    ablations = sorted(set(overrides) & {"share_embeddings", "embeddings_only", "drop_embeddings", "layers",
                                         "decoder_layers"})
    if ablations:
        raise TypeError(f"warm_start: {ablations} are options of the BERT and RoBERTa schemes; {scheme!r} loads "
                        "GPT-2 whole (and shares embeddings only in rnd2gpt, where one vocabulary serves both)")
    unknown = set(overrides) - set(STACK_FIELDS) - set(ID_FIELDS)
    if unknown:
        raise TypeError(f"warm_start: unknown option(s) {sorted(unknown)} for {scheme!r}; overrides are config "
                        f"fields ({', '.join(STACK_FIELDS)}) or ids ({', '.join(ID_FIELDS)})")
    encoder_family = scheme.partition("2")[0] if "2" in scheme else None
    if decoder_checkpoint is None:
        if encoder_family in ("bert", "roberta"):
            raise ValueError(f"warm_start: {scheme!r} takes two checkpoints: the encoder's ({encoder_family}) as "
                             "`checkpoint` and GPT-2's as `decoder_checkpoint=`")
        decoder_checkpoint = checkpoint
    gpt2 = decoder_checkpoint if isinstance(decoder_checkpoint, PretrainedCheckpoint) else read_gpt2(decoder_checkpoint)
    if gpt2.layout != "gpt2":
        raise ValueError(f"warm_start: {scheme!r} needs a GPT-2 decoder checkpoint, but {gpt2.name} is a "
                         f"{gpt2.layout} checkpoint")
    meta = device is not None and torch.device(device).type == "meta"
    decoder_ids = {**gpt2.token_ids, **{k: overrides[k] for k in ID_FIELDS if k in overrides}}
    n = gpt2.config.n_layer
    decoder_config = gpt2.config.replace(**_gpt2_dropout(overrides))
    if scheme == "gpt":
        side = GPT2StackPlan("decoder", "transformer.", gpt2, "gpt", embeddings=True, layers=tuple(range(n)),
                             load_layers=True)
        return WarmStartPlan(scheme=scheme, config=decoder_config, stacks=(side, side), fold_token_type=False,
                             token_ids={"encoder": decoder_ids, "decoder": decoder_ids}, device=device)
    decoder = GPT2StackPlan("decoder", "decoder.transformer.", gpt2, "gpt", embeddings=True,
                            layers=tuple(range(n)), load_layers=True)
    if encoder_family == "rnd":
        encoder = StackPlan("encoder", "encoder.", gpt2, "rnd", embeddings=False, layers=tuple(range(n)),
                            load_layers=False)
        encoder_ids = {**decoder_ids, "pad_token_id": None}  # no padding row: <|endoftext|> must train
        stack = {k: v for k, v in overrides.items() if k in STACK_FIELDS}
        encoder_config = BertGenerationConfig(
            vocab_size=gpt2.config.vocab_size, hidden_size=gpt2.config.n_embd, num_hidden_layers=n,
            num_attention_heads=gpt2.config.n_head, intermediate_size=gpt2.config.intermediate_size,
            max_position_embeddings=gpt2.config.n_positions, initializer_range=gpt2.config.initializer_range,
            bos_token_id=encoder_ids["bos_token_id"], eos_token_id=encoder_ids["eos_token_id"], pad_token_id=None,
            **stack)
        share = True
    else:
        ckpt = _as_checkpoint(checkpoint)
        encoder = _side("encoder", "encoder.", ckpt, encoder_family, None, scheme, overrides, False, False)
        encoder_ids = _ids(encoder, overrides, meta)
        encoder_config = _stack_config(encoder, overrides, encoder_ids)
        share = False  # two vocabularies (RoBERTa's ids differ from GPT-2's even where the merges agree)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        encoder_config, decoder_config, decoder_start_token_id=decoder_ids["decoder_start_token_id"],
        pad_token_id=decoder_ids["pad_token_id"], eos_token_id=decoder_ids["eos_token_id"],
        share_encoder_decoder_embeddings=share)
    return WarmStartPlan(scheme=scheme, config=config, stacks=(encoder, decoder), fold_token_type=fold_token_type,
                         token_ids={"encoder": encoder_ids, "decoder": decoder_ids}, device=device)


def _gpt2_dropout(overrides: dict) -> dict:
    return {name: overrides[key] for key, names in DROPOUT_FIELDS.items() if key in overrides for name in names}
