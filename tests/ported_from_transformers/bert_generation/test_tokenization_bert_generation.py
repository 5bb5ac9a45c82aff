"""transformers' tests/models/bert_generation/test_tokenization_bert_generation.py, ported to bertgen's names,
on its fixture tests/fixtures/test_sentencepiece.model (<unk> 0, <s> 1, </s> 2, no <pad>), with the
TokenizerTesterMixin checks that apply to a SentencePiece tokenizer without special-token templates.

Skipped, as the port's rules allow: test_tokenization_base_easy_symbols, test_tokenization_base_hard_symbols,
test_torch_encode_plus_sent_to_model and test_tokenizer_integration (the hub vocabulary of
google/bert_for_seq_generation_L-24_bbc_encoder and its numbers); the mixin's rust/fast-tokenizer and
pair-of-sequences checks (test_rust_tokenizer = False; BertGeneration encodes single texts).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from bertgen import BertGenerationTokenizer

SPIECE_UNDERLINE = "▁"
SAMPLE_VOCAB = Path(__file__).parents[2] / "fixtures" / "test_sentencepiece.model"


@pytest.fixture()
def tokenizer():
    return BertGenerationTokenizer(SAMPLE_VOCAB, keep_accents=True)


@pytest.fixture()
def saved(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    return tmp_path


def test_convert_token_and_id(saved):
    tok = BertGenerationTokenizer.from_pretrained(saved)
    assert tok._convert_token_to_id("<s>") == 1
    assert tok._convert_id_to_token(1) == "<s>"


def test_get_vocab(saved):
    vocab_keys = list(BertGenerationTokenizer.from_pretrained(saved).get_vocab().keys())
    assert vocab_keys[0] == "<unk>"
    assert vocab_keys[1] == "<s>"
    assert vocab_keys[-1] == "<pad>"
    assert len(vocab_keys) == 1_002


def test_vocab_size(saved):
    assert BertGenerationTokenizer.from_pretrained(saved).vocab_size == 1_000


def test_full_tokenizer(tokenizer):
    tokens = tokenizer.tokenize("This is a test")
    assert tokens == ["▁This", "▁is", "▁a", "▁t", "est"]
    assert tokenizer.convert_tokens_to_ids(tokens) == [285, 46, 10, 170, 382]
    tokens = tokenizer.tokenize("I was born in 92000, and this is falsé.")
    assert tokens == [SPIECE_UNDERLINE + "I", SPIECE_UNDERLINE + "was", SPIECE_UNDERLINE + "b", "or", "n",
                      SPIECE_UNDERLINE + "in", SPIECE_UNDERLINE + "", "9", "2", "0", "0", "0", ",",
                      SPIECE_UNDERLINE + "and", SPIECE_UNDERLINE + "this", SPIECE_UNDERLINE + "is",
                      SPIECE_UNDERLINE + "f", "al", "s", "é", "."]
    ids = tokenizer.convert_tokens_to_ids(tokens)
    assert ids == [8, 21, 84, 55, 24, 19, 7, 0, 602, 347, 347, 347, 3, 12, 66, 46, 72, 80, 6, 0, 4]
    back_tokens = tokenizer.convert_ids_to_tokens(ids)
    assert back_tokens == [SPIECE_UNDERLINE + "I", SPIECE_UNDERLINE + "was", SPIECE_UNDERLINE + "b", "or", "n",
                           SPIECE_UNDERLINE + "in", SPIECE_UNDERLINE + "", "<unk>", "2", "0", "0", "0", ",",
                           SPIECE_UNDERLINE + "and", SPIECE_UNDERLINE + "this", SPIECE_UNDERLINE + "is",
                           SPIECE_UNDERLINE + "f", "al", "s", "<unk>", "."]


# ---------------------------------------------------------------------------- TokenizerTesterMixin, ported

def test_tokenizers_common_properties(tokenizer):
    for attr in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        assert hasattr(tokenizer, attr) and hasattr(tokenizer, attr + "_id")
    assert hasattr(tokenizer, "model_max_length") and hasattr(tokenizer, "padding_side")


def test_token_setters(tokenizer):
    tokenizer.bos_token_id = 2
    assert tokenizer.bos_token == "</s>"
    tokenizer.eos_token = "<s>"
    assert tokenizer.eos_token_id == 1
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tokenizer.pad_token = "<nothing>"


def test_save_and_load_tokenizer(tokenizer, tmp_path):
    sample = " He is very happy, UNwant\u00e9d,running"
    before = tokenizer.encode(sample, add_special_tokens=False)
    tokenizer.add_tokens(["bim", "bambam"])
    tokenizer.add_special_tokens({"mask_token": "<mask>"})
    with_added = tokenizer.encode(sample + " bim bambam", add_special_tokens=False)
    tokenizer.save_pretrained(tmp_path)
    again = BertGenerationTokenizer.from_pretrained(tmp_path)
    assert again.encode(sample, add_special_tokens=False) == before
    assert again.encode(sample + " bim bambam", add_special_tokens=False) == with_added
    assert "bim" in again.get_vocab() and again.mask_token_id == tokenizer.mask_token_id == 1004


def test_pickle_tokenizer(tokenizer):
    text = "Munich and Berlin are nice cities"
    assert pickle.loads(pickle.dumps(tokenizer)).tokenize(text) == tokenizer.tokenize(text)


def test_add_tokens_tokenizer(tokenizer):
    vocab_size, all_size = tokenizer.vocab_size, len(tokenizer)
    added = tokenizer.add_tokens(["aaaaa bbbbbb", "cccccccccdddddddd"])
    assert (added, tokenizer.vocab_size, len(tokenizer)) == (2, vocab_size, all_size + 2)
    tokens = tokenizer.encode("aaaaa bbbbbb low cccccccccdddddddd l", add_special_tokens=False)
    assert len(tokens) >= 4 and tokens[0] > tokenizer.vocab_size - 1 and tokens[-2] > tokenizer.vocab_size - 1
    added = tokenizer.add_special_tokens({"eos_token": ">>>>|||<||<<|<<", "pad_token": "<<<<<|||>|>>>>|>"})
    assert added == 2 and len(tokenizer) == all_size + 4
    tokens = tokenizer.encode(">>>>|||<||<<|<< aaaaa bbbbbb low cccccccccdddddddd <<<<<|||>|>>>>|> l",
                              add_special_tokens=False)
    assert tokens[0] == tokenizer.eos_token_id and tokens[-2] == tokenizer.pad_token_id
    assert tokenizer.decode(tokens, skip_special_tokens=True).startswith("aaaaa bbbbbb")


def test_convert_tokens_to_string_format(tokenizer):
    assert tokenizer.convert_tokens_to_string(["▁This", "▁is", "▁a", "▁t", "est"]) == "This is a test"
    assert tokenizer.convert_tokens_to_string(["▁This", "<s>", "▁is"]) == "This<s> is"  # transformers' too


def test_number_of_added_tokens(tokenizer):
    """TokenizerTesterMixin's check: build_inputs_with_special_tokens adds num_special_tokens_to_add ids, for one
    text and a pair, as transformers' BertGenerationTokenizer on the same vocabulary (BertGeneration adds none)."""
    transformers = pytest.importorskip("transformers")

    theirs = transformers.BertGenerationTokenizer(str(SAMPLE_VOCAB), keep_accents=True)
    first = tokenizer.encode("Test this method.", add_special_tokens=False)
    second = tokenizer.encode("With these inputs.", add_special_tokens=False)
    for pair in (False, True):
        built = tokenizer.build_inputs_with_special_tokens(first, second if pair else None)
        assert built == theirs.build_inputs_with_special_tokens(first, second if pair else None)
        assert len(built) - len(first) - (len(second) if pair else 0) == tokenizer.num_special_tokens_to_add(pair) \
            == theirs.num_special_tokens_to_add(pair) == 0
    assert len(tokenizer.encode("This is a test", add_special_tokens=True)) == \
        len(tokenizer.encode("This is a test", add_special_tokens=False))


def test_build_inputs_with_special_tokens_on_a_bert_vocabulary():
    """The same method on a WordPiece vocabulary ([CLS] A [SEP] B [SEP]), against transformers' tokenizer."""
    transformers = pytest.importorskip("transformers")
    from bertgen import load_tokenizer
    from tests.support.tokenizer_vocabs import MINILM

    ours, theirs = load_tokenizer(MINILM), transformers.AutoTokenizer.from_pretrained(str(MINILM))
    first, second = [2023, 2003], [1037, 3231, 1012]
    assert ours.build_inputs_with_special_tokens(first) == [101, *first, 102] == \
        theirs(theirs.decode(first), add_special_tokens=True)["input_ids"]
    assert ours.build_inputs_with_special_tokens(first, second) == [101, *first, 102, *second, 102] == \
        theirs(theirs.decode(first), theirs.decode(second))["input_ids"]
    assert ours.num_special_tokens_to_add(pair=True) == theirs.num_special_tokens_to_add(pair=True) == 3


def test_special_tokens_mask_and_token_type_ids(tokenizer):
    out = tokenizer("This is a test", return_special_tokens_mask=True, return_token_type_ids=True)
    assert out["special_tokens_mask"] == [0] * 5 and out["token_type_ids"] == [0] * 5


def test_padding_sides(tokenizer):
    right = tokenizer(["This is a test", "This"], padding=True)
    assert right["input_ids"][1] == [285] + [1001] * 4 and right["attention_mask"][1] == [1, 0, 0, 0, 0]
    left = tokenizer(["This is a test", "This"], padding=True, padding_side="left")
    assert left["input_ids"][1] == [1001] * 4 + [285] and left["attention_mask"][1] == [0, 0, 0, 0, 1]
    tokenizer.padding_side = "left"
    assert tokenizer(["This is a test", "This"], padding=True)["input_ids"] == left["input_ids"]


def test_decode_clean_up_tokenization_spaces(tokenizer):
    ids = tokenizer.encode("This is a test , isn 't it ?", add_special_tokens=False)
    assert tokenizer.decode(ids) == tokenizer.decode(ids, clean_up_tokenization_spaces=False)
    assert tokenizer.decode(ids, clean_up_tokenization_spaces=True) == \
        tokenizer.decode(ids).replace(" ,", ",").replace(" ?", "?")  # " 't" is not a contraction it cleans


def test_subword_regularization_tokenizer():
    tok = BertGenerationTokenizer(SAMPLE_VOCAB, sp_model_kwargs={"enable_sampling": True, "alpha": 0.1,
                                                                  "nbest_size": -1})
    text = "This is a test for subword regularization."
    draws = {tuple(tok.tokenize(text)) for _ in range(20)}
    assert len(draws) > 1  # sampling gives different segmentations
    assert all("".join(d).replace(SPIECE_UNDERLINE, " ").strip() == text for d in draws)
    assert pickle.loads(pickle.dumps(tok)).sp_model_kwargs == tok.sp_model_kwargs


def test_same_ids_as_transformers(tokenizer):
    """The whole port against the reference on its own fixture: ids, pieces, decode, padding."""
    transformers = pytest.importorskip("transformers")
    theirs = transformers.BertGenerationTokenizer(str(SAMPLE_VOCAB), keep_accents=True)
    texts = ["I was born in 92000, and this is falsé.", "This is a test", "<s> hello </s> <::::> there"]
    for text in texts:
        assert tokenizer.tokenize(text) == theirs.tokenize(text)
        assert tokenizer.encode(text) == theirs.encode(text)
    assert tokenizer(texts, padding=True)["input_ids"] == theirs(texts, padding=True)["input_ids"]
    ids = tokenizer.encode(texts[0])
    assert tokenizer.decode(ids) == theirs.decode(ids)
    assert list(tokenizer.get_vocab().items()) == list(theirs.get_vocab().items())
