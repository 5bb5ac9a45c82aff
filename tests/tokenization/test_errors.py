"""Every way to misuse a tokenizer ends in an error that says what, where, and what to do."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
import torch
from tests.support.tokenizer_vocabs import MINILM, train_byte_level_bpe, train_spiece, wordpiece_dir

from bertgen.tokenization import SAMPLE_CORPUS, BertGenerationTokenizer, FastTokenizer, load_tokenizer


@pytest.fixture(scope="module")
def spiece_dir(tmp_path_factory):
    return train_spiece(tmp_path_factory.mktemp("spiece"), vocab_size=300)


@pytest.fixture(scope="module", params=["spiece", "wordpiece"])
def tok(request, spiece_dir):
    return load_tokenizer(spiece_dir if request.param == "spiece" else MINILM)


# ---------------------------------------------------------------------------------------- inputs

@pytest.mark.parametrize("bad, message", [
    (5, r"text must be a str or a list of str, got int \(5\)"),
    (None, r"text must be a str or a list of str, got NoneType"),
    (b"bytes", r"text must be a str or a list of str, got bytes"),
    (["ok", 3.5], r"text\[1\] is float \(3\.5\); a batch must hold only str"),
    (["ok", ["nested"]], r"text\[1\] is list \(\['nested'\]\)"),
])
def test_non_string_input(tok, bad, message):
    with pytest.raises(TypeError, match=message):
        tok(bad)


def test_encode_takes_one_string(tok):
    with pytest.raises(TypeError, match="encode takes one str, got list; use tok\\(list_of_texts\\) for a batch"):
        tok.encode(["a", "b"])


@pytest.mark.parametrize("settings, message", [
    (dict(padding="left"), r"padding='left'; use True / 'longest', 'max_length' or False / 'do_not_pad'"),
    (dict(truncation="only_second"), r"truncation='only_second'; use True / 'longest_first'"),
    (dict(max_length=0), r"max_length must be a positive int, got 0"),
    (dict(max_length=2.5), r"max_length must be a positive int, got 2\.5"),
    (dict(return_tensors="np"), r"return_tensors='np' is not supported; use 'pt' or None"),
    (dict(return_tensors="pt"), r"return_tensors='pt' needs equal lengths but the texts have \[\d+, \d+\] tokens; "
                                r"pass padding=True"),
])
def test_bad_settings(tok, settings, message):
    with pytest.raises(ValueError, match=message):
        tok(["one", "one two three four"], **settings)


def test_padding_to_max_length_needs_a_length(spiece_dir):
    with pytest.raises(ValueError, match=r"padding='max_length' needs max_length \(this tokenizer has no "
                                         r"model_max_length\)"):
        load_tokenizer(spiece_dir)("a", padding="max_length")


def test_max_length_below_the_special_tokens():
    with pytest.raises(ValueError, match=r"max_length=1 leaves no room for the 2 special tokens; raise max_length "
                                         r"or pass add_special_tokens=False"):
        load_tokenizer(MINILM)("hello", max_length=1)


def test_padding_without_a_pad_token(tmp_path):
    gpt2_like = load_tokenizer(train_byte_level_bpe(tmp_path, special_tokens=["<|endoftext|>"]))
    with pytest.raises(ValueError, match=r"padding needs a pad token and the tokenizer from .*vocab\.json has none; "
                                         r"pass one that is in the vocabulary, e\.g\. load_tokenizer\(path, "
                                         r"pad_token='\.\.\.'\)"):
        gpt2_like(["a", "a b"], padding=True)
    assert load_tokenizer(tmp_path, pad_token="<|endoftext|>")(["a", "a b"], padding=True)["attention_mask"][0][-1] == 0


# ---------------------------------------------------------------------------------------- decoding

@pytest.mark.parametrize("ids, error, message", [
    ([5, -100], ValueError, r"token id -100 at position 1 is outside the vocabulary \(0\.\.\d+\); -100 marks "
                            r"ignored label positions: replace it with pad_token_id first"),
    ([10**9], ValueError, r"token id 1000000000 at position 0 is outside the vocabulary"),
    ([5, 2.0], TypeError, r"token id at position 1 is float \(2\.0\), not an int"),
    ([True], TypeError, r"token id at position 0 is bool"),
])
def test_decode_bad_ids(tok, ids, error, message):
    with pytest.raises(error, match=message):
        tok.decode(ids)


def test_decode_a_batch_tensor_points_to_batch_decode(tok):
    with pytest.raises(ValueError, match=r"decode takes one sequence, got a tensor of shape \(2, 3\); use "
                                         r"batch_decode"):
        tok.decode(torch.zeros(2, 3, dtype=torch.long))


def test_batch_decode_checks_tensors_too(tok):
    with pytest.raises(ValueError, match=r"token id -100 at position 2 is outside the vocabulary"):
        tok.batch_decode(torch.tensor([[5, 6, 7], [5, 6, -100]]))
    with pytest.raises(TypeError, match=r"token id at position 0 is float \(5\.0\), not an int"):
        tok.batch_decode(torch.tensor([[5.0, 6.0]]))
    assert tok.batch_decode(np.array([[5, 6]])) == tok.batch_decode([[5, 6]])  # numpy ints are ints


# ---------------------------------------------------------------------------------------- vocabulary files

def test_missing_path_offline_names_what_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"'nobody/no-such-tokenizer' is not a local directory, nor a "
                                                r"packaged checkpoint \(minilm-l6\), and could not be fetched"):
        load_tokenizer("nobody/no-such-tokenizer")


def test_directory_without_tokenizer_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"no tokenizer files\. Looked for spiece\.model \(SentencePiece\), "
                                                r"tokenizer\.json, vocab\.txt \(WordPiece\) and vocab\.json \+ "
                                                r"merges\.txt \(byte-level BPE\); found \['config\.json'\]"):
        load_tokenizer(tmp_path)


def test_unreadable_vocabulary(tmp_path, spiece_dir, monkeypatch):
    shutil.copy(spiece_dir / "spiece.model", tmp_path / "spiece.model")
    real = Path.read_bytes

    def denied(path):
        if path.name == "spiece.model":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(PermissionError, match=r"spiece\.model: cannot read the SentencePiece model \(Permission "
                                              r"denied\); check the file's permissions"):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize("name, content, message", [
    ("spiece.model", b"not a model", r"spiece\.model is not a SentencePiece model \(.*\); a spiece\.model comes "
                                     r"from BertGenerationTokenizer\.train"),
    ("tokenizer.json", b"{\"version\": ", r"tokenizer\.json: not a valid tokenizer\.json \("),
    ("vocab.txt", b"", r"vocab\.txt: the WordPiece vocabulary is empty; expected one token per line"),
    ("vocab.txt", b"hello\nworld\n", r"bos_token='\[CLS\]', eos_token='\[SEP\]', unk_token='\[UNK\]', "
                                     r"sep_token='\[SEP\]', pad_token='\[PAD\]', cls_token='\[CLS\]', "
                                     r"mask_token='\[MASK\]' not in the vocabulary of .*vocab\.txt; pass the tokens "
                                     r"this vocabulary uses for those roles, e\.g\. load_tokenizer\(path, "
                                     r"bos_token='\.\.\.'\)"),
    ("vocab.json", b"{\"a\": 0}", r"merges\.txt: BPE merges not found; pass the directory or file that holds it"),
])
def test_broken_vocabulary_files(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_tokenizer(tmp_path)


def test_malformed_tokenizer_config(tmp_path):
    wordpiece_dir(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("{do_lower_case: true}")
    with pytest.raises(ValueError, match=r"tokenizer_config\.json: not valid JSON \(.*\); fix or delete it"):
        load_tokenizer(tmp_path)


def test_sentencepiece_model_without_the_special_pieces(tmp_path):
    # sentencepiece's defaults: <unk> 0, <s> 1, </s> 2 and no <pad>: the pad piece is added after the
    # vocabulary (after the separator), as transformers adds it
    spm.SentencePieceTrainer.train(input=str(SAMPLE_CORPUS), model_prefix=str(tmp_path / "spiece"), vocab_size=300,
                                   minloglevel=2)
    tok = load_tokenizer(tmp_path)
    assert (tok.sep_token_id, tok.pad_token_id, len(tok)) == (300, 301, 302)
    spm.SentencePieceTrainer.train(input=str(SAMPLE_CORPUS), model_prefix=str(tmp_path / "spiece"), vocab_size=300,
                                   bos_id=-1, minloglevel=2)
    with pytest.raises(ValueError, match=r"spiece\.model lacks the special piece\(s\) \['<s>'\]: "
                                         r"BertGenerationTokenizer needs \['<s>', '</s>', '<unk>'\] in the "
                                         r"SentencePiece vocabulary\. Train one with BertGenerationTokenizer\.train"):
        load_tokenizer(tmp_path)


def test_special_token_missing_from_the_vocabulary():
    with pytest.raises(ValueError, match=r"^pad_token='<pad>' not in the vocabulary of .*tokenizer\.json"):
        load_tokenizer(MINILM, pad_token="<pad>")
    with pytest.raises(TypeError, match=r"unknown special-token role\(s\) \['pad'\]; the roles are"):
        FastTokenizer.wordpiece(MINILM / "vocab.txt", pad="[PAD]")


def test_unknown_file_kind_and_bad_argument(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"weights\.bin: not a vocabulary file this can read; pass a spiece\.model, "
                                         r"tokenizer\.json or vocab\.txt, or the checkpoint directory"):
        load_tokenizer(tmp_path / "weights.bin")
    with pytest.raises(TypeError, match=r"load_tokenizer takes a path, hub id or name \(str\), got list"):
        load_tokenizer(["vocab.txt"])
    with pytest.raises(TypeError, match=r"pass either vocab_file \(a spiece\.model path\) or model_proto"):
        BertGenerationTokenizer()


# ---------------------------------------------------------------------------------------- training

@pytest.mark.parametrize("corpus, settings, error, message", [
    ([], {}, ValueError, r"no text to train on: the corpus given to train\(\) is empty"),
    (["just a few words"], {"vocab_size": 5000}, ValueError,
     r"SentencePiece training on 1 lines failed: .*Vocabulary size too high \(5000\).*lower vocab_size or add text"),
    ([SAMPLE_CORPUS], {"model_type": "word"}, ValueError, r"model_type='word'; use 'unigram' or 'bpe'"),
    ([SAMPLE_CORPUS], {"pad_id": 5}, ValueError, r"train\(\) sets \['pad_id'\] itself, so the special ids land "
                                                 r"where BertGeneration expects them"),
    (["text", 42], {}, TypeError, r"corpus item 1 is int \(42\); items are texts \(str\) or file paths"),
    ([Path("/no/such/corpus.txt")], {}, FileNotFoundError, r"/no/such/corpus\.txt: corpus file not found"),
    ("just one text", {}, FileNotFoundError, r"just one text: corpus file not found \(to train on a text, pass it "
                                             r"as a str inside a list\)"),
    (42, {}, TypeError, r"train\(\) takes a corpus file path or a list of texts / paths, got int"),
])
def test_training_errors(corpus, settings, error, message):
    with pytest.raises(error, match=message):
        BertGenerationTokenizer.train(corpus, **{"vocab_size": 300, **settings})


def test_training_reads_files_and_texts_alike(tmp_path):
    lines = SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines()
    (tmp_path / "half.txt").write_text("\n".join(lines[::2]), encoding="utf-8")
    mixed = BertGenerationTokenizer.train([tmp_path / "half.txt", "\n".join(lines[1::2])], vocab_size=300)
    assert mixed.vocab_size == 300 and mixed.convert_ids_to_tokens([0, 1, 2, 3, 4]) == \
        ["<pad>", "</s>", "<s>", "<unk>", "<::::>"]
    from_path = BertGenerationTokenizer.train(str(SAMPLE_CORPUS), vocab_size=300)
    from_lines = BertGenerationTokenizer.train(lines, vocab_size=300)
    assert from_path.get_vocab() == from_lines.get_vocab()


def test_saved_config_is_what_transformers_expects(tmp_path, spiece_dir):
    load_tokenizer(MINILM).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "BertTokenizer" and config["do_lower_case"] is True
    assert (config["bos_token"], config["eos_token"]) == ("[CLS]", "[SEP]")
