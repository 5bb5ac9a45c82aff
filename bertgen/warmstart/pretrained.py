"""Pretrained checkpoints in their own layouts (BERT, RoBERTa, BertGeneration), read as one encoder body.

Warm-starting needs the encoder body of a checkpoint under BertGenerationEncoder's names. The layouts
differ in three ways, each handled here:
- prefixes: `BertForMaskedLM`/`BertForPreTraining` nest the body under `bert.`, RoBERTa heads under `roberta.`;
  everything outside the body (pooler, `cls.*` and `lm_head.*` heads) is set aside as dropped;
- segment embeddings: BERT and RoBERTa add `token_type_embeddings[0]` to every single-segment input;
  BertGeneration has no such table, so it is kept apart for warm-starting to fold or drop;
- RoBERTa numbers positions from padding_idx + 1 (rows 0..padding_idx never serve a real token): with
  those rows sliced off, bertgen's position p reads the row RoBERTa uses for the p-th token of unpadded input.

`bertgen.warmstart.reference` runs a checkpoint read here the way it was trained.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from bertgen.checkpoints import CheckpointError, read_checkpoint, read_config_json
from bertgen.config import CONFIG_NAME, BertGenerationConfig, ConfigError, GPT2Config
from bertgen.tokenization import Tokenizer, load_tokenizer

LAYOUTS = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta", "bert-generation": "bert-generation"}
# Fields of a BERT/RoBERTa config.json that carry over to BertGenerationConfig unchanged.
REQUIRED_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                   "max_position_embeddings")
OPTIONAL_FIELDS = ("hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range",
                   "layer_norm_eps", "pad_token_id")
TOKEN_TYPE = "embeddings.token_type_embeddings.weight"
POSITIONS = "embeddings.position_embeddings.weight"
_BODY = re.compile(r"^(embeddings\.(word_embeddings|position_embeddings|LayerNorm)\.(weight|bias)"
                   r"|encoder\.layer\.\d+\.(attention|intermediate|output)\..+)$")
_BUFFERS = re.compile(r"^embeddings\.(position_ids|token_type_ids)$")  # arange/zeros saved by old versions
_WHY_DROPPED = {"pooler": "pooler (sentence classification)", "cls": "pre-training heads",
                "lm_head": "LM head (the new one is tied to the word embeddings)"}


@dataclass(eq=False)  # tensors inside: identity is the only meaningful equality
class PretrainedCheckpoint:
    """The encoder body of a pretrained checkpoint under BertGenerationEncoder's names."""

    name: str  # what was asked for: a directory, a packaged name ("minilm-l6") or a hub id
    directory: Path | None  # None for a checkpoint of meta tensors (shapes only)
    layout: str  # "bert", "roberta", "bert-generation" or "gpt2" (bertgen.warmstart.gpt)
    config: BertGenerationConfig | GPT2Config  # the body's architecture, as an encoder (GPT-2: its own)
    state: dict[str, torch.Tensor]  # body tensors; RoBERTa positions already sliced, nothing folded
    token_type: torch.Tensor | None  # (type_vocab_size, H) segment embeddings; None for BertGeneration
    file_keys: dict[str, str]  # body name -> the key in the file (with its `bert.` prefix, ...)
    dropped: dict[str, tuple[int, str]]  # file key -> (parameters, why) for tensors outside the body
    origin: dict[str, Path] = field(default_factory=dict)  # body name -> file, for error messages
    token_ids: dict[str, int | None] | None = None  # decoder_start/bos/eos/pad from its tokenizer
    tokenizer: Tokenizer | None = None  # the directory's tokenizer, when it has one

    @property
    def family(self) -> str:
        """The scheme name of the weights: BertGeneration checkpoints are BERT weights, GPT-2's are `gpt`."""
        return {"roberta": "roberta", "gpt2": "gpt"}.get(self.layout, "bert")

    @property
    def num_layers(self) -> int:
        return self.config.num_hidden_layers

    @cached_property
    def folded_positions(self) -> torch.Tensor:
        """The position table with segment A's vector added to every row: for single-segment input
        word + position' = word + position + token_type[0], which is what BERT computes. Cached, so every
        stack that loads it gets the same tensor (BERTShare ties them)."""
        positions = self.state[POSITIONS]
        if self.token_type is None:
            return positions
        return positions + self.token_type[0]

    def where(self, name: str) -> str:
        """The file a tensor came from (or would have): for messages."""
        files = set(self.origin.values())
        single = next(iter(files)) if len(files) == 1 else None
        return str(self.origin.get(name) or single or self.directory or self.name)


def read_pretrained(name_or_path: str | os.PathLike) -> PretrainedCheckpoint:
    """Read a BERT, RoBERTa or BertGeneration checkpoint: a local HF-layout directory, a packaged name
    ("minilm-l6") or a hub id (where there is a network). The tokenizer, when the directory has one,
    supplies the decoder's start, end and padding ids."""
    files = read_checkpoint(name_or_path, read_config_json)
    checkpoint = _convert(str(name_or_path), files.directory, files.config, files.state, files.origin)
    try:
        tokenizer = load_tokenizer(files.directory)
    except FileNotFoundError:  # weights without tokenizer files: ids must then be passed explicitly
        return checkpoint
    checkpoint.tokenizer = tokenizer
    checkpoint.token_ids = {"decoder_start_token_id": tokenizer.decoder_start_token_id,
                            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                            "pad_token_id": tokenizer.pad_token_id}
    return checkpoint


def meta_checkpoint(hf_config: dict, name: str = "meta") -> PretrainedCheckpoint:
    """A checkpoint of meta tensors (shapes, no values) for a config.json's contents, e.g. bert-base's:
    enough to build a warm-started model on the meta device and count its parameters (Table 1)."""
    layout = _layout(hf_config, name)
    body = BertGenerationConfig(**{k: hf_config[k] for k in REQUIRED_FIELDS})
    shapes = _body_shapes(body)
    if layout != "bert-generation":  # BertModel and RobertaModel carry segment embeddings and a pooler
        H = body.hidden_size
        shapes.update({TOKEN_TYPE: (hf_config.get("type_vocab_size", 2), H), "pooler.dense.weight": (H, H),
                       "pooler.dense.bias": (H,)})
    raw = {key: torch.empty(shape, device="meta") for key, shape in shapes.items()}
    return _convert(name, None, hf_config, raw, {})


def _body_shapes(config: BertGenerationConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of a BertModel body under its own names."""
    H, ffn = config.hidden_size, config.intermediate_size  # noqa: N806 (H: the shape legend's hidden size)
    shapes = {"embeddings.word_embeddings.weight": (config.vocab_size, H),
              "embeddings.position_embeddings.weight": (config.max_position_embeddings, H),
              "embeddings.LayerNorm.weight": (H,), "embeddings.LayerNorm.bias": (H,)}
    layer = {"attention.self.query": (H, H), "attention.self.key": (H, H), "attention.self.value": (H, H),
             "attention.output.dense": (H, H), "intermediate.dense": (ffn, H), "output.dense": (H, ffn)}
    for i in range(config.num_hidden_layers):
        for module, shape in layer.items():
            shapes[f"encoder.layer.{i}.{module}.weight"] = shape
            shapes[f"encoder.layer.{i}.{module}.bias"] = shape[:1]
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"encoder.layer.{i}.{norm}.weight"] = shapes[f"encoder.layer.{i}.{norm}.bias"] = (H,)
    return shapes


# ------------------------------------------------------------------------------------------------ conversion

def _layout(hf_config: dict, where: str) -> str:
    """Which layout a config.json describes; an error for anything that is not a BERT-style encoder."""
    model_type = hf_config.get("model_type")
    if model_type == "encoder-decoder":
        raise ConfigError(f"{where}: this is already an encoder-decoder; load it with "
                          "EncoderDecoderModel.from_pretrained instead of warm-starting from it")
    if model_type not in LAYOUTS:
        raise ConfigError(f"{where}: model_type {model_type!r} cannot be warm-started from; bertgen reads "
                          f"{', '.join(LAYOUTS)} checkpoints (BERT-style encoders)")
    if hf_config.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(f"{where}: position_embedding_type {hf_config['position_embedding_type']!r} is not "
                          "supported; BertGeneration has absolute position embeddings only")
    missing = [k for k in REQUIRED_FIELDS if k not in hf_config]
    if missing:
        raise ConfigError(f"{where}: config.json lacks {missing}; it does not describe a BERT-style encoder")
    return LAYOUTS[model_type]


def convert_body(name: str, directory: Path | None, hf_config: dict, raw: dict[str, torch.Tensor],
                 origin: dict[str, Path]) -> PretrainedCheckpoint:
    """A BERT, RoBERTa or BertGeneration state dict already read (`hf_config`: its config.json's contents) as one
    encoder body: what read_pretrained does with a directory's files (e.g. the encoder of an encoder-decoder)."""
    return _convert(name, directory, hf_config, raw, origin)


def _convert(name: str, directory: Path | None, hf_config: dict, raw: dict[str, torch.Tensor],
             origin: dict[str, Path]) -> PretrainedCheckpoint:
    where = str(directory or name)
    layout = _layout(hf_config, where)
    settings = {k: hf_config[k] for k in REQUIRED_FIELDS + OPTIONAL_FIELDS if k in hf_config}
    offset = 0
    if layout == "roberta":  # positions start at padding_idx + 1: those rows are the usable table
        offset = hf_config.get("pad_token_id", 1) + 1
        settings["max_position_embeddings"] -= offset
    config = BertGenerationConfig.from_dict(settings, where=f"{where}/{CONFIG_NAME}")

    state, file_keys, dropped, body_origin = {}, {}, {}, {}
    token_type = None
    for file_key, tensor in raw.items():
        key = re.sub(r"^(bert|roberta)\.", "", file_key)
        # TensorFlow-era names, still in e.g. bert-base-uncased's pytorch_model.bin
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key))
        if _BUFFERS.match(key):
            continue
        if key == TOKEN_TYPE:
            token_type, file_keys[key] = tensor, file_key
        elif _BODY.match(key) and ".crossattention." not in key:
            state[key], file_keys[key], body_origin[key] = tensor, file_key, origin.get(file_key)
        else:
            why = _WHY_DROPPED.get(key.split(".")[0], "not part of the encoder body")
            dropped[file_key] = (tensor.numel(), why)
    if offset and POSITIONS in state:
        table = state[POSITIONS]
        dropped[f"{file_keys[POSITIONS]}[:{offset}]"] = (table[:offset].numel(), "RoBERTa rows before padding_idx+1")
        state[POSITIONS] = table[offset:]
    return PretrainedCheckpoint(name=name, directory=directory, layout=layout, config=config, state=state,
                                token_type=token_type, file_keys=file_keys, dropped=dropped,
                                origin={k: v for k, v in body_origin.items() if v is not None})


def body_key(checkpoint: PretrainedCheckpoint, key: str) -> torch.Tensor:
    """One body tensor, or an error naming the file and the key it should have had."""
    if key not in checkpoint.state:
        prefix = {"bert": "[bert.]", "roberta": "[roberta.]", "bert-generation": "[bert.]"}[checkpoint.layout]
        raise CheckpointError(
            f"{checkpoint.where(key)}: no tensor '{prefix}{key}' in this {checkpoint.layout} checkpoint; it is "
            "incomplete, or its config.json (num_hidden_layers, ...) does not match its weights")
    return checkpoint.state[key]
