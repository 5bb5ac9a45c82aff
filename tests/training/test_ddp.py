"""DistributedDataParallel: 2 CPU processes (gloo, under torchrun) follow the same loss curve and reach the
same weights as 1 process with the same global batch. Run under torchrun, this file is the worker."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bertgen.training.trainer import read_log
from tests.support import worker_env
from tests.support.models import tiny_model, weights
from tests.training.test_trainer import train

pytestmark = pytest.mark.usefixtures("one_thread")

SETTINGS = dict(steps=6, batch_size=8, checkpoint_every=3)


def losses(out: Path) -> list[float]:
    return [r["loss"] for r in read_log(out / "log.jsonl") if r["kind"] == "train"]


def test_two_processes_equal_one(tmp_path):
    env = worker_env()  # the worker imports tests.training.test_trainer
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               __file__, str(tmp_path / "ddp")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]

    single, _ = train(tmp_path / "single", model=tiny_model(dropout=0.0), **SETTINGS)
    assert losses(tmp_path / "ddp") == pytest.approx(losses(tmp_path / "single"), rel=1e-5)
    ddp_weights = torch.load(tmp_path / "ddp" / "final.pt")
    for key, value in weights(single.model).items():
        torch.testing.assert_close(ddp_weights[key], value, rtol=1e-4, atol=1e-6)


if __name__ == "__main__":  # one of the torchrun processes
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    trainer, result = train(out, model=tiny_model(dropout=0.0), **SETTINGS)
    assert result.steps == SETTINGS["steps"]
    if trainer.rank == 0:
        torch.save(weights(trainer.model), out / "final.pt")
    torch.distributed.destroy_process_group()
