"""TrainingArguments, training data and resumes that must be refused, and a run killed while it writes its
checkpoint: the old checkpoint survives and the resumed run ends bit-identical to an uninterrupted one.
Run as a script, this file is the worker the kill test starts and kills."""
from __future__ import annotations

import dataclasses
import json
import math
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
import torch

from bertgen.training import state as state_io
from bertgen.training.state import CheckpointMismatch, load_checkpoint
from bertgen.training.trainer import Trainer, TrainingArguments
from bertgen.modeling import EncoderDecoderModel
from tests.hostile.helpers import snapshot
from tests.support.models import tiny_config, tiny_model, weights
from tests.support import worker_env

pytestmark = pytest.mark.usefixtures("one_thread")


def data(n: int = 24, seed: int = 0, replace: dict | None = None) -> datasets.Dataset:
    g = torch.Generator().manual_seed(seed)
    inputs, labels = [], []
    for _ in range(n):
        ids = torch.randint(3, 99, (int(torch.randint(3, 9, (1,), generator=g)),), generator=g).tolist()
        inputs.append(ids)
        labels.append(ids[:-1] + [1])
    columns = {"input_ids": inputs, "labels": labels}
    for (column, row), value in (replace or {}).items():
        columns[column][row] = value
    return datasets.Dataset.from_dict(columns)


def arguments(out: Path, **overrides) -> TrainingArguments:
    settings = dict(output_dir=str(out), max_steps=4, batch_size=4, learning_rate=3e-3, log_every=1,
                    checkpoint_every=2, progress=False, precision="fp32")
    return TrainingArguments(**{**settings, **overrides})


def run(out: Path, model=None, dataset=None, allow_changes: bool = False, **overrides):
    trainer = Trainer(model if model is not None else tiny_model(), arguments(out, **overrides),
                      dataset if dataset is not None else data(), pad_token_id=0)
    return trainer, trainer.train(allow_changes=allow_changes)


# ------------------------------------------------------------------------------------- TrainingArguments

ARGUMENT_CASES = [
    ("grad-norm-negative", {"max_grad_norm": -1.0}, "max_grad_norm must be a finite number > 0"),
    ("grad-norm-zero", {"max_grad_norm": 0.0}, "max_grad_norm must be a finite number > 0"),
    ("grad-norm-nan", {"max_grad_norm": math.nan}, "max_grad_norm must be a finite number > 0"),
    ("weight-decay-negative", {"weight_decay": -0.01}, "weight_decay must be a finite number >= 0.0, got -0.01"),
    ("weight-decay-nan", {"weight_decay": math.nan}, "weight_decay must be a finite number"),
    ("new-lr-multiplier-zero", {"new_parameters_lr_multiplier": 0.0}, "new_parameters_lr_multiplier must be a finite number > 0.0"),
    ("new-lr-multiplier-inf", {"new_parameters_lr_multiplier": math.inf}, "new_parameters_lr_multiplier must be a finite number"),
    ("log-every-zero", {"log_every": 0}, "log_every must be an int >= 1, got 0"),
    ("log-every-negative", {"log_every": -3}, "log_every must be an int >= 1"),
    ("log-every-bool", {"log_every": True}, "log_every must be an int >= 1, got True"),
    ("lr-zero", {"learning_rate": 0.0}, "learning_rate must be a finite number > 0.0"),
    ("lr-negative", {"learning_rate": -1e-3}, "learning_rate must be a finite number > 0.0"),
    ("lr-nan", {"learning_rate": math.nan}, "learning_rate must be a finite number"),
    ("lr-inf", {"learning_rate": math.inf}, "learning_rate must be a finite number"),
    ("lr-string", {"learning_rate": "3e-4"}, "learning_rate must be a finite number"),
    ("max-steps-zero", {"max_steps": 0}, "max_steps must be an int >= 1, got 0"),
    ("max-steps-float", {"max_steps": 10.5}, "max_steps must be an int >= 1, got 10.5"),
    ("batch-size-zero", {"batch_size": 0}, "batch_size must be an int >= 1"),
    ("accumulation-zero", {"gradient_accumulation_steps": 0}, "gradient_accumulation_steps must be an int >= 1"),
    ("warmup-negative", {"warmup_steps": -1}, "warmup_steps must be an int >= 0"),
    ("eval-every-negative", {"eval_every": -1}, "eval_every must be an int >= 0"),
    ("checkpoint-every-negative", {"checkpoint_every": -2}, "checkpoint_every must be an int >= 0"),
    ("patience-negative", {"early_stopping_patience": -1}, "early_stopping_patience must be an int >= 0"),
    ("beta1-one", {"adam_beta1": 1.0}, "adam_beta1 must be in [0, 1), got 1.0"),
    ("beta2-negative", {"adam_beta2": -0.1}, "adam_beta2 must be in [0, 1)"),
    ("epsilon-zero", {"adam_epsilon": 0.0}, "adam_epsilon must be a finite number > 0.0"),
    ("max-time-negative", {"max_time_s": -1.0}, "max_time_s must be >= 0 seconds"),
    ("max-time-nan", {"max_time_s": math.nan}, "max_time_s must be >= 0 seconds"),
    ("schedule-unknown", {"schedule": "polynomial"}, "schedule 'polynomial': expected one of rsqrt, linear, cosine, constant"),
    ("precision-unknown", {"precision": "fp16"}, "precision 'fp16': expected one of auto, fp32, bf16"),
    ("output-dir-empty", {"output_dir": ""}, "output_dir must be a directory path"),
    ("output-dir-none", {"output_dir": None}, "output_dir must be a directory path"),
]


@pytest.mark.parametrize("overrides, fragment", [c[1:] for c in ARGUMENT_CASES], ids=[c[0] for c in ARGUMENT_CASES])
def test_training_arguments(tmp_path, overrides, fragment):
    with pytest.raises(ValueError) as info:
        arguments(tmp_path / "run", **overrides)
    assert fragment in str(info.value)
    assert snapshot(tmp_path) == {}  # nothing written


DATA_CASES = [
    ("label-negative", {("labels", 3): [5, -5, 1]}, "example 3 has the labels value -5, outside 0..98 or -100"),
    ("label-past-vocab", {("labels", 0): [5, 99]}, "example 0 has the labels value 99"),
    ("input-negative", {("input_ids", 7): [4, -1]}, "example 7 has the input_ids value -1, outside 0..98 (encoder"),
    ("input-past-vocab", {("input_ids", 2): [4, 5000]}, "example 2 has the input_ids value 5000"),
    ("input-minus-100", {("input_ids", 1): [-100, 5]}, "example 1 has the input_ids value -100"),
    ("labels-empty", {("labels", 5): []}, "example 5 has an empty 'labels'"),
]


@pytest.mark.parametrize("replace, fragment", [c[1:] for c in DATA_CASES], ids=[c[0] for c in DATA_CASES])
def test_training_data(tmp_path, replace, fragment):
    with pytest.raises(ValueError) as info:
        Trainer(tiny_model(), arguments(tmp_path / "run"), data(replace=replace), pad_token_id=0)
    assert fragment in str(info.value)
    assert snapshot(tmp_path) == {}


def test_eval_data_is_checked_too(tmp_path):
    with pytest.raises(ValueError, match="eval_dataset: example 0 has the labels value -7"):
        Trainer(tiny_model(), arguments(tmp_path / "run"), data(), pad_token_id=0,
                eval_dataset=data(4, replace={("labels", 0): [-7]}))


# ------------------------------------------------------------------------------------------------- resume

RESUME_CASES = [
    ("learning-rate", {"learning_rate": 1e-3}, "learning_rate: 0.003 -> 0.001"),
    ("max-steps", {"max_steps": 8}, "max_steps: 4 -> 8"),
    ("seed", {"seed": 1}, "seed: 0 -> 1"),
    ("weight-decay", {"weight_decay": 0.1}, "weight_decay: 0.01 -> 0.1"),
    ("schedule", {"schedule": "constant"}, "schedule: 'linear' -> 'constant'"),
    ("batch-size", {"batch_size": 8}, "batch_size: 4 -> 8"),
    ("grad-norm", {"max_grad_norm": None}, "max_grad_norm: 1.0 -> None"),
    ("dataset", {"dataset": data(seed=1)}, "training set: fingerprint"),
    ("dataset-reordered", {"dataset": data().select(list(reversed(range(24))))}, "training set: fingerprint"),
]


@pytest.mark.parametrize("change, fragment", [c[1:] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES])
def test_resume_refuses_a_changed_run(tmp_path, change, fragment):
    run(tmp_path, max_steps=4, checkpoint_every=2)
    before = snapshot(tmp_path)
    change = dict(change)
    dataset = change.pop("dataset", None)
    with pytest.raises(CheckpointMismatch) as info:
        run(tmp_path, dataset=dataset, **{"max_steps": 4, **change})
    assert fragment in str(info.value) and "allow_changes=True" in str(info.value)
    assert snapshot(tmp_path) == before


def test_resume_into_another_architecture(tmp_path):
    run(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(CheckpointMismatch, match=r"written for a different model \(\d+ difference\(s\): .*shape"):
        run(tmp_path, model=EncoderDecoderModel(dataclasses.replace(
            tiny_config(), decoder=dataclasses.replace(tiny_config().decoder, intermediate_size=40))))
    assert snapshot(tmp_path) == before


def test_allow_changes_continues_with_the_new_settings(tmp_path):
    run(tmp_path, max_steps=2)
    _, result = run(tmp_path, max_steps=4, allow_changes=True)
    assert result.steps == 4


def test_a_pickled_checkpoint_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    tmp_path.mkdir(exist_ok=True)
    with open(tmp_path / "checkpoint.pt", "wb") as f:
        pickle.dump({"state": Payload()}, f)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="checkpoint.pt: a pickled checkpoint from an older bertgen. It is not loaded"):
        run(tmp_path)
    assert not marker.exists()
    assert snapshot(tmp_path) == before


def _damage(name: str, how):
    def apply(directory: Path) -> None:
        path = directory / "checkpoint" / name
        how(path)
    return apply


def _json_edit(edit):
    def how(path: Path) -> None:
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
    return how


DAMAGE_CASES = [
    ("state-not-json", _damage("trainer_state.json", lambda p: p.write_text("{step: 3")), ValueError, "not valid JSON"),
    ("state-missing", _damage("trainer_state.json", lambda p: p.unlink()), ValueError, "trainer_state.json: missing"),
    ("state-no-dataset", _damage("trainer_state.json", _json_edit(lambda d: d.pop("dataset"))), ValueError,
     "key 'dataset' must be a str"),
    ("state-format", _damage("trainer_state.json", _json_edit(lambda d: d.update(format=99))), ValueError,
     "checkpoint format 99"),
    ("state-extra-field", _damage("trainer_state.json", _json_edit(lambda d: d["state"].update(bogus=1))), ValueError,
     "key 'state' does not fit TrainState"),
    ("state-deep", _damage("trainer_state.json", _json_edit(lambda d: d.update(x=json.loads("[" * 50 + "]" * 50)))),
     ValueError, "levels deep"),
    ("model-truncated", _damage("model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:100])), ValueError,
     "model.safetensors: cannot read it"),
    ("optimizer-missing", _damage("optimizer.safetensors", lambda p: p.unlink()), ValueError,
     "optimizer.safetensors: missing"),
    ("rng-garbage", _damage("rng.safetensors", lambda p: p.write_bytes(b"\x00" * 64)), ValueError,
     "rng.safetensors: cannot read it"),
]


@pytest.mark.parametrize("damage, error, fragment", [c[1:] for c in DAMAGE_CASES], ids=[c[0] for c in DAMAGE_CASES])
def test_a_damaged_checkpoint(tmp_path, damage, error, fragment):
    run(tmp_path)
    damage(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(error) as info:
        run(tmp_path)
    assert fragment in str(info.value)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------ killed mid-save

def test_a_run_killed_while_writing_its_checkpoint_resumes_bit_identical(tmp_path):
    env = worker_env()
    worker = [sys.executable, __file__]
    subprocess.run(worker + [str(tmp_path / "ref"), "fast"], check=True, env=env)
    out = tmp_path / "run"
    proc = subprocess.Popen(worker + [str(out), "slow"], env=env)
    deadline, staging = time.time() + 120, []
    while time.time() < deadline and not staging:  # kill inside the second checkpoint write
        if (out / "checkpoint").is_dir():
            staging = [p for p in out.iterdir() if p.name.startswith(".checkpoint.")]
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert staging, "the worker finished before it was killed"
    survived = load_checkpoint(out)  # the previous checkpoint is whole
    assert survived["meta"]["state"]["step"] in (2, 4, 6)
    subprocess.run(worker + [str(out), "fast"], check=True, env=env)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], "leftovers were not cleaned"
    final, reference = torch.load(out / "final.pt"), torch.load(tmp_path / "ref" / "final.pt")
    assert final.keys() == reference.keys() and all(torch.equal(final[k], reference[k]) for k in final)


if __name__ == "__main__":  # the worker: 8 steps with a checkpoint every 2, slowly written when asked
    torch.set_num_threads(1)
    out, speed = Path(sys.argv[1]), sys.argv[2]
    if speed == "slow":
        save = state_io.save_file

        def save_slowly(*args, **kwargs):
            save(*args, **kwargs)
            time.sleep(0.3)

        state_io.save_file = save_slowly
    trainer, _ = run(out, model=tiny_model(), max_steps=8, checkpoint_every=2)
    torch.save(weights(trainer.model), out / "final.pt")
