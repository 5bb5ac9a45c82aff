"""What enters a BertGeneration model, checked: ids, masks and labels of the right shapes, dtypes and ranges, with
errors that say what is wrong and what to do, instead of the index errors torch would raise deep inside."""
from __future__ import annotations

import warnings

import torch

from bertgen.config import BertGenerationConfig


def check_input_ids(input_ids: torch.Tensor, config: BertGenerationConfig, where: str, past_length: int = 0) -> None:
    """Turn the index errors torch would raise deep inside an embedding into messages that say what to do."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"{where}: input_ids must be a 2-D tensor (batch, length), got {shape}")
    if input_ids.dtype not in (torch.long, torch.int, torch.int16, torch.uint8):
        raise ValueError(f"{where}: input_ids must hold integer token ids, got dtype {input_ids.dtype}")
    length = past_length + input_ids.shape[1]
    positions = config.max_position_embeddings - config.position_offset  # RoBERTa's start at padding_idx + 1
    if length > positions:
        offset = f" less the {config.position_offset} before position 0" if config.position_offset else ""
        raise ValueError(
            f"{where}: sequence of {length} positions exceeds max_position_embeddings="
            f"{config.max_position_embeddings}{offset}; truncate the input (tokenizer(..., truncation=True, "
            f"max_length={positions - past_length})) or generate fewer tokens"
        )
    if input_ids.numel():
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= config.vocab_size:
            bad = low if low < 0 else high
            b, t = (input_ids == bad).nonzero()[0].tolist()
            raise ValueError(
                f"{where}: input_ids[{b}, {t}] = {bad} is outside the vocabulary (0..{config.vocab_size - 1}); "
                "tokenize with the checkpoint's own tokenizer (and replace -100 labels before using them as ids)"
            )


def check_mask(mask: torch.Tensor | None, shape: tuple[int, int], name: str, where: str) -> None:
    if mask is not None and tuple(mask.shape) != tuple(shape):
        raise ValueError(
            f"{where}: {name} has shape {tuple(mask.shape)} but must be {tuple(shape)} (batch, length) "
            "to match the ids it masks; pass the mask the tokenizer returned with these ids"
        )


def resolve_outputs(config, output_attentions, output_hidden_states, return_dict) -> tuple[bool, bool, bool]:
    """Arguments left None take the config's values, as in transformers."""
    return (config.output_attentions if output_attentions is None else output_attentions,
            config.output_hidden_states if output_hidden_states is None else output_hidden_states,
            config.return_dict if return_dict is None else return_dict)


def check_inputs(input_ids, inputs_embeds, config, where: str, past: int) -> tuple[int, int]:
    """Exactly one of input_ids / inputs_embeds, checked; returns (B, T)."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError(f"{where}: pass exactly one of input_ids and inputs_embeds")
    if input_ids is not None:
        check_input_ids(input_ids, config, where, past)
        return tuple(input_ids.shape)
    if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != config.hidden_size:
        raise ValueError(f"{where}: inputs_embeds must be (batch, length, hidden_size={config.hidden_size}), "
                         f"got {tuple(inputs_embeds.shape)}")
    if past + inputs_embeds.shape[1] > config.max_position_embeddings:
        raise ValueError(f"{where}: {past + inputs_embeds.shape[1]} positions exceed max_position_embeddings="
                         f"{config.max_position_embeddings}; pass fewer")
    return tuple(inputs_embeds.shape[:2])


def check_labels(labels: torch.Tensor | None, shape: tuple[int, int], where: str,
                 vocab_size: int | None = None) -> None:
    """Labels pair with the decoder's positions: (batch, length) as its inputs; each is a token id of the
    decoder's vocabulary or -100 (ignored), instead of torch's "Target 500 is out of bounds" deep in the loss."""
    if labels is None:
        return
    if tuple(labels.shape) != tuple(shape):
        raise ValueError(f"{where}: labels have shape {tuple(labels.shape)} but the decoder inputs have "
                         f"{tuple(shape)} (batch, length): label t is the target at decoder position t, so pad both to "
                         "one length (or pass labels alone and let the model shift them)")
    if vocab_size is None or not labels.numel():
        return
    bad = ((labels < 0) & (labels != -100)) | (labels >= vocab_size)
    if bool(bad.any()):
        b, t = bad.nonzero()[0].tolist()
        raise ValueError(f"{where}: labels[{b}, {t}] = {int(labels[b, t])} is neither a token id of the decoder's "
                         f"vocabulary (0..{vocab_size - 1}) nor -100 (ignored by the loss); tokenize the targets with "
                         "the model's tokenizer and mark padding with -100")


def warn_if_decoder_inputs_are_labels(model, decoder_input_ids: torch.Tensor | None,
                                      labels: torch.Tensor | None) -> None:
    """Once per model: training with decoder_input_ids equal to the labels (an old recipe's variant) teaches the
    decoder to copy the token it is given, since the loss compares position t with label t."""
    if (not model.training or labels is None or decoder_input_ids is None or model.__dict__.get("_warned_copy")
            or decoder_input_ids.shape != labels.shape):
        return
    labelled = labels != -100  # the recipe pads its decoder inputs with [PAD] where the labels say -100
    if not bool(labelled.any()) or not torch.equal(decoder_input_ids[labelled], labels[labelled]):
        return
    model.__dict__["_warned_copy"] = True
    warnings.warn(f"{type(model).__name__}: decoder_input_ids equal labels in training, so the decoder sees at "
                  "position t the token it must predict there and learns to copy it. Pass labels only: the model "
                  "shifts them right itself (decoder_start_token_id first) to make the decoder inputs.",
                  UserWarning, stacklevel=5)
