"""pipeline("text2text-generation") and `bertgen generate` / `bertgen run`: outputs, order, empty lines, errors.

The oracle is transformers end to end: its BertTokenizerFast on the same vocab.txt, its model's generate,
its batch_decode.
"""
from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch

from bertgen.cli.main import main
from bertgen.pipelines import pipeline
from tests.support.generation_models import hf_generation_model, write_wordpiece_vocab

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("one_thread")]
TEXTS = ["w1 w2 w3 w4", "w30", "w7 w7 w8 w9 w10 w11 w12 w13", "w21 w22", "w5 w6 w7"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A transformers model with BERT's special ids ([PAD] 0, [CLS] 2 starts, [SEP] 3 ends) and its vocab.txt."""
    directory = tmp_path_factory.mktemp("t2t")
    hf = hf_generation_model(seed=1, start=2, eos=3, pad=0)
    hf.save_pretrained(directory)
    write_wordpiece_vocab(directory)
    return directory, hf


def reference(checkpoint, texts, **kwargs):
    """What transformers generates for each text on its own."""
    from transformers import BertTokenizerFast

    directory, hf = checkpoint
    tok = BertTokenizerFast(str(directory / "vocab.txt"))
    outputs = []
    for text in texts:
        batch = tok([text], add_special_tokens=False, return_tensors="pt")  # sources as bertgen trains them
        ids = hf.generate(batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs)
        outputs.append(tok.batch_decode(ids, skip_special_tokens=True))
    return outputs


def test_pipeline_matches_transformers_in_input_order(checkpoint):
    gen = pipeline("text2text-generation", model=checkpoint[0], num_beams=3, max_new_tokens=10, batch_size=2)
    expected = reference(checkpoint, TEXTS, num_beams=3, max_new_tokens=10)
    assert gen(TEXTS) == [{"generated_text": e[0]} for e in expected]
    assert gen(TEXTS[2]) == [{"generated_text": expected[2][0]}]
    assert len({e[0] for e in expected}) >= 3  # the texts differ, so a reordering would show
    assert gen(TEXTS, batch_size=5) == gen(TEXTS, batch_size=1)


def test_pipeline_call_arguments_and_several_sequences(checkpoint):
    gen = pipeline("text2text-generation", model=checkpoint[0], max_new_tokens=10)
    got = gen(TEXTS[:2], num_beams=4, num_return_sequences=2, max_new_tokens=6)
    expected = reference(checkpoint, TEXTS[:2], num_beams=4, num_return_sequences=2, max_new_tokens=6)
    assert got == [[{"generated_text": t} for t in e] for e in expected]
    assert gen(TEXTS[0]) == [{"generated_text": reference(checkpoint, TEXTS[:1], max_new_tokens=10)[0][0]}]


def test_pipeline_dtype_device_and_quantized(checkpoint):
    greedy = reference(checkpoint, TEXTS[:1], max_new_tokens=8)[0][0]
    assert pipeline(model=checkpoint[0], device="cpu", dtype="float32", max_new_tokens=8)(TEXTS[0]) == \
        [{"generated_text": greedy}]
    half = pipeline(model=checkpoint[0], dtype=torch.bfloat16, max_new_tokens=8)
    assert half.model.decoder.lm_head.decoder.weight.dtype == torch.bfloat16
    assert isinstance(half(TEXTS[0])[0]["generated_text"], str)
    quantized = pipeline(model=checkpoint[0], quantize="int8", max_new_tokens=8)
    assert isinstance(quantized(TEXTS)[4]["generated_text"], str)


def test_special_tokens_on_request(checkpoint):
    from transformers import BertTokenizerFast

    directory, hf = checkpoint
    batch = BertTokenizerFast(str(directory / "vocab.txt"))([TEXTS[0]], return_tensors="pt")  # [CLS] ... [SEP]
    expected = BertTokenizerFast(str(directory / "vocab.txt")).batch_decode(
        hf.generate(batch["input_ids"], max_new_tokens=8), skip_special_tokens=True)[0]
    gen = pipeline(model=directory, add_special_tokens=True, max_new_tokens=8)
    assert gen(TEXTS[0]) == [{"generated_text": expected}]


def test_pipeline_errors(checkpoint, tmp_path):
    with pytest.raises(ValueError, match="summarization.*text2text-generation"):
        pipeline("summarization", model=checkpoint[0])
    with pytest.raises(FileNotFoundError):
        pipeline(model=tmp_path / "missing")
    with pytest.raises(TypeError, match="num_beam"):
        pipeline(model=checkpoint[0], num_beam=3)
    with pytest.raises(TypeError, match=r"inputs\[0\] is int 1, not a str"):
        pipeline(model=checkpoint[0])([1, 2])


# ------------------------------------------------------------------------------------------------------ CLI

def run_cli(argv, stdin="", monkeypatch=None, capsys=None):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_reads_stdin_keeps_empty_lines_and_order(checkpoint, monkeypatch, capsys):
    lines = [TEXTS[0], "", TEXTS[2], "   ", TEXTS[1], TEXTS[3]]
    code, out, err = run_cli(["generate", "--model", str(checkpoint[0]), "--num-beams", "2", "--max-new-tokens", "8",
                              "--batch-size", "2"], "\n".join(lines) + "\n", monkeypatch, capsys)
    assert code == 0
    expected = reference(checkpoint, [t for t in lines if t.strip()], num_beams=2, max_new_tokens=8)
    texts = iter(e[0] for e in expected)
    assert out.split("\n")[:-1] == [next(texts) if line.strip() else "" for line in lines]
    assert err == ""  # no progress bar for stdin


def test_generate_from_file_shows_progress_and_run_is_the_same(checkpoint, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS + [""]) + "\n")
    code, out, err = run_cli(["generate", "--model", str(checkpoint[0]), "--input", str(source),
                              "--max-new-tokens", "8"], "", monkeypatch, capsys)
    assert code == 0 and "6/6" not in err and "5/5" in err  # the bar counts the lines that generate
    assert out.split("\n")[:-1] == [e[0] for e in reference(checkpoint, TEXTS, max_new_tokens=8)] + [""]
    code, same, _ = run_cli(["run", "--task", "text2text-generation", "--model", str(checkpoint[0]), "--input",
                             str(source), "--max-new-tokens", "8"], "", monkeypatch, capsys)
    assert code == 0 and same == out


def test_sampling_with_a_seed_repeats(checkpoint, monkeypatch, capsys):
    argv = ["generate", "--model", str(checkpoint[0]), "--do-sample", "--top-k", "10", "--seed", "3",
            "--max-new-tokens", "8"]
    first = run_cli(argv, "\n".join(TEXTS), monkeypatch, capsys)
    assert first[0] == 0 and first == run_cli(argv, "\n".join(TEXTS), monkeypatch, capsys)


@pytest.mark.parametrize("argv, message", [
    (["generate", "--model", "{missing}"], "cannot load model"),
    (["generate", "--model", "{file}"], "cannot load model"),
    (["generate", "--model", "{model}", "--input", "{missing}"], "cannot read --input"),
])
def test_unreadable_model_or_input_exit_2(checkpoint, tmp_path, monkeypatch, capsys, argv, message):
    (tmp_path / "file.txt").write_text("not a model")
    paths = dict(missing=str(tmp_path / "nope"), file=str(tmp_path / "file.txt"), model=str(checkpoint[0]))
    code, out, err = run_cli([a.format(**paths) for a in argv], "w1\n", monkeypatch, capsys)
    assert code == 2 and message in err and out == ""


@pytest.mark.parametrize("argv", [
    ["generate", "--model", "M", "--num-beams", "0"],
    ["generate", "--model", "M", "--beams", "4"],
    ["generate"],
    ["run", "--task", "summarization", "--model", "M"],
    ["generate", "--model", "M", "--dtype", "float64"],
])
def test_bad_flags_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_console_command_in_a_subprocess(checkpoint):
    """The transformers-style spelling from the issue, through a real process and pipe."""
    result = subprocess.run([sys.executable, "-m", "bertgen.cli", "run", "--task", "text2text-generation",
                             "--model", str(checkpoint[0]), "--max-new-tokens", "8"],
                            input=f"{TEXTS[0]}\n\n{TEXTS[4]}\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = reference(checkpoint, [TEXTS[0], TEXTS[4]], max_new_tokens=8)
    assert result.stdout == f"{expected[0][0]}\n\n{expected[1][0]}\n"
