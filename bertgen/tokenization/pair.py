"""Two vocabularies in one model (bert2gpt: WordPiece in, byte-level BPE out): a `TokenizerPair` encodes inputs
with the encoder's tokenizer and decodes outputs with the decoder's, behind the one calling convention the
pipeline, evaluation, collation and the experiment runner use.

    tok = TokenizerPair(encoder=load_tokenizer(bert_dir), decoder=load_tokenizer(gpt2_dir))
    batch = tok(["a source"], padding=True, return_tensors="pt")    # the encoder's ids and mask
    text = tok.batch_decode(model.generate(**batch), skip_special_tokens=True)   # the decoder's text

Saved, each side goes to its own folder (`encoder_tokenizer/`, `decoder_tokenizer/`) beside the weights, and
`load_tokenizer` on that directory gives the pair back. Labels are the decoder's ids (`target_tokenizer`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bertgen.tokenization.base import Tokenizer

SIDES = ("encoder_tokenizer", "decoder_tokenizer")  # the folders a saved pair writes


class TokenizerPair:
    """The encoder's tokenizer for inputs (calls, `encode`, padding) and the decoder's for outputs (`decode`,
    `batch_decode`, the end and start ids)."""

    def __init__(self, encoder: Tokenizer, decoder: Tokenizer):
        for side, tok in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(tok, Tokenizer):
                raise TypeError(f"TokenizerPair: {side}= must be a bertgen tokenizer (load_tokenizer(path)), got "
                                f"{type(tok).__name__}")
        self.encoder, self.decoder = encoder, decoder
        self.source = f"{encoder.source} (inputs) and {decoder.source} (outputs)"

    # inputs: the encoder's
    def __call__(self, *args: Any, **kwargs: Any):
        return self.encoder(*args, **kwargs)

    def encode(self, *args: Any, **kwargs: Any) -> list[int]:
        return self.encoder.encode(*args, **kwargs)

    @property
    def pad_token_id(self) -> int | None:
        return self.encoder.pad_token_id

    @property
    def model_max_length(self) -> int | None:
        return self.encoder.model_max_length

    # outputs: the decoder's
    def decode(self, *args: Any, **kwargs: Any) -> str:
        return self.decoder.decode(*args, **kwargs)

    def batch_decode(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.decoder.batch_decode(*args, **kwargs)

    @property
    def eos_token_id(self) -> int | None:
        return self.decoder.eos_token_id

    @property
    def decoder_start_token_id(self) -> int | None:
        return self.decoder.decoder_start_token_id

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        directory = Path(save_directory)
        return (*self.encoder.save_pretrained(directory / SIDES[0]),
                *self.decoder.save_pretrained(directory / SIDES[1]))

    def __repr__(self) -> str:
        return f"TokenizerPair(encoder={self.encoder!r}, decoder={self.decoder!r})"


def source_tokenizer(tokenizer):
    """The tokenizer that encodes a model's inputs (a pair's encoder side, else the tokenizer itself)."""
    return tokenizer.encoder if isinstance(tokenizer, TokenizerPair) else tokenizer


def target_tokenizer(tokenizer):
    """The tokenizer of a model's outputs: labels and decoding (a pair's decoder side, else the tokenizer)."""
    return tokenizer.decoder if isinstance(tokenizer, TokenizerPair) else tokenizer


def check_vocabulary_fits(tokenizer: Tokenizer | TokenizerPair, model_config: Any) -> None:
    """A tokenizer that does not belong to the model is refused when the two are put together, not at the first
    out-of-range id at encode or decode time: one that can produce ids past a stack's vocabulary, or a single
    tokenizer for a model whose encoder and decoder have different vocabularies (bert2gpt needs a pair)."""
    encoder, decoder = model_config.encoder, model_config.decoder
    if not isinstance(tokenizer, TokenizerPair) and encoder.vocab_size != decoder.vocab_size:
        raise ValueError(f"the model's encoder reads {encoder.vocab_size} ids and its decoder writes "
                         f"{decoder.vocab_size}: two vocabularies, but one tokenizer ({tokenizer.source}) was given; "
                         "pass TokenizerPair(encoder=<the encoder's tokenizer>, decoder=<the decoder's>), or the "
                         "directory the model was saved to with both")
    sides = (("encoder", source_tokenizer(tokenizer), encoder), ("decoder", target_tokenizer(tokenizer), decoder))
    for side, tok, config in sides:
        if len(tok) > config.vocab_size:
            raise ValueError(f"the {side}'s tokenizer from {tok.source} has {len(tok)} tokens but the model's {side} "
                             f"vocabulary only {config.vocab_size}: they belong to different checkpoints; load the "
                             "tokenizer saved with this model")
