"""Tiny transformers encoder-decoders whose generations are worth comparing: varied tokens, EOS sometimes.

conftest's models (all weights ~N(0, 0.2), tied LM head) decode to one or two repeated tokens, which any
search gets right. Here: no biases, untied output layer with larger weights, a nudge towards EOS and
away from the pad id; greedy outputs then use 5-8 distinct tokens and end at EOS at various lengths,
and beam search changes them, so a wrong length penalty, stopping rule or cache reorder shows.
"""
from __future__ import annotations

from pathlib import Path

import torch

from tests.support import TINY

SIZES = {**TINY, "vocab_size": 40}  # a vocabulary small enough to write out as w0, w1, ...
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4


def hf_generation_model(seed: int = 0, start: int = 2, eos: int = 1, pad: int = 3, eos_bias: float = 1.5):
    """A transformers EncoderDecoderModel of two tiny BertGeneration stacks (ids set in both configs)."""
    from transformers import BertGenerationConfig, BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel

    torch.manual_seed(seed)
    encoder = BertGenerationEncoder(BertGenerationConfig(**SIZES))
    decoder = BertGenerationDecoder(BertGenerationConfig(**SIZES, is_decoder=True, add_cross_attention=True,
                                                         tie_word_embeddings=False))
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                continue
            if name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0, 0.5 if "lm_head" in name else 0.15)
        head = model.decoder.lm_head
        head.decoder.bias[eos] = eos_bias
        head.decoder.bias[pad] = -10.0  # the pad id is never a real output
        head.bias.copy_(head.decoder.bias)  # one tensor under two names, as in a saved checkpoint
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id, config.eos_token_id, config.pad_token_id = start, eos, pad
    return model.eval()


def save_pair(hf_model, directory: Path):
    """Save `hf_model` with transformers and load it into bertgen; returns the bertgen model."""
    from bertgen import EncoderDecoderModel

    hf_model.save_pretrained(directory)
    return EncoderDecoderModel.from_pretrained(directory)


def padded_batch(seed: int = 0, batch: int = 5, length: int = 9, pad: int = 3):
    """Source ids (B, S) with two right-padded rows, and their attention mask."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, SIZES["vocab_size"], (batch, length), generator=g)
    mask = torch.ones_like(ids)
    if batch > 1:
        mask[1, length - 4:] = 0
        mask[min(3, batch - 1), 2:] = 0
    return ids.masked_fill(mask == 0, pad), mask


def write_wordpiece_vocab(directory: Path) -> list[str]:
    """vocab.txt for the model's 40 ids: BERT's specials (0..4), then the words w0..w34."""
    tokens = BERT_SPECIALS + [f"w{i}" for i in range(SIZES["vocab_size"] - len(BERT_SPECIALS))]
    (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return tokens
