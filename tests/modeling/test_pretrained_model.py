"""PreTrainedModel.from_pretrained reads a checkpoint once: each model class, on each layout it loads, opens
config.json once and its weights once, then builds the model from what it read."""
from __future__ import annotations

import collections
import warnings
from pathlib import Path

import pytest
import torch
import transformers

import bertgen.checkpoints
from bertgen.modeling import (BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel, GPT2LMHeadModel,
                              GPT2Model, PreTrainedModel)
from tests.conftest import hf_tiny_encoder_decoder
from tests.support import TINY

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_GPT2 = dict(vocab_size=99, n_positions=40, n_embd=32, n_layer=2, n_head=4, bos_token_id=98, eos_token_id=98)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """One directory per layout, each written by transformers."""
    root = tmp_path_factory.mktemp("layouts")
    hf = hf_tiny_encoder_decoder()
    torch.manual_seed(0)
    models = {"encoder-decoder": hf, "bert-generation encoder": hf.encoder, "bert-generation decoder": hf.decoder,
              "bert": transformers.BertModel(transformers.BertConfig(**TINY)),
              "gpt2 lm head": transformers.GPT2LMHeadModel(transformers.GPT2Config(**TINY_GPT2)),
              "gpt2 body": transformers.GPT2Model(transformers.GPT2Config(**TINY_GPT2))}
    for name, model in models.items():
        model.save_pretrained(root / name)
    return {name: root / name for name in models}


CASES = [(EncoderDecoderModel, "encoder-decoder", {}),
         (BertGenerationEncoder, "bert-generation encoder", {}),  # native
         (BertGenerationEncoder, "bert-generation decoder", {}),  # the decoder's body
         (BertGenerationEncoder, "bert", {"fold_token_type": True}),  # BERT's body
         (BertGenerationDecoder, "bert-generation decoder", {}),  # native
         (BertGenerationDecoder, "bert-generation encoder", {"add_cross_attention": True}),  # an encoder as body
         (BertGenerationDecoder, "bert", {"add_cross_attention": True}),
         (GPT2LMHeadModel, "gpt2 lm head", {}), (GPT2LMHeadModel, "gpt2 body", {}),
         (GPT2Model, "gpt2 lm head", {}), (GPT2Model, "gpt2 body", {})]


@pytest.mark.parametrize("cls, layout, options", CASES, ids=[f"{c[0].__name__}-{c[1]}" for c in CASES])
def test_from_pretrained_reads_config_and_weights_once(checkpoints, monkeypatch, cls, layout, options):
    reads = collections.Counter()
    read_text, load_file = Path.read_text, bertgen.checkpoints.load_file

    def counting_read_text(path, *args, **kwargs):
        reads[path.name] += 1
        return read_text(path, *args, **kwargs)

    def counting_load_file(path, *args, **kwargs):
        reads[Path(path).name] += 1
        return load_file(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting_read_text)
    monkeypatch.setattr(bertgen.checkpoints, "load_file", counting_load_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the body layouts say what was not loaded
        model = cls.from_pretrained(checkpoints[layout], **options)
    assert isinstance(model, cls) and isinstance(model, PreTrainedModel)
    assert reads["config.json"] == 1 and reads["model.safetensors"] == 1, dict(reads)
    assert reads["generation_config.json"] <= 1, dict(reads)


def test_what_is_the_decoder_is_a_class_attribute():
    """The loaders ask the class where its checkpoint keeps the body, not whether it has some method."""
    assert BertGenerationDecoder.body_prefix == "bert." and GPT2LMHeadModel.body_prefix == "transformer."
    assert BertGenerationEncoder.body_prefix == GPT2Model.body_prefix == EncoderDecoderModel.body_prefix == ""
    assert [c.can_generate() for c in (BertGenerationEncoder, BertGenerationDecoder, EncoderDecoderModel,
                                       GPT2Model, GPT2LMHeadModel)] == [False, True, True, False, True]
