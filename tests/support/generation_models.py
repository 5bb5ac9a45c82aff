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



GPT2_SIZES = dict(vocab_size=SIZES["vocab_size"], n_positions=40, n_embd=32, n_layer=2, n_head=4,
                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False)


def hf_gpt2_generation_model(encoder: str = "bert", encoder_width: int = 32, seed: int = 0, start: int = 2,
                             eos: int = 1, pad: int = 3, eos_nudge: float = 3.0, **gpt2_config):
    """A transformers EncoderDecoderModel with a tiny GPT-2 decoder (cross-attention): bert2gpt2 (`encoder`
    "bert": transformers' BertModel) or roberta2gpt2 ("roberta"); an `encoder_width` other than the decoder's 32
    adds enc_to_dec_proj. As hf_generation_model's, its outputs vary: larger weights, an untied output layer,
    and, GPT-2's head having no bias, a nudge towards EOS and away from the pad id through ln_f's bias (a fixed
    direction that the EOS row of the head reads)."""
    from transformers import BertConfig, BertModel, EncoderDecoderModel, GPT2Config, GPT2LMHeadModel, RobertaConfig, \
        RobertaModel

    torch.manual_seed(seed)
    sizes = {**TINY, "vocab_size": SIZES["vocab_size"], "hidden_size": encoder_width}
    if encoder == "roberta":
        body = RobertaModel(RobertaConfig(**{**sizes, "max_position_embeddings": 66}, pad_token_id=1,
                                          type_vocab_size=1))
    else:
        body = BertModel(BertConfig(**sizes, pad_token_id=0))
    decoder = GPT2LMHeadModel(GPT2Config(**{**GPT2_SIZES, **gpt2_config}, add_cross_attention=True,
                                         bos_token_id=start, eos_token_id=eos))
    model = EncoderDecoderModel(encoder=body, decoder=decoder)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" not in name and ".ln_" not in name:
                p.normal_(0, 0.5 if "lm_head" in name else 0.3)
        direction = torch.nn.functional.normalize(torch.randn(decoder.config.n_embd), dim=0)
        decoder.transformer.ln_f.bias.copy_(direction)  # every final hidden state leans this way
        decoder.lm_head.weight[eos] += eos_nudge * direction
        decoder.lm_head.weight[pad] -= 10.0 * direction  # the pad id is never a real output
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id, config.eos_token_id, config.pad_token_id = start, eos, pad
    return model.eval()
