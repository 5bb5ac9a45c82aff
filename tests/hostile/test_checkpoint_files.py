"""Checkpoint folders damaged or built to attack the loader, and saves that fail half-way or are killed:
a clear error naming file and key, no file read from outside the folder, nothing unpickled, and the old
checkpoint intact (a reader sees the old one or the new one, never a mix).
Run as a script, this file is the worker the kill-during-save test starts and kills."""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from bertgen import checkpoints, fileio
from bertgen.checkpoints import CheckpointError
from bertgen.modeling import EncoderDecoderModel
from tests.hostile.helpers import snapshot
from tests.support.models import same_weights, tiny_model, weights
from tests.support import worker_env

SHARD = "model-00001-of-00002.safetensors"


@pytest.fixture()
def saved(tmp_path) -> Path:
    directory = tmp_path / "ckpt"
    tiny_model().save_pretrained(directory)
    return directory


@pytest.fixture()
def sharded(tmp_path) -> Path:
    directory = tmp_path / "sharded"
    tiny_model().save_pretrained(directory, max_shard_size=120_000)
    return directory


class Payload:
    """Unpickling this runs code: it creates the file named in `marker`."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


# ----------------------------------------------------------------------------------------- one weight file

def _edit_weights(directory: Path, edit) -> None:
    state = load_file(directory / "model.safetensors")
    edit(state)
    save_file(state, directory / "model.safetensors")


KEY = "encoder.embeddings.word_embeddings.weight"
WEIGHT_CASES = [
    ("int64-weight", lambda s: s.update({KEY: s[KEY].long()}), CheckpointError, "holds int64 values but the model keeps float32"),
    ("int32-weight", lambda s: s.update({KEY: s[KEY].int()}), CheckpointError, "holds int32 values"),
    ("bool-weight", lambda s: s.update({KEY: s[KEY] > 0}), CheckpointError, "holds bool values"),
    ("uint8-layernorm", lambda s: s.update({"encoder.embeddings.LayerNorm.weight":
                                            s["encoder.embeddings.LayerNorm.weight"].to(torch.uint8)}),
     CheckpointError, "'encoder.embeddings.LayerNorm.weight' holds uint8"),
    ("wrong-shape", lambda s: s.update({KEY: s[KEY][:50]}), CheckpointError, "has shape (50, 32) but the model expects (99, 32)"),
    ("transposed", lambda s: s.update({KEY: s[KEY].t().contiguous()}), CheckpointError, "has shape (32, 99)"),
    ("extra-key", lambda s: s.update({"encoder.pooler.dense.weight": torch.zeros(32, 32)}), CheckpointError,
     "key(s) the model does not have"),
    ("missing-key", lambda s: s.pop("decoder.bert.encoder.layer.0.crossattention.self.query.weight"),
     CheckpointError, "missing from the checkpoint"),
    ("empty-state", lambda s: s.clear(), CheckpointError, "holds no tensors"),
]


@pytest.mark.parametrize("edit, error, fragment", [c[1:] for c in WEIGHT_CASES], ids=[c[0] for c in WEIGHT_CASES])
def test_weight_file_contents(saved, edit, error, fragment):
    _edit_weights(saved, edit)
    before = snapshot(saved)
    with pytest.raises(error) as info:
        EncoderDecoderModel.from_pretrained(saved)
    assert fragment in str(info.value)
    assert "model.safetensors" in str(info.value)  # names the file
    assert snapshot(saved) == before


RAW_WEIGHT_CASES = [
    ("truncated", lambda b: b[: len(b) // 2], "truncated or corrupt"),
    ("random-bytes", lambda b: os.urandom(4096), "truncated or corrupt"),
    ("empty", lambda b: b"", "truncated or corrupt"),
    ("header-too-long", lambda b: (10**12).to_bytes(8, "little") + b[8:], "truncated or corrupt"),
    ("header-not-json", lambda b: (12).to_bytes(8, "little") + b"not json!!!!" + b[8:], "truncated or corrupt"),
]


@pytest.mark.parametrize("damage, fragment", [c[1:] for c in RAW_WEIGHT_CASES], ids=[c[0] for c in RAW_WEIGHT_CASES])
def test_weight_file_bytes(saved, damage, fragment):
    path = saved / "model.safetensors"
    path.write_bytes(damage(path.read_bytes()))
    before = snapshot(saved)
    with pytest.raises(CheckpointError, match=fragment):
        EncoderDecoderModel.from_pretrained(saved)
    assert snapshot(saved) == before


def test_a_pickle_that_runs_code_is_refused(saved, tmp_path):
    """pytorch_model.bin is read with weights_only=True: the payload never runs."""
    marker = tmp_path / "pwned"
    (saved / "model.safetensors").unlink()
    with open(saved / "pytorch_model.bin", "wb") as f:
        pickle.dump({"x": Payload(str(marker))}, f, protocol=2)
    before = snapshot(saved)
    with pytest.raises(CheckpointError, match="cannot read weights"):
        EncoderDecoderModel.from_pretrained(saved)
    assert not marker.exists()
    assert snapshot(saved) == before


def test_a_bin_holding_a_list_is_refused(saved):
    (saved / "model.safetensors").unlink()
    torch.save([torch.zeros(2)], saved / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="holds a list, not a mapping of tensor names to tensors"):
        EncoderDecoderModel.from_pretrained(saved)


def test_no_weights_at_all(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights found"):
        EncoderDecoderModel.from_pretrained(saved)


def test_weights_for_another_config(saved):
    config = json.loads((saved / "config.json").read_text())
    config["encoder"]["intermediate_size"] = 40
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="the config.json does not match these weights"):
        EncoderDecoderModel.from_pretrained(saved)


def test_a_file_instead_of_a_folder(saved):
    with pytest.raises(NotADirectoryError, match="a checkpoint is a directory"):
        EncoderDecoderModel.from_pretrained(saved / "config.json")


# ------------------------------------------------------------------------------------------ shard indexes

def _index(directory: Path) -> Path:
    return directory / "model.safetensors.index.json"


def _rewrite_index(directory: Path, edit) -> None:
    data = json.loads(_index(directory).read_text())
    edit(data)
    _index(directory).write_text(json.dumps(data))


def _point_first_shard(name: str):
    def edit(data):
        data["weight_map"] = {k: (name if v == SHARD else v) for k, v in data["weight_map"].items()}
    return edit


INDEX_CASES = [
    ("dotdot", _point_first_shard("../outside.safetensors"), CheckpointError, "outside the checkpoint folder"),
    ("dotdot-nested", _point_first_shard("sub/../../outside.safetensors"), CheckpointError, "outside the checkpoint"),
    ("absolute", _point_first_shard("/etc/passwd"), CheckpointError, "'/etc/passwd', which is outside"),
    ("backslash", _point_first_shard("..\\outside.safetensors"), CheckpointError, "outside the checkpoint folder"),
    ("empty-name", _point_first_shard(""), CheckpointError, "the shard ''"),
    ("weight-map-list", lambda d: d.update(weight_map=[SHARD]), CheckpointError, "'weight_map' must map"),
    ("weight-map-int-values", lambda d: d.update(weight_map={k: 1 for k in d["weight_map"]}), CheckpointError,
     "'weight_map' must map tensor names (str) to shard file names (str)"),
    ("no-weight-map", lambda d: d.pop("weight_map"), CheckpointError, "not a shard index"),
    ("missing-shard", _point_first_shard("model-00009-of-00009.safetensors"), FileNotFoundError, "is missing"),
    ("listed-key-absent", lambda d: d["weight_map"].update({"encoder.ghost.weight": SHARD}), CheckpointError,
     "keys listed in the index are absent from their shards"),
]


@pytest.mark.parametrize("edit, error, fragment", [c[1:] for c in INDEX_CASES], ids=[c[0] for c in INDEX_CASES])
def test_shard_index(sharded, tmp_path, edit, error, fragment):
    # a valid shard outside the folder, which a loader following '../' would read
    (sharded.parent / "outside.safetensors").write_bytes((sharded / SHARD).read_bytes())
    _rewrite_index(sharded, edit)
    before = snapshot(tmp_path)
    with pytest.raises(error) as info:
        EncoderDecoderModel.from_pretrained(sharded)
    assert fragment in str(info.value)
    assert snapshot(tmp_path) == before


def test_a_shard_linked_outside_the_folder(sharded, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    (sharded / SHARD).rename(outside)
    (sharded / SHARD).symlink_to(outside)
    with pytest.raises(CheckpointError, match="outside the checkpoint folder"):
        EncoderDecoderModel.from_pretrained(sharded)


def test_index_not_json(sharded):
    _index(sharded).write_text("{weight_map: ")
    with pytest.raises(CheckpointError, match="not a shard index"):
        EncoderDecoderModel.from_pretrained(sharded)


# ------------------------------------------------------------------------------------------- failed saves

def _fail_after(monkeypatch, module, name: str, calls: int, error: BaseException) -> None:
    """`module.name` works `calls` times, then raises `error`."""
    original, count = getattr(module, name), [0]

    def failing(*args, **kwargs):
        count[0] += 1
        if count[0] > calls:
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


SAVE_FAILURES = [
    ("second-shard-oserror", "save_file", 1, OSError(28, "No space left on device")),
    ("first-shard-oserror", "save_file", 0, OSError(5, "Input/output error")),
    ("second-shard-interrupt", "save_file", 1, KeyboardInterrupt()),
    ("config-write-fails", "write_json_atomic", 0, OSError(28, "No space left on device")),
]


@pytest.mark.parametrize("name, calls, error", [c[1:] for c in SAVE_FAILURES], ids=[c[0] for c in SAVE_FAILURES])
def test_a_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch, name, calls, error):
    directory = tmp_path / "ckpt"
    old = tiny_model(seed=0)
    old.save_pretrained(directory, max_shard_size=120_000)
    (directory / "vocab.txt").write_text("[PAD]\n")  # a tokenizer file beside the weights
    before = snapshot(tmp_path)
    module = checkpoints if name == "save_file" else sys.modules["bertgen.config.base"]  # where configs write
    _fail_after(monkeypatch, module, name, calls, error)
    with pytest.raises(type(error)):
        tiny_model(seed=1).save_pretrained(directory, max_shard_size=120_000)
    assert snapshot(tmp_path) == before  # the old checkpoint, and no staging folder left behind
    monkeypatch.undo()
    assert same_weights(weights(EncoderDecoderModel.from_pretrained(directory)), weights(old))


BAD_SAVE_ARGUMENTS = [
    ("shard-size-words", {"max_shard_size": "lots"}, ValueError, "expected bytes or a size like '500MB'"),
    ("shard-size-zero", {"max_shard_size": 0}, ValueError, "must be a positive number of bytes"),
    ("shard-size-negative", {"max_shard_size": -5}, ValueError, "must be a positive number of bytes"),
    ("shard-size-zero-mb", {"max_shard_size": "0MB"}, ValueError, "expected bytes"),
    ("shard-size-bool", {"max_shard_size": True}, ValueError, "expected bytes"),
]


@pytest.mark.parametrize("kwargs, error, fragment", [c[1:] for c in BAD_SAVE_ARGUMENTS],
                         ids=[c[0] for c in BAD_SAVE_ARGUMENTS])
def test_bad_save_arguments_write_nothing(saved, tmp_path, kwargs, error, fragment):
    before = snapshot(tmp_path)
    with pytest.raises(error, match=fragment):
        tiny_model(seed=1).save_pretrained(saved, **kwargs)
    assert snapshot(tmp_path) == before


def test_saving_over_a_file_is_refused(tmp_path):
    (tmp_path / "ckpt").write_text("not a folder")
    before = snapshot(tmp_path)
    with pytest.raises(NotADirectoryError, match="exists and is not a directory"):
        tiny_model().save_pretrained(tmp_path / "ckpt")
    assert snapshot(tmp_path) == before


def test_resaving_keeps_tokenizer_files_and_drops_old_weights(tmp_path):
    directory = tmp_path / "ckpt"
    tiny_model().save_pretrained(directory, max_shard_size=120_000)
    (directory / "tokenizer_config.json").write_text("{}")
    tiny_model(seed=1).save_pretrained(directory)  # one file now: the old shards must go
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_leftovers_of_a_killed_save_are_removed_by_the_next(tmp_path):
    directory = tmp_path / "ckpt"
    tiny_model().save_pretrained(directory)
    (tmp_path / ".ckpt.abc123.tmp").mkdir()
    (tmp_path / ".ckpt.abc123.tmp" / "model.safetensors").write_bytes(b"half")
    tiny_model(seed=1).save_pretrained(directory)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


# ------------------------------------------------------------------------------- a reader during a re-save

@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_a_reader_never_sees_a_mix(tmp_path, monkeypatch, exchange):
    """The checkpoint is replaced between the reader's first and second shard: it reads again, all new."""
    directory = tmp_path / "ckpt"
    tiny_model(seed=0).save_pretrained(directory, max_shard_size=120_000)
    new = tiny_model(seed=1)
    if not exchange:
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    original, calls = checkpoints._load_file, [0]

    def load_then_resave(path):
        calls[0] += 1
        state = original(path)
        if calls[0] == 1:
            new.save_pretrained(directory, max_shard_size=120_000)
        return state

    monkeypatch.setattr(checkpoints, "_load_file", load_then_resave)
    loaded = EncoderDecoderModel.from_pretrained(directory)
    assert calls[0] > 2  # it did read again
    assert same_weights(weights(loaded), weights(new))


# ------------------------------------------------------------------------------------- killed during a save

def test_a_save_killed_half_way_leaves_the_old_checkpoint(tmp_path):
    directory = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, __file__, str(directory)], env=worker_env(), stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "old saved"
    deadline = time.time() + 60
    while time.time() < deadline:  # the second save is under way: its staging folder has a shard
        staging = [p for p in tmp_path.iterdir() if p.name.startswith(".ckpt.")]
        if staging and any(staging[0].iterdir()):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert staging, "the worker never started its second save"
    old = tiny_model(seed=0)
    assert same_weights(weights(EncoderDecoderModel.from_pretrained(directory)), weights(old))
    new = tiny_model(seed=1)
    new.save_pretrained(directory)  # the next save removes the leftovers
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    assert same_weights(weights(EncoderDecoderModel.from_pretrained(directory)), weights(new))


if __name__ == "__main__":  # the worker: save the old model, then a new one slowly, shard by shard
    torch.set_num_threads(1)
    target = Path(sys.argv[1])
    tiny_model(seed=0).save_pretrained(target, max_shard_size=120_000)
    print("old saved", flush=True)
    slow = checkpoints.save_file

    def save_slowly(*args, **kwargs):
        slow(*args, **kwargs)
        time.sleep(0.5)

    checkpoints.save_file = save_slowly
    tiny_model(seed=1).save_pretrained(target, max_shard_size=10_000)
