"""Two vocabularies in one model (bert2gpt): the encoder's tokenizer encodes, the decoder's decodes, both travel
with the saved model, and a tokenizer that does not fit is refused when it meets the model."""
from __future__ import annotations

import shutil

import pytest
import torch

from bertgen import pipeline
from bertgen.data.collate import encode_targets
from bertgen.tokenization import TokenizerPair, load_tokenizer
from bertgen.tokenization.pair import check_vocabulary_fits
from bertgen.modeling.warm_start import warm_start
from tests.support.tokenizer_vocabs import MINILM, train_byte_level_bpe
from tests.support.warmstart_checkpoints import write_checkpoint

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bert2gpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("pair")
    gpt2 = train_byte_level_bpe(root / "gpt2", special_tokens=["<|endoftext|>"])
    gpt2_tok = load_tokenizer(gpt2, pad_token="<|endoftext|>")
    end = gpt2_tok.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=len(gpt2_tok), n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=end, eos_token_id=end,
    )).save_pretrained(gpt2)
    write_checkpoint(root / "bert", "BertModel", seed=1, tokenizer=False, vocab_size=30522, hidden_size=32)
    shutil.copy(MINILM / "vocab.txt", root / "bert" / "vocab.txt")
    model, _ = warm_start("bert2gpt", root / "bert", decoder_checkpoint=gpt2)
    pair = TokenizerPair(encoder=load_tokenizer(root / "bert"), decoder=gpt2_tok)
    return model, pair, root


def test_inputs_are_the_encoders_ids_and_outputs_the_decoders_text(bert2gpt):
    _, pair, _ = bert2gpt
    text = "The cat sat on the mat."
    assert pair([text])["input_ids"] == pair.encoder([text])["input_ids"]
    assert pair.pad_token_id == pair.encoder.pad_token_id == 0
    ids = pair.decoder.encode(text, add_special_tokens=False)
    assert pair.decode(ids) == text  # byte-level BPE gives the text back, capitals and spacing included
    assert pair.encoder.decode(pair.encoder.encode(text, add_special_tokens=False)) == "the cat sat on the mat."
    # labels are the decoder's ids, ended with <|endoftext|>
    (labels,) = encode_targets(pair, [text], 32)
    assert labels == ids + [pair.decoder.eos_token_id] and pair.eos_token_id == pair.decoder.eos_token_id


def test_saved_model_carries_both_tokenizers_and_the_pipeline_uses_each_side(bert2gpt, tmp_path):
    model, pair, _ = bert2gpt
    model.save_pretrained(tmp_path)
    pair.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert isinstance(loaded, TokenizerPair)
    assert loaded.encoder.get_vocab() == pair.encoder.get_vocab()
    assert loaded.decoder.get_vocab() == pair.decoder.get_vocab()
    generator = pipeline("text2text-generation", model=str(tmp_path), max_new_tokens=5)
    batch = pair(["a short input"], add_special_tokens=False, return_tensors="pt")
    expected = pair.decoder.batch_decode(model.generate(batch["input_ids"], max_new_tokens=5),
                                         skip_special_tokens=True)[0].strip()
    assert generator("a short input")[0]["generated_text"] == expected


def test_one_tokenizer_for_two_vocabularies_is_refused(bert2gpt):
    model, pair, root = bert2gpt
    with pytest.raises(ValueError, match=r"encoder reads 30522 ids and its decoder writes \d+: two vocabularies, "
                                         r"but one tokenizer .* TokenizerPair"):
        pipeline("text2text-generation", model=model, tokenizer=pair.encoder)
    swapped = TokenizerPair(encoder=pair.decoder, decoder=pair.encoder)
    with pytest.raises(ValueError, match="the decoder's tokenizer from .* has 30522 tokens but the model's decoder"):
        check_vocabulary_fits(swapped, model.config)
    with pytest.raises(TypeError, match="decoder= must be a bertgen tokenizer"):
        TokenizerPair(encoder=pair.encoder, decoder="gpt2")
