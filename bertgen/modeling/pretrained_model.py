"""PreTrainedModel: what every bertgen model offers beside its forward pass, with transformers' names.

One base class (single inheritance, as transformers' PreTrainedModel) for BertGenerationEncoder/Decoder,
EncoderDecoderModel, GPT2Model/GPT2LMHeadModel and the prefix LM:
- loading and saving: `from_pretrained` reads a checkpoint once (`checkpoints.read_checkpoint`) and builds the
  model from what it read (`_from_checkpoint`: this class's own layout; BertGeneration also reads a BERT body,
  modeling.loading, and GPT-2 either of its layouts); `save_pretrained` writes files transformers loads;
- the input embeddings (get, set, resize), gradient checkpointing, the fused-loss switch, the decoding
  defaults, parameter counts, device and dtype.

Shapes: V vocabulary size, V' the new one, H hidden size.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from bertgen.checkpoints import (CheckpointFiles, exportable_state_dict, is_weight_file, load_state_dict_strict,
                                 parse_shard_size, read_checkpoint, resolve_config_argument, resolve_dtype,
                                 write_state_dict)
from bertgen.fileio import replace_directory
from bertgen.generation import GenerationConfig
from bertgen.generation.config import loaded_generation_config, pop_model_config_settings


class PreTrainedModel(nn.Module):
    """The base of bertgen's models; each sets `config_class` and builds its modules in `__init__(config)`."""

    config_class: ClassVar[type]
    # transformers' name of the attribute that holds the body (the decoder's is `bert`, GPT-2's `transformer`)
    base_model_prefix: ClassVar[str] = "bert"
    # Where this class's checkpoints keep the body's keys: "" for a body alone; an LM-head model over a body
    # (BertGenerationDecoder, GPT2LMHeadModel) has them under its body's name ("bert.", "transformer.").
    body_prefix: ClassVar[str] = ""
    # Names transformers ties by itself and leaves out of its files when the LM head is tied to the word
    # embeddings: the head's weight and its alias of its bias.
    _bias_alias: ClassVar[str] = r"lm_head\.decoder\.bias$"
    _weight_alias: ClassVar[str] = r"lm_head\.(decoder\.)?weight$"  # BertGeneration's head, GPT-2's

    @classmethod
    def can_generate(cls) -> bool:
        """transformers' name: whether this model has `generate` (and so decoding defaults to load and save)."""
        return False

    @property
    def base_model(self) -> nn.Module:
        """transformers' name: the body under the head (`bert`, GPT-2's `transformer`), else the model itself."""
        return getattr(self, self.base_model_prefix, self)

    # ------------------------------------------------------------------------------------ loading and saving

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, dtype: str | torch.dtype = "auto",
                        device: str | torch.device | None = None, config: Any = None, **kwargs: Any):
        """Load a checkpoint directory in the HF layout, or a hub id where there is a network.

        `config` (a config object, or a directory holding its config.json), as transformers: used instead of
        the checkpoint's config.json. `kwargs` then replace config fields (e.g. `tie_encoder_decoder=False`,
        `is_decoder=True`), beside the options a class's `_from_checkpoint` names (BertGeneration's
        `fold_token_type`). Any warning about what was not loaded names the checkpoint."""
        given = resolve_config_argument(cls, config)
        files = read_checkpoint(path_or_id, lambda directory: cls._read_config(directory, given))
        model, messages = cls._from_checkpoint(files, given, dtype, **kwargs)
        if messages:
            warnings.warn(f"{cls.__name__}.from_pretrained({str(path_or_id)!r}): " + "; ".join(messages),
                          stacklevel=2)
        if device is not None:
            model.to(device)
        return model.eval()

    @classmethod
    def _read_config(cls, directory: Path, given: Any) -> Any:
        """The config a checkpoint is built with: `given` (from_pretrained's `config=`), else its config.json read
        as this class's config."""
        return given if given is not None else cls.config_class.from_pretrained(directory)

    @classmethod
    def _from_checkpoint(cls, files: CheckpointFiles, given: Any, dtype: str | torch.dtype,
                         **config_overrides: Any) -> tuple[PreTrainedModel, list[str]]:
        """The model built from a checkpoint in this class's own layout, strictly; and what to warn about (nothing
        here). `given`: the config passed to from_pretrained (already in `files.config`)."""
        config = files.config
        generation_config = loaded_generation_config(files.generation_config, config) if cls.can_generate() else None
        if config_overrides:
            unknown = set(config_overrides) - {f.name for f in dataclasses.fields(config)}
            if unknown:
                raise ValueError(f"{cls.__name__}.from_pretrained: unknown config field(s) {sorted(unknown)}; "
                                 f"the fields are {', '.join(f.name for f in dataclasses.fields(config))}")
            config = config.replace(**config_overrides)
        model = cls(config)
        model.to(resolve_dtype(dtype, config.extra, files.state))
        state, origin = cls._model_keys(config, files.state), cls._model_keys(config, files.origin)
        load_state_dict_strict(model, state, origin)
        if generation_config is not None:
            model.generation_config = generation_config
        return model, []

    @classmethod
    def _model_keys(cls, config: Any, state: dict) -> dict:
        """A checkpoint's key names as this model's state dict has them (where a layout names them otherwise)."""
        return state

    def _checkpoint_keys(self, state: dict) -> dict:
        """This model's state-dict names as its checkpoint layout has them (the inverse of _model_keys)."""
        return state

    def save_pretrained(self, directory: str | os.PathLike, safe_serialization: bool = True,
                        max_shard_size: int | str = "5GB") -> None:
        """Write config.json and the weights so that both bertgen and transformers load them.

        The checkpoint is written whole beside `directory` and swapped in: other files already there
        (a tokenizer's) are kept, older weights are not, and a failure leaves the old checkpoint intact."""
        parse_shard_size(max_shard_size)  # a bad argument fails before anything is written
        decoder_config = getattr(self.config, "decoder", self.config)
        # transformers 5 ties both aliases only with tie_word_embeddings; untied, it reads both from the file
        drop = [self._bias_alias, self._weight_alias] if decoder_config.tie_word_embeddings else []
        state = self._checkpoint_keys(exportable_state_dict(self, drop))
        dtype = next((t.dtype for t in state.values() if t.is_floating_point()), torch.float32)

        def fill(staging: Path) -> None:
            write_state_dict(state, staging, safe_serialization, max_shard_size)
            self.save_config_files(staging, dtype)

        owned = {"config.json", "generation_config.json"}
        replace_directory(directory, fill, carry=lambda name: name not in owned and not is_weight_file(name))

    def save_config_files(self, directory: Path, dtype: torch.dtype | None = None) -> None:
        """config.json and (for models that generate) generation_config.json into `directory`: what makes a
        folder of this model's weights one that from_pretrained loads (the Trainer's checkpoint is one too)."""
        if dtype is not None:
            self.config.extra["dtype"] = str(dtype).removeprefix("torch.")
        config = copy.deepcopy(self.config)
        # generation settings put on model.config go to generation_config.json, as transformers 4 moved them
        settings = pop_model_config_settings(config)
        config.save_pretrained(directory)
        if self.can_generate():  # as transformers: decoding defaults travel with the weights
            self.generation_config.update(**settings).save_pretrained(directory)

    # ------------------------------------------------------------------------------------------- embeddings

    def get_input_embeddings(self) -> nn.Embedding:
        raise NotImplementedError

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        raise NotImplementedError

    def get_output_embeddings(self) -> nn.Linear | None:
        return None

    def tie_weights(self) -> None:
        """Tie the output layer to the input embeddings where the config says so (models with an LM head)."""

    def _vocab_configs(self) -> list:
        """The configs whose vocab_size follows the input embeddings."""
        return [self.config]

    def resize_token_embeddings(self, new_num_tokens: int | None = None, pad_to_multiple_of: int | None = None,
                                mean_resizing: bool = True) -> nn.Embedding:
        """Grow or shrink the vocabulary to `new_num_tokens` rows (rounded up to `pad_to_multiple_of`), keeping
        the rows both sizes share, as transformers. New rows start at the old rows' mean (`mean_resizing`,
        transformers' default) or at the initializer's normal(0, initializer_range). An LM head tied to the
        embeddings follows; its bias keeps its shared entries and the new ones start at 0."""
        old = self.get_input_embeddings()
        if new_num_tokens is None and pad_to_multiple_of is None:
            return old
        V, H = old.weight.shape
        target = V if new_num_tokens is None else new_num_tokens
        if pad_to_multiple_of is not None:
            if not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1:
                raise ValueError(f"resize_token_embeddings: pad_to_multiple_of must be a positive int, "
                                 f"got {pad_to_multiple_of!r}")
            target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise ValueError(f"resize_token_embeddings: new_num_tokens must be a positive int, got {new_num_tokens!r}")
        config = self._vocab_configs()[0]
        pad = config.pad_token_id if config.pad_token_id is not None and config.pad_token_id < target else None
        new = nn.Embedding(target, H, padding_idx=pad, device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            keep = min(V, target)
            new.weight[:keep] = old.weight[:keep]
            if target > V:
                if mean_resizing:
                    new.weight[V:] = old.weight.float().mean(0).to(old.weight.dtype)
                else:
                    new.weight[V:].normal_(0.0, config.initializer_range)
        self.set_input_embeddings(new)
        for c in self._vocab_configs():
            c.vocab_size = target
            if c.pad_token_id is not None and c.pad_token_id >= target:
                c.pad_token_id = None
        head = self.get_output_embeddings()
        if head is not None:
            if not config.tie_word_embeddings:
                weight = head.weight.new_zeros(target, H)
                with torch.no_grad():
                    weight[:keep] = head.weight[:keep]
                    weight[keep:].normal_(0.0, config.initializer_range)
                head.weight = nn.Parameter(weight)
            self._resize_head_bias(target)
        self.tie_weights()
        return self.get_input_embeddings()

    def _resize_head_bias(self, target: int) -> None:
        """Models with an LM head resize its bias (see BertGenerationDecoder)."""

    # -------------------------------------------------------------------------------- gradient checkpointing

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None) -> None:
        """Recompute each layer's activations in the backward pass: less memory, more compute.
        (torch's non-reentrant checkpointing always; `gradient_checkpointing_kwargs` other than
        use_reentrant=False are refused rather than ignored.)"""
        kwargs = dict(gradient_checkpointing_kwargs or {})
        if kwargs.pop("use_reentrant", False) or kwargs:
            raise ValueError(f"gradient_checkpointing_enable: bertgen always uses use_reentrant=False and takes no "
                             f"other options, got {gradient_checkpointing_kwargs}")
        for module in self.modules():
            if hasattr(module, "gradient_checkpointing"):
                module.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        for module in self.modules():
            if hasattr(module, "gradient_checkpointing"):
                module.gradient_checkpointing = False

    @property
    def is_gradient_checkpointing(self) -> bool:
        return any(getattr(m, "gradient_checkpointing", False) for m in self.modules())

    # ------------------------------------------------------------------------------------ the fused loss

    @property
    def fused_loss(self) -> bool:
        """Off by default: with labels, a model returns the loss and the logits, as transformers. On (the
        Trainer turns it on), training mode with labels computes the loss chunk by chunk without the
        (tokens x vocabulary) logits (`bertgen.loss`) and `logits` is None; eval mode is unchanged. The models
        then also skip the padding no label reads (`bertgen.modeling.packing`) unless attentions, hidden states
        or a cache (use_cache=True) are asked for: then no cache is returned, and an EncoderDecoderModel's
        encoder_last_hidden_state is zero at masked source positions."""
        return any(getattr(m, "_fused_loss", False) for m in self.modules())

    @fused_loss.setter
    def fused_loss(self, value: bool) -> None:
        for module in self.modules():
            if hasattr(module, "_fused_loss"):
                module._fused_loss = bool(value)

    # ------------------------------------------------------------------------------------------- decoding

    @property
    def generation_config(self) -> GenerationConfig:
        """Decoding defaults: `generation_config.json` (or the settings in an older `config.json`) when loaded
        from a checkpoint, else the config's ids (settings put on `model.config` in memory are applied by
        `generate`, with a note)."""
        if self.__dict__.get("_generation_config") is None:
            self._generation_config = GenerationConfig.from_model_config(self.config, settings=False)
        return self._generation_config

    @generation_config.setter
    def generation_config(self, value: GenerationConfig) -> None:
        self._generation_config = value

    # ------------------------------------------------------------------------------------------- facts

    def num_parameters(self, only_trainable: bool = False) -> int:
        """Parameters counted once each (tied ones once), as transformers."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not only_trainable)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(p.dtype for p in self.parameters() if p.is_floating_point())
