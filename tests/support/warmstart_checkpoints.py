"""Tiny pretrained checkpoints in each layout, written by transformers itself, with tokenizer files."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from bertgen.hub import packaged_checkpoint_dir
from tests.support import TINY

MINILM = packaged_checkpoint_dir("minilm-l6")
# the tiny sizes with BERT's default 512 positions, as a real BERT config.json has
SIZES = {key: value for key, value in TINY.items() if key != "max_position_embeddings"}
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4: start 2, end 3, pad 0
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4: start 0, end 2, pad 1


def _visible(model: torch.nn.Module, seed: int) -> None:
    """std 0.02 leaves every output near zero; larger weights make a wrong or missing tensor show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" not in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def write_vocab(directory: Path, layout: str, size: int = SIZES["vocab_size"]) -> None:
    if layout == "roberta":
        tokens = ROBERTA_SPECIALS + [chr(c) for c in range(33, 33 + size - len(ROBERTA_SPECIALS))]
        (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
        (directory / "merges.txt").write_text("#version: 0.2\n")
    else:
        tokens = BERT_SPECIALS + [f"w{i}" for i in range(size - len(BERT_SPECIALS))]
        (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")


def write_checkpoint(directory: Path, architecture: str, seed: int = 0, tokenizer: bool = True, **overrides):
    """Save a transformers `architecture` (BertModel, BertForMaskedLM, BertForPreTraining, RobertaModel,
    RobertaForMaskedLM, BertGenerationEncoder, BertGenerationDecoder) to `directory`; returns the model."""
    import transformers

    layout = "roberta" if architecture.startswith("Roberta") else "bert"
    settings = {**SIZES, **overrides}
    if architecture.startswith("BertGeneration"):
        config = transformers.BertGenerationConfig(**settings, max_position_embeddings=64, pad_token_id=0,
                                                   is_decoder=architecture.endswith("Decoder"))
    elif layout == "roberta":  # 64 usable positions after the two RoBERTa skips (padding_idx = 1)
        config = transformers.RobertaConfig(**settings, max_position_embeddings=66, pad_token_id=1, type_vocab_size=1)
    else:
        config = transformers.BertConfig(**settings, max_position_embeddings=64, pad_token_id=0)
    torch.manual_seed(seed)
    model = getattr(transformers, architecture)(config)
    _visible(model, seed)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    if tokenizer:
        write_vocab(directory, layout, settings["vocab_size"])
    return model.eval()


def source_ids(batch: int = 3, length: int = 9, seed: int = 0, low: int = 5, high: int = 99) -> torch.Tensor:
    """Token ids without special or padding tokens (RoBERTa's positions then start at padding_idx + 1)."""
    return torch.randint(low, high, (batch, length), generator=torch.Generator().manual_seed(seed))
