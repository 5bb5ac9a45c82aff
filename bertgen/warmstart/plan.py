"""Planning a warm start: which tensor of which checkpoint each model tensor takes (`StackPlan`), the model's
config (`WarmStartPlan`), and copying them into a freshly built model (`apply_plan`).

Nothing here builds a model: `EncoderDecoderModel.from_warm_start_plan` does, so the model class can offer
transformers' `from_encoder_decoder_pretrained` without the warm-start code depending on it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from bertgen.checkpoints import load_state_dict_strict, tied_groups
from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.warmstart.pretrained import POSITIONS, PretrainedCheckpoint, body_key, read_pretrained
from bertgen.warmstart.report import WarmStartReport, build_report

PAPER_SCHEMES = ("rnd2rnd", "bert2rnd", "rnd2bert", "bert2bert", "bertshare")  # the order of the paper's tables
SCHEMES = PAPER_SCHEMES + ("roberta2rnd", "rnd2roberta", "roberta2roberta", "robertashare")
FAMILIES = ("rnd", "bert", "roberta")  # "rnd": random, nothing from the checkpoint
ID_FIELDS = ("decoder_start_token_id", "bos_token_id", "eos_token_id", "pad_token_id")
STACK_FIELDS = tuple(f.name for f in dataclasses.fields(BertGenerationConfig)
                     if f.name not in ("is_decoder", "add_cross_attention", "extra", *ID_FIELDS))
# Config fields the loaded tensors' shapes (or meaning) depend on: an override must agree with the checkpoint.
FIXED_BY = {"embeddings": ("vocab_size", "hidden_size", "max_position_embeddings"),
            "layers": ("hidden_size", "intermediate_size", "num_attention_heads")}
_LAYER_KEY = re.compile(r"^encoder\.layer\.(\d+)\.((?:attention|intermediate|output)\..+)$")
_CROSS_KEY = re.compile(r"^encoder\.layer\.(\d+)\.crossattention\.(.+)$")
CROSS_ATTENTION = ("random", "self")


def parse_scheme(scheme: str) -> tuple[str, str, bool]:
    """'bert2rnd' -> ('bert', 'rnd', False); 'bertShare' -> ('bert', 'bert', True). Any pairing of
    rnd/bert/roberta works ('roberta2bert' with a decoder_checkpoint), beyond the paper's SCHEMES."""
    name = str(scheme).lower()
    if name.endswith("share") and name[:-5] in FAMILIES[1:]:
        return name[:-5], name[:-5], True
    encoder, sep, decoder = name.partition("2")
    if sep and encoder in FAMILIES and decoder in FAMILIES:
        return encoder, decoder, False
    raise ValueError(f"unknown scheme {scheme!r}; the paper's schemes are {', '.join(SCHEMES)} "
                     "(any <rnd|bert|roberta>2<rnd|bert|roberta> works)")


@dataclass(frozen=True)
class StackPlan:
    """What one stack (encoder or decoder) takes from its checkpoint."""

    stack: str  # "encoder" or "decoder"
    prefix: str  # where its body sits in the model's state dict
    checkpoint: PretrainedCheckpoint
    family: str  # "rnd", "bert" or "roberta"
    embeddings: bool  # word + position embeddings and their LayerNorm from the checkpoint
    layers: list[int]  # for each model layer, the checkpoint layer it is (or would be) taken from
    load_layers: bool
    cross_from_self: bool = False  # decoder only: cross-attention copies the checkpoint layer's self-attention

    def tensors(self, names: Sequence[str]) -> dict[str, str]:
        """Model name -> checkpoint body name, for every tensor this stack takes from the checkpoint."""
        plan = {}
        for name in names:
            if not name.startswith(self.prefix):
                continue
            key = name[len(self.prefix):]
            layer, cross = _LAYER_KEY.match(key), _CROSS_KEY.match(key)
            if key.startswith("embeddings.") and self.embeddings:
                plan[name] = key
            elif layer and self.load_layers:
                plan[name] = f"encoder.layer.{self.layers[int(layer[1])]}.{layer[2]}"
            elif cross and self.cross_from_self:
                plan[name] = f"encoder.layer.{self.layers[int(cross[1])]}.attention.{cross[2]}"
        return plan


@dataclass(frozen=True)
class WarmStartPlan:
    """Everything a warm start decides before a model exists: the model's config and what each stack takes."""

    scheme: str
    config: EncoderDecoderConfig
    stacks: tuple[StackPlan, StackPlan]  # encoder, decoder
    fold_token_type: bool
    token_ids: dict[str, dict[str, int | None]]  # per stack: decoder_start/bos/eos/pad
    device: str | torch.device | None = None  # "meta": build without memory, for counting parameters


def plan_warm_start(scheme: str, checkpoint: str | os.PathLike | PretrainedCheckpoint, *,
                    decoder_checkpoint: str | os.PathLike | PretrainedCheckpoint | None = None,
                    fold_token_type: bool = True, share_embeddings: bool = True, embeddings_only: bool = False,
                    drop_embeddings: bool = False, layers: int | Sequence[int] | None = None,
                    decoder_layers: int | Sequence[int] | None = None, cross_attention: str = "random",
                    device: str | torch.device | None = None, **overrides) -> WarmStartPlan:
    """Plan an EncoderDecoderModel as `scheme` says, from `checkpoint` (a BERT, RoBERTa or BertGeneration
    directory, "minilm-l6", a hub id, or a PretrainedCheckpoint already read).

    The paper's ablations: `embeddings_only` loads only the embeddings; `drop_embeddings` everything but
    them; `layers` picks checkpoint layers (an int k: the first k; a list: those, in that order) and
    `decoder_layers` the decoder's (default: the same); `decoder_checkpoint` takes the decoder from another
    checkpoint. Beyond the paper: `cross_attention="self"` initializes each decoder layer's cross-attention
    as a copy of its pretrained self-attention instead of at random; it needs a warm-started decoder.
    `overrides` set config fields of both stacks (hidden_dropout_prob=0.0, ...) and the ids
    (decoder_start_token_id, eos_token_id, pad_token_id, bos_token_id). `device="meta"` builds without
    memory, for counting parameters.
    """
    encoder_family, decoder_family, tie = parse_scheme(scheme)
    unknown = set(overrides) - set(STACK_FIELDS) - set(ID_FIELDS)
    if unknown:
        raise TypeError(f"warm_start: unknown option(s) {sorted(unknown)}; overrides are config fields of the "
                        f"stacks ({', '.join(STACK_FIELDS)}) or ids ({', '.join(ID_FIELDS)})")
    if embeddings_only and drop_embeddings:
        raise ValueError("warm_start: embeddings_only=True and drop_embeddings=True leave nothing to load; "
                         "pick one")
    if cross_attention not in CROSS_ATTENTION:
        raise ValueError(f"warm_start: cross_attention={cross_attention!r}; expected one of "
                         f"{', '.join(CROSS_ATTENTION)}")
    if cross_attention == "self" and (decoder_family == "rnd" or embeddings_only):
        raise ValueError(f"warm_start: cross_attention='self' copies the decoder's pretrained self-attention, but "
                         f"{scheme!r}{' with embeddings_only' if embeddings_only else ''} loads no decoder layers; "
                         "use cross_attention='random'")
    encoder_ckpt = _as_checkpoint(checkpoint)
    decoder_ckpt = encoder_ckpt
    if decoder_checkpoint is not None and decoder_checkpoint is not checkpoint:
        decoder_ckpt = _as_checkpoint(decoder_checkpoint)
        if _same_files(encoder_ckpt, decoder_ckpt):  # one checkpoint named twice: one set of tensors
            decoder_ckpt = encoder_ckpt
    if tie:
        if decoder_ckpt is not encoder_ckpt:
            raise ValueError(f"warm_start: {scheme!r} shares one set of weights, so it takes one checkpoint; "
                             f"drop decoder_checkpoint or use '{encoder_family}2{decoder_family}'")
        if not share_embeddings:
            raise ValueError(f"warm_start: {scheme!r} shares all weights, embeddings included; "
                             "share_embeddings=False contradicts it")
        if decoder_layers is not None and decoder_layers != layers:
            raise ValueError(f"warm_start: {scheme!r} uses the same layers in both stacks; pass `layers` only")
        decoder_layers = layers

    sides = (_side("encoder", "encoder.", encoder_ckpt, encoder_family, layers, scheme, overrides,
                   embeddings_only, drop_embeddings),
             _side("decoder", "decoder.bert.", decoder_ckpt, decoder_family,
                   layers if decoder_layers is None else decoder_layers, scheme, overrides, embeddings_only,
                   drop_embeddings, cross_from_self=cross_attention == "self"))
    meta = device is not None and torch.device(device).type == "meta"
    encoder_ids, decoder_ids = _ids(sides[0], overrides, meta), _ids(sides[1], overrides, meta)
    if share_embeddings:
        _check_sharable(*sides)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        _stack_config(sides[0], overrides, encoder_ids), _stack_config(sides[1], overrides, decoder_ids),
        decoder_start_token_id=decoder_ids["decoder_start_token_id"], pad_token_id=decoder_ids["pad_token_id"],
        eos_token_id=decoder_ids["eos_token_id"], tie_encoder_decoder=tie,
        share_encoder_decoder_embeddings=share_embeddings)
    return WarmStartPlan(scheme=str(scheme), config=config, stacks=sides, fold_token_type=fold_token_type,
                         token_ids={"encoder": encoder_ids, "decoder": decoder_ids}, device=device)


def build_from_plan(cls, plan: WarmStartPlan):
    """`cls(plan.config)` built on the plan's device, the planned tensors copied in: (model in eval mode, report).
    The models' `from_warm_start_plan` (the model classes are passed in: warmstart never imports them)."""
    with torch.device(plan.device) if plan.device is not None else contextlib.nullcontext():
        model = cls(plan.config)
    report = apply_plan(model, plan)
    return model.eval(), report


def apply_plan(model: nn.Module, plan: WarmStartPlan) -> WarmStartReport:
    """Copy the planned tensors into a freshly built model (everything else keeps its random
    initialization) and report what was loaded, initialized, shared, folded and dropped."""
    names = list(model.state_dict(keep_vars=True))
    tensors = {name: (stack, key) for stack in plan.stacks for name, key in stack.tensors(names).items()}
    _load(model, tensors, plan.fold_token_type)
    return build_report(plan.scheme, model, list(plan.stacks), tensors, plan.fold_token_type, plan.token_ids)


def plan_from_encoder_decoder(encoder: str | os.PathLike | PretrainedCheckpoint,
                              decoder: str | os.PathLike | PretrainedCheckpoint,
                              tie_encoder_decoder: bool = False, **kwargs) -> WarmStartPlan:
    """The plan of transformers' `EncoderDecoderModel.from_encoder_decoder_pretrained`: the encoder from one
    checkpoint, the decoder from another (or the same); the scheme follows from their families. Word
    embeddings are shared only when both come from one checkpoint, unless `share_embeddings` says otherwise."""
    encoder_ckpt = _as_checkpoint(encoder)
    decoder_ckpt = encoder_ckpt if decoder is encoder or decoder == encoder else _as_checkpoint(decoder)
    family = encoder_ckpt.family
    scheme = f"{family}share" if tie_encoder_decoder else f"{family}2{decoder_ckpt.family}"
    kwargs.setdefault("share_embeddings", _same_files(encoder_ckpt, decoder_ckpt))
    return plan_warm_start(scheme, encoder_ckpt, decoder_checkpoint=decoder_ckpt, **kwargs)


# ---------------------------------------------------------------------------------------------- the plan

def _as_checkpoint(checkpoint) -> PretrainedCheckpoint:
    return checkpoint if isinstance(checkpoint, PretrainedCheckpoint) else read_pretrained(checkpoint)


def _same_files(a: PretrainedCheckpoint, b: PretrainedCheckpoint) -> bool:
    return a is b or (a.directory is not None and b.directory is not None
                      and a.directory.resolve() == b.directory.resolve())


def _side(stack, prefix, checkpoint, family, layers, scheme, overrides, embeddings_only, drop_embeddings,
          cross_from_self: bool = False) -> StackPlan:
    if family != "rnd" and checkpoint.family != family:
        suggestion = str(scheme).lower().replace(family, checkpoint.family)
        raise ValueError(f"warm_start: {scheme!r} takes {family.upper()} weights for the {stack}, but "
                         f"{checkpoint.name} is a {checkpoint.layout} checkpoint; use {suggestion!r}")
    loads = family != "rnd"
    load_layers = loads and not embeddings_only
    return StackPlan(stack, prefix, checkpoint, family, embeddings=loads and not drop_embeddings,
                     layers=tuple(_select_layers(layers, overrides.get("num_hidden_layers"), checkpoint, load_layers,
                                                 stack)),
                     load_layers=load_layers, cross_from_self=cross_from_self)


def _select_layers(layers, num_hidden_layers, checkpoint, load_layers, stack) -> list[int]:
    """Which checkpoint layer each model layer comes from (for a random stack only the count matters)."""
    available = checkpoint.num_layers
    if layers is None:
        selected = list(range(num_hidden_layers or available))
    elif isinstance(layers, int) and not isinstance(layers, bool):
        selected = list(range(layers))
    elif isinstance(layers, Sequence) and all(isinstance(i, int) and not isinstance(i, bool) for i in layers):
        selected = list(layers)
    else:
        raise TypeError(f"warm_start: layers must be an int (the first k) or a list of layer indices, got {layers!r}")
    if not selected:
        raise ValueError(f"warm_start: the {stack} needs at least one layer, got layers={layers!r}")
    if num_hidden_layers is not None and num_hidden_layers != len(selected):
        raise ValueError(f"warm_start: num_hidden_layers={num_hidden_layers} disagrees with the {len(selected)} "
                         f"layers selected for the {stack} ({layers!r}); pass one of the two")
    outside = [i for i in selected if not 0 <= i < available]
    if load_layers and outside:
        raise ValueError(f"warm_start: {checkpoint.name} has layers 0..{available - 1}, so the {stack} cannot "
                         f"take layer(s) {outside}; pick from that range")
    return selected


def _ids(side: StackPlan, overrides: dict, meta: bool) -> dict[str, int | None]:
    """Start, end and padding ids: the tokenizer's, replaced by any given explicitly."""
    ids = {key: (side.checkpoint.token_ids or {}).get(key) for key in ID_FIELDS}
    ids.update({key: overrides[key] for key in ID_FIELDS if key in overrides})
    needed = ("decoder_start_token_id", "eos_token_id", "pad_token_id") if side.stack == "decoder" else ()
    missing = [key for key in needed if ids[key] is None]
    if missing and not meta:
        raise ValueError(
            f"warm_start: {side.checkpoint.name} has no tokenizer files, so the decoder's {', '.join(missing)} "
            "are unknown; add the tokenizer files to the directory or pass them, e.g. for BERT's "
            "[CLS]/[SEP]/[PAD]: decoder_start_token_id=101, eos_token_id=102, pad_token_id=0")
    return ids


def _stack_config(side: StackPlan, overrides: dict, ids: dict) -> BertGenerationConfig:
    base = side.checkpoint.config
    loaded = {"embeddings": side.embeddings, "layers": side.load_layers}
    for part, fields in FIXED_BY.items():
        for name in fields:
            if loaded[part] and name in overrides and overrides[name] != getattr(base, name):
                raise ValueError(
                    f"warm_start: {name}={overrides[name]} does not fit the {side.stack}'s checkpoint "
                    f"{side.checkpoint.name}, whose {part} have {name}={getattr(base, name)}; drop the override "
                    "or warm-start that stack at random")
    stack = {key: value for key, value in overrides.items() if key in STACK_FIELDS}
    stack.update(num_hidden_layers=len(side.layers), pad_token_id=ids["pad_token_id"],
                 bos_token_id=ids["bos_token_id"], eos_token_id=ids["eos_token_id"])
    return dataclasses.replace(base, **stack)


def _check_sharable(encoder: StackPlan, decoder: StackPlan) -> None:
    a, b = encoder.checkpoint, decoder.checkpoint
    if a.config.vocab_size != b.config.vocab_size:
        raise ValueError(f"warm_start: share_embeddings=True needs one vocabulary, but {a.name} has "
                         f"{a.config.vocab_size} ids and {b.name} {b.config.vocab_size}; pass share_embeddings=False")
    if encoder.embeddings and decoder.embeddings and a is not b:
        raise ValueError(f"warm_start: encoder ({a.name}) and decoder ({b.name}) checkpoints each bring word "
                         "embeddings, but share_embeddings=True keeps one matrix; pass share_embeddings=False "
                         "to keep both")


def _load(model: nn.Module, plan: dict[str, tuple[StackPlan, str]], fold_token_type: bool) -> None:
    """Copy the planned tensors in; everything else keeps its random initialization."""
    state, origin, random = {}, {}, []
    for group in tied_groups(model):
        planned = [name for name in group if name in plan]
        if not planned:
            random.extend(group)
            continue
        side, key = plan[planned[0]]  # tied names take one tensor (the same one: checked when planning)
        ckpt = side.checkpoint
        state[planned[0]] = ckpt.folded_positions if key == POSITIONS and fold_token_type else body_key(ckpt, key)
        origin[planned[0]] = ckpt.where(key)
    allow = [f"^(?:{'|'.join(re.escape(name) for name in random)})$"] if random else []
    load_state_dict_strict(model, state, origin, allow_missing=allow)
