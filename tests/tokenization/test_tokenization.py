"""Tokenizers against transformers' (the reference): ids, batches, decoding, files both ways."""
from __future__ import annotations

import pickle
import shutil

import pytest
import torch
import transformers
from tests.support.tokenizer_vocabs import MINILM, TEXTS, train_byte_level_bpe, train_spiece, wordpiece_dir

from bertgen.tokenization import (SAMPLE_CORPUS, BatchEncoding, BertGenerationTokenizer, FastTokenizer,
                                  load_tokenizer)

ROLES = ("pad", "unk", "sep", "cls", "mask")
BATCH_SETTINGS = [dict(padding=True), dict(padding=True, truncation=True, max_length=16),
                  dict(padding="max_length", truncation=True, max_length=24)]


@pytest.fixture(scope="module")
def spiece_dir(tmp_path_factory):
    return train_spiece(tmp_path_factory.mktemp("spiece"))


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory):
    return train_byte_level_bpe(tmp_path_factory.mktemp("bpe"))


def assert_same_as(ours, theirs, texts=TEXTS):
    """Same ids with and without special tokens, same tokens, same decoding, same padded batches."""
    for text in texts:
        for specials in (True, False):
            assert ours.encode(text, add_special_tokens=specials) == \
                theirs.encode(text, add_special_tokens=specials), (text, specials)
        ids = theirs.encode(text)
        assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids), text
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip), text
    for settings in BATCH_SETTINGS:
        mine, reference = ours(texts, return_tensors="pt", **settings), theirs(texts, return_tensors="pt", **settings)
        assert torch.equal(mine["input_ids"], reference["input_ids"]), settings
        assert torch.equal(mine["attention_mask"], reference["attention_mask"]), settings
        for skip in (False, True):
            assert ours.batch_decode(mine["input_ids"], skip_special_tokens=skip) == \
                theirs.batch_decode(reference["input_ids"], skip_special_tokens=skip)
    for role in ROLES:
        assert getattr(ours, f"{role}_token_id") == getattr(theirs, f"{role}_token_id"), role
    assert len(ours) == len(theirs)


# ---------------------------------------------------------------------------------------- WordPiece

def test_wordpiece_from_tokenizer_json_matches_bert_tokenizer_fast():
    assert_same_as(load_tokenizer(MINILM), transformers.BertTokenizerFast.from_pretrained(MINILM))


@pytest.mark.parametrize("config", [{}, {"do_lower_case": False}, {"strip_accents": False},
                                    {"do_lower_case": False, "strip_accents": True},
                                    {"tokenize_chinese_chars": False}], ids=str)
def test_wordpiece_from_vocab_txt_matches_bert_tokenizer_fast(tmp_path, config):
    directory = wordpiece_dir(tmp_path, **config)
    ours = load_tokenizer(directory)
    assert ours.backend.normalizer is not None and "tokenizer.json" not in {p.name for p in tmp_path.iterdir()}
    assert_same_as(ours, transformers.BertTokenizerFast.from_pretrained(directory))


def test_bert_vocabulary_uses_cls_and_sep_as_bos_and_eos():
    """The paper's convention: the decoder starts from [CLS] and stops at [SEP]."""
    tok = load_tokenizer(MINILM)
    assert tok.bos_token_id == tok.decoder_start_token_id == tok.cls_token_id == tok.convert_tokens_to_ids("[CLS]")
    assert tok.eos_token_id == tok.sep_token_id == tok.convert_tokens_to_ids("[SEP]")
    assert tok.encode("hi there") == [tok.cls_token_id, *tok.encode("hi there", add_special_tokens=False),
                                      tok.sep_token_id]


# ---------------------------------------------------------------------------------------- byte-level BPE

def test_byte_level_bpe_matches_roberta_tokenizer_fast(bpe_dir):
    ours = load_tokenizer(bpe_dir)
    assert type(ours.backend.model).__name__ == "BPE"
    theirs = transformers.RobertaTokenizerFast.from_pretrained(bpe_dir)
    assert_same_as(ours, theirs)
    assert (ours.bos_token_id, ours.eos_token_id) == (theirs.bos_token_id, theirs.eos_token_id)


def test_gpt2_style_vocabulary_gets_endoftext_roles_and_no_template(tmp_path):
    tok = load_tokenizer(train_byte_level_bpe(tmp_path, special_tokens=["<|endoftext|>"]))
    end = tok.convert_tokens_to_ids("<|endoftext|>")
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (end, end, None)
    assert tok.encode("a b") == tok.encode("a b", add_special_tokens=False)
    assert tok.save_pretrained(tmp_path / "saved") and \
        transformers.AutoTokenizer.from_pretrained(tmp_path / "saved").encode("a b") == tok.encode("a b")


# ---------------------------------------------------------------------------------------- SentencePiece

def test_sentencepiece_matches_bert_generation_tokenizer(spiece_dir):
    ours = load_tokenizer(spiece_dir)
    assert isinstance(ours, BertGenerationTokenizer)
    theirs = transformers.BertGenerationTokenizer(str(spiece_dir / "spiece.model"))
    assert_same_as(ours, theirs)
    assert (ours.bos_token_id, ours.eos_token_id) == (theirs.bos_token_id, theirs.eos_token_id)


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_trained_model_loads_in_transformers_with_the_same_ids(tmp_path, model_type):
    ours = BertGenerationTokenizer.train([SAMPLE_CORPUS], vocab_size=400, model_type=model_type)
    files = ours.save_pretrained(tmp_path)
    assert {p.rsplit("/", 1)[-1] for p in files} == {"spiece.model", "tokenizer_config.json",
                                                     "special_tokens_map.json"}
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert type(theirs).__name__ == "BertGenerationTokenizer"
    assert_same_as(ours, theirs)
    # The special ids sit where transformers' BertGenerationConfig expects them by default.
    config = transformers.BertGenerationConfig()
    assert (theirs.pad_token_id, theirs.eos_token_id, theirs.bos_token_id) == \
        (config.pad_token_id, config.eos_token_id, config.bos_token_id)
    assert (ours.unk_token_id, ours.sep_token_id) == (theirs.unk_token_id, theirs.sep_token_id)


def test_inputs_get_no_special_tokens(spiece_dir):
    tok = load_tokenizer(spiece_dir)
    text = "The river rose slowly."
    assert tok.encode(text) == tok.encode(text, add_special_tokens=True) == tok.encode(text, add_special_tokens=False)
    assert tok.bos_token_id not in tok.encode(text) and tok.eos_token_id not in tok.encode(text)


def test_separator_missing_from_the_model_is_added_after_it_as_transformers_does(tmp_path):
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(input=str(SAMPLE_CORPUS), model_prefix=str(tmp_path / "spiece"), vocab_size=300,
                                   pad_id=0, eos_id=1, bos_id=2, unk_id=3, minloglevel=2)
    ours = BertGenerationTokenizer(tmp_path / "spiece.model")
    theirs = transformers.BertGenerationTokenizer(str(tmp_path / "spiece.model"))
    assert ours.sep_token_id == ours.vocab_size == 300 and len(ours) == 301
    assert_same_as(ours, theirs)


def test_tokenizer_saved_by_transformers_loads_here(tmp_path, spiece_dir):
    theirs = transformers.BertGenerationTokenizer(str(spiece_dir / "spiece.model"))
    theirs.save_pretrained(tmp_path)
    ours = load_tokenizer(tmp_path)
    assert isinstance(ours, BertGenerationTokenizer)
    assert_same_as(ours, theirs)


# ---------------------------------------------------------------------------------------- files both ways

@pytest.mark.parametrize("kind", ["wordpiece", "wordpiece_json", "bpe", "spiece"])
def test_save_pretrained_reads_back_here_and_in_transformers(tmp_path, kind, spiece_dir, bpe_dir):
    source = {"wordpiece": lambda: wordpiece_dir(tmp_path / "src", do_lower_case=False),
              "wordpiece_json": lambda: MINILM, "bpe": lambda: bpe_dir, "spiece": lambda: spiece_dir}[kind]()
    tok = load_tokenizer(source)
    tok.save_pretrained(tmp_path / "saved")
    again = load_tokenizer(tmp_path / "saved")
    assert type(again) is type(tok)
    assert [again.encode(t) for t in TEXTS] == [tok.encode(t) for t in TEXTS]
    assert again.special_tokens == tok.special_tokens and again.model_max_length == tok.model_max_length
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert_same_as(tok, theirs)
    assert (theirs.bos_token_id, theirs.eos_token_id) == (tok.bos_token_id, tok.eos_token_id)
    # The model's own files stand alone too (transformers' loaders without tokenizer.json read them).
    if kind != "spiece":
        (tmp_path / "saved" / "tokenizer.json").unlink()
        alone = load_tokenizer(tmp_path / "saved")
        assert [alone.encode(t) for t in TEXTS] == [tok.encode(t) for t in TEXTS]


def test_save_vocabulary_with_prefix(tmp_path, spiece_dir):
    (path,) = load_tokenizer(spiece_dir).save_vocabulary(tmp_path, filename_prefix="de")
    assert path == str(tmp_path / "de-spiece.model")
    assert BertGenerationTokenizer(path).get_vocab() == load_tokenizer(spiece_dir).get_vocab()


def test_a_failed_save_leaves_the_old_files_whole(tmp_path, spiece_dir, monkeypatch):
    import bertgen.tokenization.base as base

    tok = load_tokenizer(spiece_dir)
    shutil.copy(spiece_dir / "spiece.model", tmp_path / "spiece.model")
    before = (tmp_path / "spiece.model").read_bytes()
    other = BertGenerationTokenizer.train([SAMPLE_CORPUS], vocab_size=300)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(base.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        other.save_pretrained(tmp_path)
    assert (tmp_path / "spiece.model").read_bytes() == before and tok.vocab_size == 500
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spiece.model"]


# ---------------------------------------------------------------------------------------- choosing by files

def test_load_tokenizer_chooses_by_the_files_present(tmp_path, spiece_dir, bpe_dir):
    assert isinstance(load_tokenizer(spiece_dir), BertGenerationTokenizer)
    assert isinstance(load_tokenizer(spiece_dir / "spiece.model"), BertGenerationTokenizer)
    assert load_tokenizer(MINILM / "vocab.txt").encode("hi") == load_tokenizer(MINILM).encode("hi")
    assert load_tokenizer(MINILM / "tokenizer.json").encode("hi") == load_tokenizer(MINILM).encode("hi")
    assert load_tokenizer("minilm-l6").source == load_tokenizer(MINILM).source
    # spiece.model beside a tokenizer.json: whichever tokenizer_config.json declares.
    both = tmp_path / "both"
    shutil.copytree(spiece_dir, both)
    shutil.copy(MINILM / "tokenizer.json", both / "tokenizer.json")
    assert isinstance(load_tokenizer(both), BertGenerationTokenizer)
    shutil.copy(MINILM / "tokenizer_config.json", both / "tokenizer_config.json")  # tokenizer_class: BertTokenizer
    (both / "special_tokens_map.json").unlink()
    assert isinstance(load_tokenizer(both), FastTokenizer)


def test_load_tokenizer_overrides_special_tokens(spiece_dir):
    tok = load_tokenizer(MINILM, bos_token="[unused0]", eos_token="[unused1]")
    assert (tok.bos_token_id, tok.eos_token_id) == (1, 2)
    assert load_tokenizer(spiece_dir, model_max_length=7)("a " * 20, truncation=True)["input_ids"].__len__() == 7


# ---------------------------------------------------------------------------------------- calling convention

@pytest.fixture(scope="module", params=["spiece", "wordpiece", "bpe"])
def any_tokenizer(request, spiece_dir, bpe_dir):
    return load_tokenizer({"spiece": spiece_dir, "wordpiece": MINILM, "bpe": bpe_dir}[request.param])


def test_one_string_gives_flat_lists_and_a_batch_of_one_as_tensors(any_tokenizer):
    single = any_tokenizer("the river")
    assert isinstance(single, BatchEncoding) and single.input_ids == any_tokenizer.encode("the river")
    assert single.attention_mask == [1] * len(single.input_ids)
    tensors = any_tokenizer("the river", return_tensors="pt").to("cpu")
    assert tensors.input_ids.shape == (1, len(single.input_ids)) and tensors.input_ids.dtype == torch.long
    assert any_tokenizer(("a", "b"))["input_ids"] == any_tokenizer(["a", "b"])["input_ids"]
    assert "attention_mask" not in any_tokenizer("a", return_attention_mask=False)


def test_empty_batch_and_empty_strings(any_tokenizer):
    assert any_tokenizer([]) == {"input_ids": [], "attention_mask": []}
    assert any_tokenizer([], padding=True, return_tensors="pt")["input_ids"].shape == (0, 0)
    batch = any_tokenizer(["", ""], add_special_tokens=False, padding=True, return_tensors="pt")
    assert batch["input_ids"].shape == (2, 0)
    assert any_tokenizer.decode([]) == ""


def test_very_long_input_is_truncated_to_max_length(any_tokenizer):
    text = "The river rose slowly through the night. " * 5000  # 200,000 characters
    content, full = any_tokenizer.encode(text, add_special_tokens=False), any_tokenizer.encode(text)
    assert len(content) > 10_000
    assert any_tokenizer(text, add_special_tokens=False, truncation=True, max_length=64)["input_ids"] == content[:64]
    ids = any_tokenizer(text, max_length=64)["input_ids"]  # max_length alone truncates too
    if len(full) == len(content):  # no special tokens
        assert ids == content[:64]
    else:  # the end token survives truncation
        assert len(ids) == 64 and ids[:-1] == full[:63] and ids[-1] == full[-1]


def test_truncation_keeps_the_special_tokens():
    tok = load_tokenizer(MINILM)
    ids = tok("one two three four five six", max_length=4)["input_ids"]
    assert ids == [tok.cls_token_id, *tok.encode("one two", add_special_tokens=False), tok.sep_token_id]
    assert len(tok("word " * 600, truncation=True)["input_ids"]) == tok.model_max_length == 512


def test_pickles_for_dataloader_workers(any_tokenizer):
    again = pickle.loads(pickle.dumps(any_tokenizer))
    assert [again.encode(t) for t in TEXTS] == [any_tokenizer.encode(t) for t in TEXTS]


def test_decode_takes_lists_tensors_and_single_ids(any_tokenizer):
    ids = any_tokenizer.encode("the river rose", add_special_tokens=False)
    assert any_tokenizer.decode(torch.tensor(ids)) == any_tokenizer.decode(ids)
    assert any_tokenizer.convert_ids_to_tokens(ids[0]) == any_tokenizer.convert_ids_to_tokens(ids)[0]
    assert any_tokenizer.convert_tokens_to_ids(any_tokenizer.convert_ids_to_tokens(ids)) == ids
    assert any_tokenizer.convert_tokens_to_ids("no-such-token-anywhere") == any_tokenizer.unk_token_id
    assert any_tokenizer.tokenize("the river rose") == any_tokenizer.convert_ids_to_tokens(ids)
    assert any_tokenizer.batch_decode(torch.tensor([ids, ids])) == [any_tokenizer.decode(ids)] * 2
    vocab = any_tokenizer.get_vocab()
    assert len(vocab) == len(any_tokenizer) and all(vocab[t] == i for t, i in zip(
        any_tokenizer.convert_ids_to_tokens(ids), ids))
