"""The `bertgen` command with bad flags and hostile inputs: exit code 2 and one clear line on stderr (no
traceback), nothing written; its output piped into `head -1` ends quietly."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import torch

from bertgen.cli.main import main
from tests.hostile.helpers import snapshot
from tests.support.models import tiny_model
from tests.support import worker_env

pytestmark = pytest.mark.usefixtures("one_thread")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "storm", "was", "over", "."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli") / "model"
    tiny_model().save_pretrained(directory)
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return directory


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")

# (case id, extra argv, stdin bytes, message fragment)
CASES = [
    pytest.param(["--device", "cuda"], b"the storm\n", "--device cuda: CUDA is not available here", marks=NO_CUDA,
                 id="cuda-without-cuda"),
    pytest.param(["--device", "cuda:7"], b"the storm\n", "--device cuda:7", marks=NO_CUDA, id="cuda-index"),
    pytest.param(["--device", "bogus"], b"the storm\n", "--device 'bogus' is not a device name", id="device-bogus"),
    pytest.param(["--device", "meta"], b"the storm\n", "bertgen runs on cpu, cuda or mps", id="device-meta"),
    pytest.param([], b"the storm\n\xff\xfe was over\n", "stdin: line 2 is not UTF-8 text", id="stdin-not-utf8"),
    pytest.param([], b"\x80\n", "stdin: line 1 is not UTF-8 text (byte 0", id="stdin-lone-continuation"),
    pytest.param(["--length-penalty", "nan", "--num-beams", "2"], b"the storm\n",
                 "length_penalty must be a finite number", id="length-penalty-nan"),
    pytest.param(["--temperature", "-1", "--do-sample"], b"the storm\n", "temperature must be positive",
                 id="temperature-negative"),
    pytest.param(["--top-p", "7", "--do-sample"], b"the storm\n", "top_p must be in (0, 1]", id="top-p-seven"),
    pytest.param(["--no-repeat-ngram-size", "-2"], b"the storm\n", "no_repeat_ngram_size must be >= 0",
                 id="ngram-negative"),
]


@pytest.mark.parametrize("argv, stdin, fragment", CASES)
def test_generate_flags_and_stdin(model_dir, monkeypatch, capsys, argv, stdin, fragment):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    before = snapshot(model_dir)
    assert main(["generate", "--model", str(model_dir), *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert snapshot(model_dir) == before


def test_input_file_not_utf8(model_dir, tmp_path, capsys):
    (tmp_path / "in.txt").write_bytes("caf\u00e9\n".encode("latin-1"))
    assert main(["generate", "--model", str(model_dir), "--input", str(tmp_path / "in.txt")]) == 2
    assert "in.txt: line 1 is not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize("name, fragment", [("missing.txt", "cannot read --input"), ("", "cannot read --input")],
                         ids=["missing", "a-folder"])
def test_input_file_unreadable(model_dir, tmp_path, capsys, name, fragment):
    assert main(["generate", "--model", str(model_dir), "--input", str(tmp_path / name)]) == 2
    assert fragment in capsys.readouterr().err


def test_a_model_with_a_hostile_config(model_dir, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    config = json.loads((model_dir / "config.json").read_text())
    config["decoder"]["layer_norm_eps"] = -1
    (bad / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the storm\n"), encoding="utf-8"))
    assert main(["generate", "--model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot load model" in err and "layer_norm_eps' must be a finite number > 0" in err


def test_num_beams_zero_is_an_argparse_error(model_dir, capsys):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--model", str(model_dir), "--num-beams", "0"])
    assert info.value.code == 2 and "must be a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("overrides, fragment", [
    (["name=../../escape"], "name '../../escape' must be a plain name"),
    (["num_beams=0"], "num_beams must be >= 1, got 0"),
    (["max_grad_norm=-1.0"], "max_grad_norm must be a finite number > 0.0"),
], ids=["name-escape", "beams-zero", "grad-norm-negative"])
@pytest.mark.parametrize("command", [["experiment", "run"], ["train"]], ids=["experiment-run", "train"])
def test_experiment_commands_refuse_before_training(tmp_path, capsys, monkeypatch, command, overrides, fragment):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    config = tmp_path / "configs" / "brown-fusion" / "row.toml"
    config.parent.mkdir(parents=True)
    config.write_text('task = "brown-fusion"\nscheme = "bert2bert"\n')
    before = snapshot(tmp_path)
    argv = [*command, str(config)] + [item for o in overrides for item in ("--set", o)]
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_output_into_head_ends_quietly(model_dir):
    """`bertgen generate ... | head -1`: the reader leaves after one line; no BrokenPipe traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "bertgen.cli", "generate", "--model", str(model_dir),
                             "--batch-size", "1", "--max-new-tokens", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=worker_env())
    proc.stdin.write(b"the storm was over .\n" * 400)
    proc.stdin.close()
    first = proc.stdout.readline()
    proc.stdout.close()  # what head -1 does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert first.endswith(b"\n") and "Traceback" not in err and "BrokenPipe" not in err
