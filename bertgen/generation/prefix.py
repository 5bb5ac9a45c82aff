"""`PrefixLMModel.generate`: decoding after a prefix (the paper's decoder-only `gpt`), with the encoder-decoder's
greedy, sampling and beam search (`search.py`), token for token the same procedures.

The first step runs the whole prefix and the separator once per input and fills the KV cache; the prefix is
then copied per beam or returned sequence, and each later step feeds one token. Rows that leave (finished
inputs) or continue another beam take their prefix, mask and cache rows with them.

Shapes: B inputs, rows = live rows (inputs x beams), S prefix length, t tokens so far (separator included).
"""
from __future__ import annotations

import torch

from bertgen.cache import KVCache
from bertgen.generation.config import DEFAULT_NEW_TOKENS, GenerationConfig
from bertgen.generation.search import GenerateOutput, SearchSpec, generate_output, search
from bertgen.generation.resolve import resolve_config
from bertgen.generation.validation import _check_mask


class _PrefixDecoder:
    """The model one step at a time after each row's prefix (search.py's decoder interface: step, expand,
    select; no fast head)."""

    head = None

    def __init__(self, model, prefix: torch.Tensor, mask: torch.Tensor, use_cache: bool, max_length: int):
        self.model, self.prefix, self.mask = model, prefix, mask  # (rows, S) each
        capacity = prefix.shape[1] + max_length
        self.cache = KVCache(model.config.n_layer, capacity=capacity) if use_cache else None

    def step(self, sequences: torch.Tensor) -> torch.Tensor:
        """(rows, t) tokens so far -> (rows, V) float32 logits for the next one."""
        mask = torch.cat([self.mask, self.mask.new_ones(sequences.shape)], dim=1)  # (rows, S + t)
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        if self.cache is None or self.cache.get_seq_length() == 0:
            ids = torch.cat([self.prefix, sequences], dim=1)  # the whole prefix, once
        else:
            ids, positions = sequences[:, -1:], positions[:, -1:]
        hidden = self.model.transformer(ids, attention_mask=mask, position_ids=positions, past_key_values=self.cache,
                                        use_cache=self.cache is not None).last_hidden_state  # (rows, *, H)
        return self.model.lm_head(hidden[:, -1]).float()

    def expand(self, copies: int, together: bool) -> None:
        self.select(torch.arange(len(self.prefix), device=self.prefix.device).repeat_interleave(copies))

    def select(self, rows: torch.Tensor, inputs: torch.Tensor | None = None) -> None:
        """Keep rows `rows` (beams reordered, finished inputs dropped): each row's prefix goes with it."""
        if self.cache is not None:
            self.cache.reorder(rows)
        self.prefix, self.mask = self.prefix.index_select(0, rows), self.mask.index_select(0, rows)


def generate_prefix(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                    generation_config: GenerationConfig | None = None, generator: torch.Generator | None = None,
                    starts: torch.Tensor | None = None, **kwargs) -> torch.Tensor | GenerateOutput:
    """(B, S) prefixes -> (B x n, 1 + generated): each row's start token (`starts`, (B,); default the model's
    separator), then the tokens after it. GPT2LMHeadModel's beam search continues a prompt so: its last token
    starts, the tokens before it are the prefix (possibly none)."""
    config = resolve_config(model, generation_config, kwargs)
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or (starts is None and input_ids.numel() == 0):
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"generate: input_ids must be a non-empty 2-D tensor (batch, length), got {shape}")
    vocab = model.config.vocab_size
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab):
        raise ValueError(f"generate: input_ids holds ids outside the vocabulary (0..{vocab - 1}); was the text "
                         "encoded with this model's tokenizer?")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if starts is None:  # a continued prompt's mask was checked whole (GPT2LMHeadModel.generate)
        _check_mask(attention_mask, input_ids)
    eos = config.eos_token_id
    eos_ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    pad = config.pad_token_id if config.pad_token_id is not None else (eos_ids[0] if eos_ids else 0)
    max_length = config.max_new_tokens + 1 if config.max_new_tokens is not None else \
        config.max_length if config.max_length is not None else DEFAULT_NEW_TOKENS + 1
    if input_ids.shape[1] + max_length > model.config.n_positions:
        raise ValueError(f"generate: the prefix ({input_ids.shape[1]} tokens) and {max_length} output positions "
                         f"exceed n_positions={model.config.n_positions}; truncate the input or lower max_new_tokens")
    with torch.inference_mode():
        decoder = _PrefixDecoder(model, input_ids, attention_mask, config.use_cache, max_length)
        spec = SearchSpec.build(config, eos_ids, pad, max_length, generator, input_ids.device)
        if starts is None:
            starts = torch.full((input_ids.shape[0],), model.separator_token_id, dtype=torch.long,
                                device=input_ids.device)
        # the search continues (B, P) prompts: here each row's start token, P = 1
        sequences, scores, sequence_scores = search(decoder, starts[:, None], spec)
    return generate_output(config, sequences, scores, sequence_scores)
