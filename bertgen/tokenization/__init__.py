"""Tokenizers with one calling convention (transformers'): `tok(texts, padding=True, truncation=True,
max_length=128, return_tensors="pt")`, `decode`, `batch_decode`, and the ids of the special tokens.

- BertGenerationTokenizer: SentencePiece (spiece.model), the paper's own vocabularies; can be trained here.
- FastTokenizer: checkpoint vocabularies through the `tokenizers` library: WordPiece (vocab.txt),
  byte-level BPE (vocab.json + merges.txt), or any tokenizer.json.
- TokenizerPair: the encoder's tokenizer for inputs and the decoder's for outputs (bert2gpt, roberta2gpt).
- load_tokenizer: picks one from the files present (a pair where a model saved both sides);
  `AutoTokenizer.from_pretrained` and `BertTokenizer.from_pretrained` are its transformers spellings (auto.py).

`SAMPLE_CORPUS` is a small English text (277 sentences, ~20 KB) for training demonstration vocabularies.
It was written for bertgen and is dedicated to the public domain (CC0); its last lines add a little French,
German, Spanish, accents, numbers and symbols, so a trained vocabulary has seen them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bertgen.hub import resolve_checkpoint_dir
from bertgen.tokenization.base import BatchEncoding, Tokenizer, read_tokenizer_config
from bertgen.tokenization.bert_generation import BertGenerationTokenizer
from bertgen.tokenization.fast import FastTokenizer
from bertgen.tokenization.pair import SIDES, TokenizerPair

SAMPLE_CORPUS = Path(__file__).with_name("sample_corpus.txt")
TOKENIZER_FILES = ["*.json", "*.txt", "*.model"]  # what a hub download needs for a tokenizer (no weights)
_FAST_FILES = ("tokenizer.json", "vocab.txt", "vocab.json")

__all__ = ["AutoTokenizer", "BatchEncoding", "BertGenerationTokenizer", "BertTokenizer", "FastTokenizer",
           "SAMPLE_CORPUS", "Tokenizer", "TokenizerPair", "load_tokenizer"]


def load_tokenizer(path_or_name: str | os.PathLike, **kwargs: Any) -> Tokenizer:
    """The tokenizer of a checkpoint directory, hub id, packaged name ("minilm-l6") or single vocabulary file.

    In a directory: spiece.model -> BertGenerationTokenizer (unless tokenizer_config.json names another class
    and its files are there); else tokenizer.json, vocab.txt (WordPiece) or vocab.json + merges.txt
    (byte-level BPE) -> FastTokenizer. kwargs override tokenizer_config.json, e.g. `pad_token="<pad>"`.
    """
    if not isinstance(path_or_name, (str, os.PathLike)):
        raise TypeError(f"load_tokenizer takes a path, hub id or name (str), got {type(path_or_name).__name__}")
    padding_side = kwargs.pop("padding_side", None)
    tokenizer = _load(path_or_name, kwargs)
    if padding_side is not None:
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side={padding_side!r}; use 'right' or 'left'")
        tokenizer.padding_side = padding_side
    return tokenizer


def _load(path_or_name: str | os.PathLike, kwargs: dict[str, Any]) -> Tokenizer:
    path = Path(path_or_name).expanduser()
    if path.is_file():
        return _from_file(path, kwargs)
    directory = resolve_checkpoint_dir(path_or_name, allow_patterns=TOKENIZER_FILES)
    if all((directory / side).is_dir() for side in SIDES):  # a model with two vocabularies saved both
        return TokenizerPair(*(_load(directory / side, dict(kwargs)) for side in SIDES))
    present = {p.name for p in directory.iterdir()}
    declared = read_tokenizer_config(directory).get("tokenizer_class")
    fast_files = present.intersection(_FAST_FILES)
    if "spiece.model" in present and (declared in (None, "BertGenerationTokenizer") or not fast_files):
        return BertGenerationTokenizer.from_pretrained(directory, **kwargs)
    if fast_files:
        return FastTokenizer.from_pretrained(directory, **kwargs)
    raise FileNotFoundError(
        f"{directory}: no tokenizer files. Looked for spiece.model (SentencePiece), tokenizer.json, vocab.txt "
        f"(WordPiece) and vocab.json + merges.txt (byte-level BPE); found {sorted(present)[:20]}")


def _from_file(path: Path, kwargs: dict[str, Any]) -> Tokenizer:
    if path.suffix == ".model":
        return BertGenerationTokenizer(path, **kwargs)
    if path.suffix == ".json":
        return FastTokenizer.from_file(path, **kwargs)
    if path.suffix == ".txt":
        return FastTokenizer.wordpiece(path, **kwargs)
    raise ValueError(f"{path}: not a vocabulary file this can read; pass a spiece.model, tokenizer.json or "
                     "vocab.txt, or the checkpoint directory")


class AutoTokenizer:
    """transformers' spelling of `load_tokenizer`: `AutoTokenizer.from_pretrained(path, **kwargs)`."""

    @staticmethod
    def from_pretrained(path_or_name: str | os.PathLike, **kwargs: Any) -> Tokenizer:
        return load_tokenizer(path_or_name, **kwargs)


class BertTokenizer:
    """transformers' name for BERT's WordPiece tokenizer (the BertGeneration page's Notes use it): the
    checkpoint's tokenizer.json or vocab.txt through `FastTokenizer`, with BERT's [CLS] ... [SEP] template."""

    @staticmethod
    def from_pretrained(path_or_name: str | os.PathLike, **kwargs: Any) -> FastTokenizer:
        padding_side = kwargs.pop("padding_side", None)
        tokenizer = FastTokenizer.from_pretrained(path_or_name, **kwargs)
        if padding_side is not None:
            tokenizer.padding_side = padding_side
        return tokenizer
