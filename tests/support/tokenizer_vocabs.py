"""Vocabularies for the tokenizer tests, built in a few hundred milliseconds from the sample corpus, plus
the texts every tokenizer is compared on."""
from __future__ import annotations

import shutil
from pathlib import Path

from bertgen.hub import packaged_checkpoint_dir
from bertgen.tokenization import SAMPLE_CORPUS, BertGenerationTokenizer

MINILM = packaged_checkpoint_dir("minilm-l6")  # the uncased bert-base WordPiece vocabulary

# Accents, CJK, emoji, punctuation, empty and blank strings, long words, literal special tokens of every
# family, control and zero-width characters, and one text long enough to need truncation.
TEXTS = [
    "Hello, world!",
    "The café's naïve façade: déjà vu, jalapeño, Zürich, smörgåsbord.",
    "ÜNÏCÖDÉ Àccénts ß ø Ł ı İ ǅ",
    "日本語のテキストと中文字符，한국어도。",
    "emoji 😀👍🏽 and ❤️ and 👨‍👩‍👧",
    "punctuation!?.,;:'\"()[]{}<>/\\|@#$%^&*-_=+~`",
    "",
    "   ",
    "\t\n \r\n ",
    "a" * 150,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "[CLS] hello [SEP] [MASK] x[PAD]y [UNK] [cls]",
    "<s> hi </s> <pad> <unk> <mask> <::::> a<s>b <|endoftext|>",
    "  leading and   trailing spaces  ",
    "Numbers 3.14159 and 1,000,000 and 42% of $5.49",
    "zero\u200bwidth\u00a0no-break\u2028line\x00nul\x07bell",
    "The river rose slowly through the night. " * 40,
]


def train_spiece(directory: Path, vocab_size: int = 500, model_type: str = "unigram") -> Path:
    """A SentencePiece vocabulary trained here, saved as a checkpoint directory."""
    tok = BertGenerationTokenizer.train([SAMPLE_CORPUS], vocab_size=vocab_size, model_type=model_type)
    tok.save_pretrained(directory)
    return directory


def train_byte_level_bpe(directory: Path, special_tokens=("<s>", "<pad>", "</s>", "<unk>", "<mask>")) -> Path:
    """vocab.json + merges.txt as RoBERTa ships them, trained by the tokenizers library on the sample corpus."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train([str(SAMPLE_CORPUS)], vocab_size=700, special_tokens=list(special_tokens), show_progress=False)
    directory.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(directory))
    return directory


def wordpiece_dir(directory: Path, **config) -> Path:
    """MiniLM's vocab.txt alone (no tokenizer.json), with tokenizer_config.json settings."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(MINILM / "vocab.txt", directory / "vocab.txt")
    (directory / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512, **config}))
    return directory
