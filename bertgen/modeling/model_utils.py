"""What every bertgen model offers beside its forward pass, with transformers' names: the input embeddings
(get, set, resize), gradient checkpointing, the fused-loss switch, parameter counts, device and dtype.

Shapes: V vocabulary size, V' the new one, H hidden size.
"""
from __future__ import annotations

import torch
from torch import nn

from bertgen.generation import GenerationConfig


class ModelMixin:
    """Mixed into BertGenerationEncoder, BertGenerationDecoder and EncoderDecoderModel (all nn.Modules)."""

    # transformers' name of the attribute that holds the body (the decoder's is `bert`)
    base_model_prefix = "bert"

    @property
    def base_model(self) -> nn.Module:
        """transformers' name: the body under the head (`bert`, GPT-2's `transformer`), else the model itself."""
        return getattr(self, self.base_model_prefix, self)

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
        """Recompute each layer's activations in the backward pass: less memory, ~30% more compute.
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
