"""The BertGeneration page's usages, written as the page writes them with `transformers` replaced by `bertgen`,
on local stand-ins of the released checkpoints (tests/support/released_checkpoints.py, written by transformers)
and on the embedded MiniLM BERT checkpoint; every output is compared with transformers' on the same files.

Usages: the pipeline with dtype=torch.float16; from_pretrained(dtype="auto") + AutoTokenizer + generate +
decode; the CLI on stdin; the Notes example (BERT checkpoint into BertGenerationEncoder/Decoder, joined by
EncoderDecoderModel(encoder=, decoder=), BertTokenizer, a training step). The GPU variants (device=0, 4-bit
bitsandbytes) need a GPU and are not run here. transformers 5 has no text2text-generation pipeline, so the
pipeline is compared with transformers' generate + decode(skip_special_tokens=True), as that pipeline did.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.support import released_checkpoints

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")
TEXT = "Plants create energy through "
ROOT = Path(__file__).parents[3]


RELEASED = ["roberta2roberta_L-24_discofuse", "bert2bert_L-24_wmt_de_en"]


# "@transformers3": the config.json as the released checkpoints' era wrote it ("return_dict": false, generation
# settings at their defaults, no generation_config.json): transformers' generate reads those files unchanged
@pytest.fixture(scope="module", params=[*RELEASED, *(f"{name}@transformers3" for name in RELEASED), "minilm"])
def checkpoint(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(request.param.replace("@", "_"))
    if request.param.endswith("@transformers3"):
        name = request.param.split("@")[0]
        return released_checkpoints.as_transformers_3(released_checkpoints.encoder_decoder(directory, name))
    if request.param == "minilm":  # a bert2bert warm-started from the embedded BERT checkpoint, saved by bertgen
        from bertgen import load_tokenizer, warm_start

        model, _ = warm_start("bert2bert", "minilm-l6", layers=2)
        model.save_pretrained(directory)
        load_tokenizer("minilm-l6").save_pretrained(directory)
        return directory
    return released_checkpoints.encoder_decoder(directory, request.param)


def _theirs(directory, dtype=torch.float32, max_new_tokens=None):
    model = transformers.EncoderDecoderModel.from_pretrained(directory, dtype=dtype).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    input_ids = tokenizer(TEXT, add_special_tokens=False, return_tensors="pt").input_ids
    outputs = model.generate(input_ids, max_new_tokens=max_new_tokens)
    return outputs, tokenizer


def test_from_pretrained_auto_tokenizer_generate_decode(checkpoint):
    from bertgen import AutoTokenizer, EncoderDecoderModel

    model = EncoderDecoderModel.from_pretrained(checkpoint, dtype="auto")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    input_ids = tokenizer(TEXT, add_special_tokens=False, return_tensors="pt").input_ids
    outputs = model.generate(input_ids)
    theirs, their_tokenizer = _theirs(checkpoint)
    assert outputs.tolist() == theirs.tolist()
    assert tokenizer.decode(outputs[0]) == their_tokenizer.decode(theirs[0])


def test_pipeline_float16(checkpoint):
    from bertgen import pipeline

    gen = pipeline(task="text2text-generation", model=checkpoint, dtype=torch.float16)
    assert next(gen.model.parameters()).dtype == torch.float16
    theirs, tokenizer = _theirs(checkpoint, dtype=torch.float16)
    assert gen(TEXT) == [{"generated_text": tokenizer.decode(theirs[0], skip_special_tokens=True)}]


def test_cli_on_stdin(checkpoint):
    result = subprocess.run([sys.executable, "-m", "bertgen.cli.main", "run", "--task", "text2text-generation",
                             "--model", str(checkpoint)], input=TEXT + "\n", capture_output=True, text=True,
                            cwd=ROOT, timeout=120, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                                                        "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    theirs, tokenizer = _theirs(checkpoint)
    assert result.stdout == tokenizer.decode(theirs[0], skip_special_tokens=True) + "\n"


@pytest.fixture(scope="module", params=["current", "transformers3"])
def bbc(request, tmp_path_factory):
    directory = released_checkpoints.bbc_encoder(tmp_path_factory.mktemp(f"bbc_encoder_{request.param}"))
    return released_checkpoints.as_transformers_3(directory) if request.param == "transformers3" else directory


def test_bbc_encoder_as_encoder_and_as_decoder(bbc):
    """The family's integration tests' usage: the bare encoder checkpoint as BertGenerationEncoder, and as
    BertGenerationDecoder (cross-attention-free, LM head tied), outputs and greedy continuation as transformers."""
    from bertgen import BertGenerationDecoder, BertGenerationEncoder

    input_ids = torch.tensor([[101, 7592, 1010, 2026, 3899, 2003, 10140, 102]]) % 400
    with torch.no_grad():
        ours = BertGenerationEncoder.from_pretrained(bbc)(input_ids)[0]
        theirs = transformers.BertGenerationEncoder.from_pretrained(bbc).eval()(input_ids)[0]
        assert (ours - theirs).abs().max() < 1e-5
        with pytest.warns(UserWarning, match="newly initialized .*the LM head bias"):
            decoder = BertGenerationDecoder.from_pretrained(bbc, is_decoder=True)
        their_decoder = transformers.BertGenerationDecoder.from_pretrained(bbc, is_decoder=True).eval()
        assert (decoder(input_ids)[0] - their_decoder(input_ids)[0]).abs().max() < 1e-4
    assert decoder.generate(input_ids, max_new_tokens=8).tolist() == \
        their_decoder.generate(input_ids, max_new_tokens=8, do_sample=False).tolist()


def test_bbc_encoder_as_decoder_with_config_argument(bbc):
    """The page's example: a config read and changed, then passed as from_pretrained(..., config=config)."""
    from bertgen import BertGenerationConfig, BertGenerationDecoder

    config = BertGenerationConfig.from_pretrained(bbc)
    config.is_decoder = True
    input_ids = torch.tensor([[5, 17, 33, 2, 41]])
    with pytest.warns(UserWarning, match="the LM head bias"):
        decoder = BertGenerationDecoder.from_pretrained(bbc, config=config)
    assert config.is_decoder and decoder.config is not config  # the caller's object is copied, not shared
    their_config = transformers.BertGenerationConfig.from_pretrained(bbc)
    their_config.is_decoder = True
    theirs = transformers.BertGenerationDecoder.from_pretrained(bbc, config=their_config).eval()
    with torch.no_grad():
        ours, reference = decoder(input_ids), theirs(input_ids)
    assert (ours[0] - reference[0]).abs().max() < 1e-4
    assert decoder.generate(input_ids, max_new_tokens=6).tolist() == \
        theirs.generate(input_ids, max_new_tokens=6, do_sample=False).tolist()
    # keyword overrides apply on top of the given config
    with pytest.warns(UserWarning, match="the LM head bias"):
        tiny = BertGenerationDecoder.from_pretrained(bbc, config=config, hidden_dropout_prob=0.0)
    assert tiny.config.hidden_dropout_prob == 0.0 and tiny.config.is_decoder


def test_notes_example_on_a_bert_checkpoint():
    """The page's Notes, as written (bert-large-uncased replaced by the embedded BERT checkpoint)."""
    from bertgen import BertGenerationDecoder, BertGenerationEncoder, BertTokenizer, EncoderDecoderModel
    from bertgen.hub import packaged_checkpoint_dir

    path = str(packaged_checkpoint_dir("minilm-l6"))
    with pytest.warns(UserWarning, match=r"a bert checkpoint, loaded as transformers does; not used: token-type "
                                         r"embeddings \(2x384; .*fold_token_type=True.*pooler"):
        encoder = BertGenerationEncoder.from_pretrained(path, bos_token_id=101, eos_token_id=102)
    with pytest.warns(UserWarning, match=r"newly initialized \(train before use\): cross-attention of every layer "
                                         r"\(60 tensors\), the LM head bias"):
        decoder = BertGenerationDecoder.from_pretrained(path, add_cross_attention=True, is_decoder=True,
                                                        bos_token_id=101, eos_token_id=102)
    bert2bert = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    tokenizer = BertTokenizer.from_pretrained(path)
    input_ids = tokenizer("This is a long article to summarize", add_special_tokens=False,
                          return_tensors="pt").input_ids
    labels = tokenizer("This is a short summary", return_tensors="pt").input_ids
    loss = bert2bert(input_ids=input_ids, decoder_input_ids=labels, labels=labels).loss
    loss.backward()

    # transformers, same files: the same loaded tensors; with its new cross-attention copied over, the same loss
    their_encoder = transformers.BertGenerationEncoder.from_pretrained(path, bos_token_id=101, eos_token_id=102)
    their_decoder = transformers.BertGenerationDecoder.from_pretrained(
        path, add_cross_attention=True, is_decoder=True, bos_token_id=101, eos_token_id=102)
    theirs = transformers.EncoderDecoderModel(encoder=their_encoder, decoder=their_decoder)
    their_tokenizer = transformers.BertTokenizer.from_pretrained(path)
    assert their_tokenizer("This is a short summary", return_tensors="pt").input_ids.tolist() == labels.tolist()
    their_state = theirs.state_dict()
    for name, tensor in bert2bert.state_dict().items():
        if "crossattention" not in name and not name.startswith("decoder.lm_head"):
            assert torch.equal(tensor, their_state[name]), name
    bert2bert.load_state_dict({k: v for k, v in their_state.items() if k in bert2bert.state_dict()})
    bert2bert.eval(), theirs.eval()
    with torch.no_grad():
        ours = bert2bert(input_ids=input_ids, decoder_input_ids=labels, labels=labels)
        reference = theirs(input_ids=input_ids, decoder_input_ids=labels, labels=labels)
    assert abs(ours.loss.item() - reference.loss.item()) < 1e-4
    assert (ours.logits - reference.logits).abs().max() < 1e-4
