"""Tokenizer speed: bertgen's three tokenizers against transformers' on the same texts, side by side.

Texts: the Brown sample's sentences and bertgen's sample corpus, each alone and joined with its
neighbour (two-sentence inputs, as in sentence fusion): about 2,900 texts. Encoding is the training call,
`tok(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")` in batches of 32;
decoding is `batch_decode(ids, skip_special_tokens=True)` of the result. Runs are interleaved (bertgen,
transformers, bertgen, ...) so a busy machine slows both alike; medians are reported.

- SentencePiece: a 2,000-piece unigram model trained on the texts; transformers' BertGenerationTokenizer
  is a Python tokenizer over the same sentencepiece library.
- WordPiece: MiniLM-L6's uncased vocabulary (tokenizer.json); transformers' BertTokenizerFast.
- Byte-level BPE: 2,000 merges trained on the texts (vocab.json + merges.txt); RobertaTokenizerFast.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

BATCH = 32
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def texts() -> list[str]:
    from bertgen.data.corpora import brown
    from bertgen.tokenization import SAMPLE_CORPUS

    sentences = [brown.text(s) for doc in brown.read_corpus(brown.SAMPLE_DIR) for s in doc.sentences]
    sentences += SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines()
    return sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:])]


def tokenizer_pairs(corpus: list[str], directory: Path) -> dict[str, tuple]:
    """name: (bertgen tokenizer, transformers tokenizer) reading the same files."""
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    from bertgen.hub import resolve_checkpoint_dir
    from bertgen.tokenization import BertGenerationTokenizer, load_tokenizer

    BertGenerationTokenizer.train(corpus, vocab_size=2000).save_pretrained(directory / "spiece")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=2000, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                            show_progress=False)
    (directory / "bpe").mkdir()
    bpe.save_model(str(directory / "bpe"))
    minilm = resolve_checkpoint_dir("minilm-l6")
    return {
        "SentencePiece (BertGenerationTokenizer)": (
            load_tokenizer(directory / "spiece"),
            transformers.BertGenerationTokenizer(str(directory / "spiece" / "spiece.model"))),
        "WordPiece (BertTokenizerFast)": (
            load_tokenizer(minilm), transformers.BertTokenizerFast.from_pretrained(minilm)),
        "byte-level BPE (RobertaTokenizerFast)": (
            load_tokenizer(directory / "bpe"), transformers.RobertaTokenizerFast.from_pretrained(directory / "bpe")),
    }


def encode_all(tok, batches: list[list[str]]) -> list:
    return [tok(b, padding=True, truncation=True, max_length=128, return_tensors="pt")["input_ids"] for b in batches]


def decode_all(tok, encoded: list) -> None:
    for ids in encoded:
        tok.batch_decode(ids, skip_special_tokens=True)


def seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    warnings.filterwarnings("ignore")
    corpus = texts()
    batches = [corpus[i:i + BATCH] for i in range(0, len(corpus), BATCH)]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for name, pair in tokenizer_pairs(corpus, Path(directory)).items():
            encoded = [encode_all(tok, batches) for tok in pair]  # warm-up, and the ids to decode
            assert all(a.equal(b) for a, b in zip(*encoded)), f"{name}: the two tokenizers disagree"
            times = {(op, side): [] for op in ("encode", "decode") for side in (0, 1)}
            for _ in range(ROUNDS):
                for side, tok in enumerate(pair):
                    times["encode", side].append(seconds(lambda: encode_all(tok, batches)))
                    times["decode", side].append(seconds(lambda: decode_all(tok, encoded[side])))
            for op in ("encode", "decode"):
                ours, theirs = (len(corpus) / statistics.median(times[op, side]) for side in (0, 1))
                rows.append(f"| {name} | {op} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} |")

    print("## Tokenizers (texts/s)\n")
    print(f"{len(corpus):,} texts (Brown sample + sample corpus, single sentences and neighbouring pairs, mean "
          f"{sum(map(len, corpus)) / len(corpus):.0f} characters), batches of {BATCH}; encode = padded, truncated "
          f"to 128, tensors; decode = batch_decode skipping special tokens. Same ids on both sides (checked). "
          f"Median of {ROUNDS} interleaved rounds.\n")
    print("| tokenizer (transformers class) | operation | bertgen | transformers | ratio |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main())
