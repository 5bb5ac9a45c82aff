"""Trainer: schedule values, resume == uninterrupted (after an exception and after SIGKILL), accumulation,
NaN handling. Run as a script, this file is the worker the kill test starts and kills."""
from __future__ import annotations

import copy
import functools
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import datasets
import pytest
import torch

from bertgen.training import schedules, trainer
from bertgen.training.state import load_checkpoint
from bertgen.training.trainer import Trainer, TrainingArguments, TrainingDiverged, read_log
from tests.support import worker_env
from tests.support.models import tiny_model, weights


pytestmark = pytest.mark.usefixtures("one_thread")


DROPOUT = 0.1  # training noise: resuming must restore the random generators' states to repeat it


def tiny_data(n: int = 48, seed: int = 0) -> datasets.Dataset:
    """Copy-ish task with varied lengths, so batches carry padding."""
    g = torch.Generator().manual_seed(seed)
    inputs, labels = [], []
    for _ in range(n):
        length = int(torch.randint(3, 12, (1,), generator=g))
        ids = torch.randint(3, 99, (length,), generator=g).tolist()
        inputs.append(ids)
        labels.append(ids[: max(1, length - 2)] + [1])
    return datasets.Dataset.from_dict({"input_ids": inputs, "labels": labels})


def train(out: Path, steps: int = 12, model=None, resume: bool = True, **overrides) -> tuple[Trainer, object]:
    settings = dict(output_dir=str(out), max_steps=steps, batch_size=8, learning_rate=3e-3, warmup_steps=3,
                    log_every=1, checkpoint_every=2, progress=False, precision="fp32")
    trainer = Trainer(model if model is not None else tiny_model(dropout=DROPOUT), TrainingArguments(**{**settings, **overrides}),
                      tiny_data(), pad_token_id=0)
    return trainer, trainer.train(resume=resume)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


# ------------------------------------------------------------------------------------------------ schedules

def test_auto_precision_picks_bf16_only_on_amx_cpus(tmp_path, monkeypatch):
    avx512_only = tmp_path / "avx512"
    avx512_only.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n")
    assert not trainer.cpu_has_amx_bf16(avx512_only)  # bf16 autocast measured 0.69x of fp32 there
    assert trainer.cpu_has_amx_bf16(amx)
    assert not trainer.cpu_has_amx_bf16(tmp_path / "missing")
    cpu = torch.device("cpu")
    detect = trainer.cpu_has_amx_bf16
    for flags, expected in ((avx512_only, "fp32"), (amx, "bf16")):
        monkeypatch.setattr(trainer, "cpu_has_amx_bf16", functools.partial(detect, flags))
        assert trainer.resolve_precision("auto", cpu) == expected
    assert trainer.resolve_precision("fp32", cpu) == "fp32" and trainer.resolve_precision("bf16", cpu) == "bf16"


def test_rsqrt_schedule_is_the_papers():
    f = schedules.schedule("rsqrt", warmup_steps=100, total_steps=1000, hidden_size=64)
    peak = 1 / math.sqrt(100 * 64)
    assert f(0) == 0.0 and f(1) == pytest.approx(peak / 100)
    assert f(50) == pytest.approx(peak / 2)  # linear warmup
    assert f(100) == pytest.approx(peak)
    assert f(400) == pytest.approx(peak / 2)  # 1/sqrt(k) decay: 4x the steps, half the rate
    # The paper's setting: 0.05, 40k warmup, hidden 768 -> peak 9.0e-6
    assert 0.05 * schedules.schedule("rsqrt", 40_000, 300_000, 768)(40_000) == pytest.approx(9.02e-6, rel=1e-3)


def test_linear_cosine_and_constant_schedules():
    f = schedules.schedule("linear", warmup_steps=10, total_steps=110, hidden_size=1)
    assert [f(0), f(1), f(10), f(60), f(110)] == pytest.approx([0.0, 0.1, 1.0, 0.5, 0.0])
    c = schedules.schedule("cosine", warmup_steps=10, total_steps=110, hidden_size=1)
    assert [c(5), c(10), c(60), c(85), c(110)] == pytest.approx([0.5, 1.0, 0.5, 0.5 * (1 - math.sqrt(0.5)), 0.0])
    g = schedules.schedule("constant", warmup_steps=4, total_steps=100, hidden_size=1)
    assert [g(0), g(2), g(4), g(99)] == pytest.approx([0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError, match="unknown schedule 'polynomial'"):
        schedules.schedule("polynomial", 1, 2, 3)


@pytest.mark.parametrize("name", ["linear", "cosine", "constant"])
def test_schedules_give_transformers_rate_at_every_update(name):
    transformers = pytest.importorskip("transformers")
    make = {"linear": transformers.get_linear_schedule_with_warmup,
            "cosine": transformers.get_cosine_schedule_with_warmup,
            "constant": lambda opt, warmup, total: transformers.get_constant_schedule_with_warmup(opt, warmup)}[name]
    rates = {}
    for library in ("transformers", "bertgen"):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=5e-5)
        scheduler = (make(optimizer, 3, 12) if library == "transformers"
                     else schedules.scheduler(optimizer, name, 3, 12, hidden_size=1))
        rates[library] = []
        for _ in range(12):
            rates[library].append(optimizer.param_groups[0]["lr"])  # the rate this update uses
            optimizer.step()
            scheduler.step()
    assert rates["bertgen"] == pytest.approx(rates["transformers"], abs=1e-12)
    assert rates["bertgen"][0] == 0.0  # the warmup's first update, as transformers: rate 0


def test_scheduler_sets_the_rate_of_each_update(tmp_path):
    trainer, _ = train(tmp_path, steps=6, schedule="linear", warmup_steps=2, learning_rate=1.0)
    lrs = [r["lr"] for r in read_log(tmp_path / "log.jsonl") if r["kind"] == "train"]
    f = schedules.schedule("linear", 2, 6, 32)
    assert lrs == pytest.approx([f(k) for k in range(6)])


def test_each_training_record_carries_the_process_peak_memory(tmp_path):
    """A long sweep run's memory growth shows in its log (peak resident memory, never falling)."""
    resource = pytest.importorskip("resource")  # Windows has none, and logs None

    train(tmp_path, steps=3)
    peaks = [r["peak_rss_mb"] for r in read_log(tmp_path / "log.jsonl") if r["kind"] == "train"]
    assert len(peaks) == 3 and peaks == sorted(peaks) and peaks[0] > 10  # a Python process with torch: 100s of MB
    assert peaks[-1] <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------------- resume

def interrupted(step: int, run: Callable[[], object]) -> None:
    """`run` (a training), interrupted by a KeyboardInterrupt as it starts optimizer step `step`."""
    original = Trainer._step

    def crash(self, batch, at, position):
        if at == step:
            raise KeyboardInterrupt("simulated interruption")
        return original(self, batch, at, position)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Trainer, "_step", crash)
        run()


def test_resume_after_exception_equals_uninterrupted(tmp_path):
    reference, result = train(tmp_path / "ref")
    assert result.steps == 12
    expected = weights(reference.model)

    interrupted(7, lambda: train(tmp_path / "run", model=tiny_model(dropout=DROPOUT)))
    assert load_checkpoint(tmp_path / "run")["meta"]["state"]["step"] == 6
    resumed, _ = train(tmp_path / "run", model=tiny_model(seed=123, dropout=DROPOUT))  # init is overwritten by the checkpoint
    assert_same_weights(weights(resumed.model), expected)
    steps = [r["step"] for r in read_log(tmp_path / "run" / "log.jsonl") if r["kind"] == "train"]
    assert steps == list(range(1, 13))  # the log reads as one run


def test_a_run_begun_under_auto_resumes_under_the_precision_auto_picked(tmp_path, monkeypatch):
    """The sweep's configs began under precision "auto" (bf16 on an AMX CPU) and now pin bf16: their checkpoints
    resume; pinning fp32 instead is another run."""
    monkeypatch.setattr(trainer, "cpu_has_amx_bf16", lambda: True)
    interrupted(3, lambda: train(tmp_path, steps=4, precision="auto"))
    with pytest.raises(trainer.CheckpointMismatch, match="precision: 'bf16' -> 'fp32'"):
        train(tmp_path, steps=4, precision="fp32")
    _, result = train(tmp_path, steps=4, precision="bf16")
    assert result.steps == 4 and result.precision == "bf16"
    assert [r["step"] for r in read_log(tmp_path / "log.jsonl") if r["kind"] == "train"] == [1, 2, 3, 4]


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    env = worker_env()
    worker = [sys.executable, __file__]
    subprocess.run(worker + [str(tmp_path / "ref"), "0"], check=True, env=env)  # checkpoints only at the end
    run = tmp_path / "run"
    proc = subprocess.Popen(worker + [str(run), "1"], env=env)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill once a few steps are logged, wherever the worker happens to be
        if (run / "log.jsonl").is_file() and sum(1 for _ in open(run / "log.jsonl")) >= 9:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "final.pt").exists(), "the worker finished before it was killed"
    subprocess.run(worker + [str(run), "1"], check=True, env=env)
    assert_same_weights(torch.load(run / "final.pt"), torch.load(tmp_path / "ref" / "final.pt"))


def test_gradient_accumulation_follows_the_same_loss_curve(tmp_path):
    losses = []
    for accumulation in (1, 4):
        train(tmp_path / str(accumulation), steps=5, model=tiny_model(dropout=0.0),
              gradient_accumulation_steps=accumulation)
        losses.append([r["loss"] for r in read_log(tmp_path / str(accumulation) / "log.jsonl") if r["kind"] == "train"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


# ------------------------------------------------------------------------------------------------------- NaN

class NaNAfter(torch.nn.Module):
    """Wraps a model; its loss turns NaN from the given call on."""

    def __init__(self, model, call: int):
        super().__init__()
        self.inner, self.call, self.calls = model, call, 0
        self.config = model.config

    def forward(self, **batch):
        out = self.inner(**batch)
        self.calls += 1
        if self.calls >= self.call:
            out.loss = out.loss * float("nan")
        return out


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    model = NaNAfter(tiny_model(dropout=DROPOUT), call=5)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 5 \(epoch 0, batch 4.*last good checkpoint"):
        train(tmp_path, model=model, checkpoint_every=1)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["meta"]["state"]["step"] == 4
    current = weights(model)
    for key, value in ckpt["model"].items():
        assert torch.isfinite(value).all()
        assert torch.equal(value, current[key]), "the NaN step must not touch the weights"
    assert read_log(tmp_path / "log.jsonl")[-1]["reason"] == "diverged"


def test_time_limit_stops_early_and_says_so(tmp_path):
    trainer, result = train(tmp_path, steps=1000, max_time_s=0.0)
    assert (result.steps, result.stop_reason) == (1, "time_limit")
    assert read_log(tmp_path / "log.jsonl")[-1] == {"kind": "end", "step": 1, "reason": "time_limit",
                                                    "wall_s": result.wall_s}


def test_mismatched_resume_is_refused(tmp_path):
    train(tmp_path, steps=2)
    with pytest.raises(ValueError, match="batch_size: 8 -> 4"):
        train(tmp_path, steps=4, batch_size=4)


if __name__ == "__main__":  # the kill test's worker: train (resuming if possible), then save the weights
    torch.set_num_threads(1)
    out, checkpoint_every = Path(sys.argv[1]), int(sys.argv[2])
    trainer, _ = train(out, steps=24, checkpoint_every=checkpoint_every)
    torch.save(weights(trainer.model), out / "final.pt")


# ------------------------------------------------------------------------------------ collapse diagnostics

def test_new_parameters_learn_at_their_own_rate(tmp_path):
    model = tiny_model(dropout=0.0)
    cross = [name for name, _ in model.named_parameters() if ".crossattention." in name]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=2, batch_size=8, learning_rate=1e-3, warmup_steps=0,
                             schedule="constant", new_parameters_lr_multiplier=10.0, progress=False, precision="fp32")
    trainer = Trainer(model, args, tiny_data(), pad_token_id=0, new_parameters=cross)
    trainer.train()
    rates = {}
    for group in trainer.optimizer.param_groups:
        for p in group["params"]:
            rates[id(p)] = group["lr"]
    named = dict(model.named_parameters())
    assert [rates[id(named[n])] for n in cross] == pytest.approx([1e-2] * len(cross))
    others = [rates[id(p)] for n, p in named.items() if n not in cross]
    assert others == pytest.approx([1e-3] * len(others))


def test_new_parameters_must_be_the_models():
    with pytest.raises(ValueError, match="the model does not have, e.g. 'decoder.nope'"):
        Trainer(tiny_model(dropout=DROPOUT), TrainingArguments(output_dir="x", progress=False), tiny_data(), pad_token_id=0,
                new_parameters=["decoder.nope"])


def test_decoding_after_optimizer_steps_uses_the_current_weights(tmp_path):
    """Fused AdamW leaves the weights' version counters alone; generation caches packed copies of the weights
    keyed on them, so without the Trainer's bump a decode between steps would reuse the first decode's weights."""
    model = tiny_model(dropout=0.0)
    source = torch.tensor([[5, 6, 7, 8, 9]])
    outputs = []

    def scores(m) -> torch.Tensor:
        out = m.generate(source, max_new_tokens=4, do_sample=False, output_scores=True, return_dict_in_generate=True)
        return torch.stack(out.scores)

    def decode(m, step):
        outputs.append(scores(m))
        reference = copy.deepcopy(m)  # a fresh copy has no cached weights: what the model computes now
        torch.testing.assert_close(outputs[-1], scores(reference))
        return {}

    args = TrainingArguments(output_dir=str(tmp_path), max_steps=6, batch_size=8, learning_rate=3e-2, warmup_steps=0,
                             schedule="constant", eval_every=2, log_every=2, progress=False, precision="fp32")
    Trainer(model, args, tiny_data(), pad_token_id=0, evaluate=decode).train()
    assert len(outputs) == 3
