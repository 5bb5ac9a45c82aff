"""Bad inputs from outside the project (issue 27's list): each gets a message that names the value, where it came
from and what to do, instead of torch's, the tokenizers library's or Python's own error; empty inputs are decoded
from the start token."""
from __future__ import annotations

import io
import sys
import tarfile

import pytest
import torch

from bertgen import load_tokenizer, pipeline
from bertgen.cli.main import main
from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.modeling import EncoderDecoderModel
from tests.hostile.helpers import snapshot
from tests.support import TINY
from tests.support.models import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4, as the tiny model's pad 0, eos 1, start 2


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The tiny model (vocabulary 99) with a WordPiece vocabulary of the same 99 tokens."""
    directory = tmp_path_factory.mktemp("outside") / "model"
    tiny_model().save_pretrained(directory)
    words = [f"w{i}" for i in range(TINY["vocab_size"] - len(SPECIALS))]
    (directory / "vocab.txt").write_text("\n".join(SPECIALS + words) + "\n", encoding="utf-8")
    return directory


# ------------------------------------------------------------------------------------------ model calls

@pytest.mark.parametrize("bad, fragment", [(500, "labels[0, 1] = 500 is neither a token id of the decoder's "
                                                 "vocabulary (0..98) nor -100"),
                                           (-7, "labels[0, 1] = -7 is neither")])
def test_labels_outside_the_vocabulary_in_a_direct_call(bad, fragment):
    model = tiny_model()
    labels = torch.tensor([[5, bad, 6]])
    with pytest.raises(ValueError, match="mark padding with -100") as err:
        model(input_ids=torch.tensor([[5, 6, 7]]), labels=labels)
    assert fragment in str(err.value)
    with pytest.raises(ValueError, match=r"decoder: labels\[0, 1\]"):
        model.decoder(input_ids=torch.tensor([[5, 6, 7]]), labels=labels)


def test_an_empty_input_is_decoded_from_the_start_token():
    """As transformers' decoder sees an input whose every token is masked: cross-attention reads nothing."""
    model = tiny_model()
    empty = model.generate(torch.zeros(2, 0, dtype=torch.long), max_new_tokens=5, num_beams=2)
    masked = model.generate(torch.full((2, 1), 7), attention_mask=torch.zeros(2, 1, dtype=torch.long),
                            max_new_tokens=5, num_beams=2)
    assert torch.equal(empty, masked) and empty[0, 0] == 2
    one_empty_row = model.generate(torch.tensor([[7, 8], [0, 0]]), attention_mask=torch.tensor([[1, 1], [0, 0]]),
                                   max_new_tokens=5, num_beams=2)
    assert one_empty_row[1, :empty.shape[1]].tolist() == empty[1].tolist()
    with pytest.raises(ValueError, match=r"input_ids must be a 2-D tensor \(batch >= 1, length\), got \(0, 3\)"):
        model.generate(torch.zeros(0, 3, dtype=torch.long))


# ------------------------------------------------------------------------------------------ texts and pipelines

@pytest.mark.parametrize("text, fragment", [("a \ud800 b", "text holds a lone surrogate U+D800 at character 2"),
                                            (["ok", "x\udcff"], "text[1] holds a lone surrogate U+DCFF")])
def test_a_lone_surrogate_is_named(model_dir, text, fragment):
    tokenizer = load_tokenizer(model_dir)
    with pytest.raises(ValueError, match="decode the source as UTF-8") as err:
        tokenizer(text)
    assert fragment in str(err.value)
    with pytest.raises(ValueError, match="lone surrogate"):
        pipeline("text2text-generation", model=model_dir)(text)


@pytest.mark.parametrize("call, error, fragment", [
    (lambda d: pipeline("text2text-generation", model=123), TypeError,
     "model= must be a checkpoint directory, a hub id or a loaded EncoderDecoderModel, got int 123"),
    (lambda d: pipeline("text2text-generation", model=d, batch_size="4"), TypeError,
     "pipeline(batch_size=...) must be a positive int, got str '4'"),
    (lambda d: pipeline("text2text-generation", model=d)("w1", batch_size=0), TypeError,
     "batch_size= must be a positive int, got int 0"),
    (lambda d: pipeline("text2text-generation", model=d)(None), TypeError,
     "inputs must be a str or a list of str, got NoneType None"),
    (lambda d: pipeline("text2text-generation", model=d)(["w1", 3]), TypeError, "inputs[1] is int 3, not a str"),
])
def test_pipeline_arguments_are_named(model_dir, call, error, fragment):
    with pytest.raises(error) as err:
        call(model_dir)
    assert fragment in str(err.value)


def test_empty_texts_are_generated_from_the_start_token(model_dir):
    gen = pipeline("text2text-generation", model=model_dir, max_new_tokens=4)
    expected = gen.tokenizer.decode(gen.model.generate(torch.zeros(1, 0, dtype=torch.long), max_new_tokens=4)[0],
                                    skip_special_tokens=True)
    assert gen(["", "", ""]) == [{"generated_text": expected}] * 3


def test_a_model_larger_than_its_tokenizer_is_named_a_mismatch(model_dir):
    """A vocabulary-300 model with a vocabulary-99 tokenizer: the first id the tokenizer lacks is reported as the
    two not belonging together, not as an id outside the vocabulary."""
    torch.manual_seed(0)
    side = BertGenerationConfig(**{**TINY, "vocab_size": 300})
    model = EncoderDecoderModel(EncoderDecoderConfig.from_encoder_decoder_configs(
        side, side, decoder_start_token_id=2, pad_token_id=0, eos_token_id=1)).eval()
    with torch.no_grad():
        model.decoder.lm_head.bias[99:] = 50.0  # it generates an id past the tokenizer's at once
    gen = pipeline("text2text-generation", model=model, tokenizer=load_tokenizer(model_dir))
    with pytest.raises(ValueError, match=r"the model generated the id \d+, which the tokenizer from .* \(99 tokens\) "
                                         r"does not have: the model's decoder has 300 ids, so model and tokenizer "
                                         r"come from different checkpoints"):
        gen("w1 w2")


# ------------------------------------------------------------------------------------------ the command line

def test_quantize_int8_with_a_bfloat16_dtype_names_the_conflict(model_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"w1 w2\n"), encoding="utf-8"))
    assert main(["generate", "--model", str(model_dir), "--quantize", "int8", "--dtype", "bfloat16"]) == 2
    err = capsys.readouterr().err
    assert "--quantize int8 and --dtype bfloat16 conflict" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="quantize='int8' and dtype='bfloat16' conflict"):
        pipeline("text2text-generation", model=model_dir, quantize="int8", dtype="bfloat16")


def _evil_tarball(path):
    with tarfile.open(path, "w:gz") as tar:
        data = b"escaped"
        member = tarfile.TarInfo("../../escaped.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return path


def _corrupt_tarball(path):
    path.write_bytes(b"\x1f\x8b" + bytes(range(200)))  # a gzip magic number, then noise
    return path


@pytest.mark.parametrize("make, fragment", [
    (_corrupt_tarball, "cannot be unpacked, the archive is truncated"),
    (_evil_tarball, "member '../../escaped.txt' would be written outside the folder it is unpacked into"),
])
def test_data_fetch_from_a_bad_tarball(tmp_path, capsys, monkeypatch, make, fragment):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    (tmp_path / "archive").mkdir()
    archive = make(tmp_path / "archive" / "brown.tgz")
    before = snapshot(tmp_path)
    assert main(["data", "fetch", "brown", "--path", str(archive)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "home" / "escaped.txt").exists()
    assert not (tmp_path / "home" / "raw" / "brown").exists()
    outside_home = lambda entries: {k for k in entries if not k.startswith("home")}  # noqa: E731
    assert outside_home(snapshot(tmp_path)) == outside_home(before)
