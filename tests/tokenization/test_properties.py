"""Properties over generated text (hypothesis): nothing crashes, and decoding undoes encoding up to the
tokenizer's own normalization, computed independently by the libraries' normalizers."""
from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from tests.support.tokenizer_vocabs import MINILM, train_byte_level_bpe, train_spiece

from bertgen.tokenization import load_tokenizer

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Candidate characters for the round trips: ASCII, Latin-1 and a few CJK, whitespace of several kinds.
POOL = string.printable + "àáâäçèéêëìíîïñòóôöùúûüýÿßÀÉÎÑÖÜ" + "日本語中文字" + "\u00a0\u2003"


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    spiece = train_spiece(tmp_path_factory.mktemp("spiece"))
    bpe = train_byte_level_bpe(tmp_path_factory.mktemp("bpe"))
    return {"spiece": load_tokenizer(spiece), "wordpiece": load_tokenizer(MINILM), "bpe": load_tokenizer(bpe)}


@SETTINGS
@given(texts=st.lists(st.text(max_size=60), min_size=1, max_size=4), max_length=st.integers(3, 20))
@pytest.mark.parametrize("kind", ["spiece", "wordpiece", "bpe"])
def test_any_unicode_encodes_and_decodes(tokenizers, kind, texts, max_length):
    tok = tokenizers[kind]
    singles = [tok.encode(t) for t in texts]
    assert all(0 <= i < len(tok) for ids in singles for i in ids)
    assert [tok.decode(ids) for ids in singles] == tok.batch_decode(singles)
    batch = tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    B, L = batch["input_ids"].shape
    assert B == len(texts) and L <= max_length
    for row, mask, ids in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist(), singles):
        kept = sum(mask)
        assert mask == [1] * kept + [0] * (L - kept) and row[kept:] == [tok.pad_token_id] * (L - kept)
        assert kept == min(len(ids), max_length)
        if len(ids) <= max_length:  # a batch encodes each text as it would alone
            assert row[:kept] == ids


def _sentencepiece_alphabet(tok) -> str:
    """Characters that are pieces of the vocabulary and that NFKC leaves alone; no '<' (special tokens)."""
    vocab = tok.get_vocab()
    return "".join(c for c in POOL if c in vocab and unicodedata.normalize("NFKC", c) == c and c != "<") + " \t\n"


@pytest.fixture(scope="module")
def alphabets(tokenizers):
    alphabets = {"spiece": _sentencepiece_alphabet(tokenizers["spiece"]),
                 "wordpiece": _wordpiece_alphabet(tokenizers["wordpiece"])}
    assert all(set(string.ascii_lowercase) <= set(a) for a in alphabets.values())  # the tests test something
    return alphabets


@SETTINGS
@given(data=st.data())
def test_sentencepiece_decode_undoes_encode_up_to_normalization(tokenizers, alphabets, data):
    tok = tokenizers["spiece"]
    text = data.draw(st.text(alphabet=alphabets["spiece"], max_size=80))
    normalized = tok.sp_model.normalize(text).replace("▁", " ").strip()  # NFKC, whitespace collapsed
    assert tok.decode(tok.encode(text)) == normalized


def _wordpiece_alphabet(tok) -> str:
    """Characters whose normalized form the vocabulary spells: standalone (punctuation, CJK) or, for letters,
    also as a word continuation ('##e'). No '[' (special tokens are written [CLS], [SEP], ...)."""
    vocab, backend = tok.get_vocab(), tok.backend

    def spelled(c: str) -> bool:
        normal = backend.normalizer.normalize_str(c).strip()
        standalone = len(backend.pre_tokenizer.pre_tokenize_str(f"a{c}a")) == 3
        return all(ch in vocab and (standalone or f"##{ch}" in vocab) for ch in normal)

    return "".join(c for c in POOL if c != "[" and spelled(c))


@SETTINGS
@given(data=st.data())
def test_wordpiece_decode_undoes_encode_up_to_normalization(tokenizers, alphabets, data):
    tok = tokenizers["wordpiece"]
    text = data.draw(st.text(alphabet=alphabets["wordpiece"], max_size=80))
    backend = tok.backend
    words = [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]
    assume(all(len(w) <= 100 for w in words))  # WordPiece maps longer words to [UNK]
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == backend.decoder.decode(words)


@SETTINGS
@given(text=st.text(max_size=80))
def test_byte_level_bpe_decode_is_the_identity(tokenizers, text):
    tok = tokenizers["bpe"]
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
