"""Trainer: AdamW, the paper's schedule, accumulation, clipping, bf16 autocast, evaluation and early stopping,
atomic checkpoints that resume bit for bit, and DistributedDataParallel under `torchrun`.

One optimizer step consumes one *global batch* of `batch_size` examples: the length-bucketed sampler deals
global batches (the same list on every process), and each is cut into `world_size x accumulation` equal
micro-batches. The loss of a step is the mean over every label token of the global batch, however it is cut,
so N processes, or N accumulation steps, follow the same loss curve as one process with the whole batch.

Resuming: `output_dir/checkpoint.pt` holds the model, optimizer, scheduler, each process's RNG states, the
data position (epoch, next batch) and the early-stopping state. It is written to a temporary file and renamed,
so a run killed at any moment leaves the last complete checkpoint, and `train(resume=True)` continues from it
to the same final weights as a run never interrupted.

Shapes: B micro-batch, S source length, T target length.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from bertgen.data.collate import LABEL_PAD, LengthBucketSampler, Seq2SeqCollator
from bertgen.evaluation import token_loss
from bertgen.fileio import atomic_write
from bertgen.training import schedules

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
LOG = "log.jsonl"
PRECISIONS = ("auto", "fp32", "bf16")


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm became NaN or infinite; the weights were not updated with it."""


@dataclass
class TrainingArguments:
    output_dir: str
    max_steps: int = 1000
    batch_size: int = 32  # global: examples per optimizer step, over all processes and accumulation steps
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5  # for `rsqrt` a dimensionless constant (the paper's 0.05); see training/schedules.py
    schedule: str = "linear"  # rsqrt (the paper's), linear, constant
    warmup_steps: int = 0
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float | None = 1.0  # None: no clipping (the norm is still logged)
    precision: str = "auto"  # fp32, bf16 (autocast), auto: bf16 where it is faster (see resolve_precision)
    eval_every: int = 0  # steps between evaluations; 0: only at the end
    early_stopping_metric: str | None = None  # e.g. "sari" or "val_loss"; the best weights are restored at the end
    early_stopping_patience: int = 0  # evaluations without improvement before stopping; 0: never stop early
    checkpoint_every: int = 0  # steps between checkpoints; 0: only at the end
    max_time_s: float | None = None  # stop after this much training time (the schedule still spans max_steps)
    log_every: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError("max_steps, batch_size and gradient_accumulation_steps must each be at least 1")
        if self.schedule not in schedules.SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r}: expected one of {', '.join(schedules.SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")


@dataclass
class TrainState:
    """Everything a checkpoint must hold besides model, optimizer, scheduler and RNG: the data position
    (epoch, next global batch), the early-stopping state, and why the run stopped (a stopped run stays so)."""

    step: int = 0
    epoch: int = 0
    next_batch: int = 0
    wall_s: float = 0.0
    stop_reason: str = "max_steps"  # max_steps (still running, or done), early_stopping, time_limit
    best_metric: float | None = None
    best_step: int | None = None
    evaluations_without_improvement: int = 0


@dataclass
class TrainResult:
    steps: int
    stop_reason: str  # max_steps, early_stopping, time_limit
    train_loss: float  # mean of the last logged interval
    best_metric: float | None
    best_step: int | None
    wall_s: float  # this process's training time, summed over resumed segments
    log_path: Path


# --------------------------------------------------------------------------------------------- distribution

def distributed_context() -> tuple[int, int, int]:
    """(rank, world_size, local_rank), initializing the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    return 0, 1, 0


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto`: bf16 autocast on GPUs that support it and on CPUs with native bf16 matmul (AVX512-BF16 or AMX),
    where benchmarks/bench_training.py measures it faster (1.6x per step on a MiniLM-sized model); fp32 elsewhere."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if _cpu_has_native_bf16() else "fp32"


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


# ------------------------------------------------------------------------------------------------ state i/o

def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save through fileio.atomic_write: never a half-written file."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def read_log(path: str | os.PathLike) -> list[dict]:
    """The records of a run's log.jsonl (a line cut short by a kill is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


# -------------------------------------------------------------------------------------------------- trainer

class Trainer:
    """Train an EncoderDecoderModel (or any module whose forward takes input_ids, attention_mask, labels and
    returns `.loss`) on a tokenized dataset with `input_ids` and `labels` columns (`length` optional).

    evaluate: `fn(model) -> {metric: value}`, e.g. generation metrics on a validation slice; called on
        rank 0 every `eval_every` steps and at the end, with the unwrapped model in eval mode.
    eval_dataset: tokenized validation examples; their token-mean loss is logged as `val_loss`.
    """

    def __init__(self, model: torch.nn.Module, args: TrainingArguments, train_dataset, pad_token_id: int,
                 evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None, eval_dataset=None):
        self.args = args
        self.rank, self.world, local_rank = distributed_context()
        self.device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device)
        self.model.fused_loss = True  # bertgen models: the training loss without the logits (bertgen.loss)
        self.precision = resolve_precision(args.precision, self.device)
        self.collate = Seq2SeqCollator(pad_token_id)
        self.evaluate_fn = evaluate
        self.data = train_dataset.select_columns(["input_ids", "labels"])
        self.eval_data = eval_dataset.select_columns(["input_ids", "labels"]) if eval_dataset is not None else None
        self.label_lengths = [len(x) for x in self.data["labels"]]
        lengths = (train_dataset["length"] if "length" in train_dataset.column_names
                   else [max(len(a), b) for a, b in zip(self.data["input_ids"], self.label_lengths)])
        parts = self.world * args.gradient_accumulation_steps
        if args.batch_size % parts:
            raise ValueError(f"batch_size {args.batch_size} must be divisible by world_size x "
                             f"gradient_accumulation_steps = {self.world} x {args.gradient_accumulation_steps}")
        if len(self.data) < args.batch_size:
            raise ValueError(f"the training set has {len(self.data)} examples, fewer than one batch "
                             f"({args.batch_size}); lower batch_size")
        self.micro_size = args.batch_size // parts
        # Every process deals the same global batches (same seed); each then takes its own micro-batches.
        self.sampler = LengthBucketSampler(lengths, args.batch_size, shuffle=True, seed=args.seed, drop_last=True)
        self.output_dir = Path(args.output_dir)

    # ------------------------------------------------------------------------------------------ plumbing

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def _batch(self, data, indices: list[int]) -> dict[str, torch.Tensor]:
        rows = data[indices]
        features = [{"input_ids": a, "labels": b} for a, b in zip(rows["input_ids"], rows["labels"])]
        return {k: v.to(self.device) for k, v in self.collate(features).items()}

    def _optimizer(self) -> torch.optim.Optimizer:
        """AdamW; no weight decay on biases and LayerNorm weights (the 1-D parameters), as BERT."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": self.args.weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        a = self.args
        # fused: one kernel per parameter group instead of a chain of foreach ops (measured in bench_training)
        return torch.optim.AdamW(groups, lr=a.learning_rate, betas=(a.adam_beta1, a.adam_beta2), eps=a.adam_epsilon,
                                 fused=self.device.type in ("cpu", "cuda"))

    def _hidden_size(self) -> int:
        config = getattr(self.model, "config", None)
        config = getattr(config, "decoder", config)
        return getattr(config, "hidden_size", 1)

    def _log(self, record: dict) -> None:
        if self.rank == 0:
            with open(self.output_dir / LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _checkpoint(self, state: dict) -> None:
        """All processes' RNG states go into rank 0's file; everything else is identical across processes."""
        rngs = [None] * self.world
        if self.world > 1:
            dist.all_gather_object(rngs, _rng_state())
        else:
            rngs[0] = _rng_state()
        if self.rank == 0:
            save_atomic({**state, "args": dataclasses.asdict(self.args), "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                         "scheduler": self.scheduler.state_dict(), "rng": rngs, "world_size": self.world,
                         "batch_size": self.args.batch_size}, self.output_dir / CHECKPOINT)
        if self.world > 1:
            dist.barrier()

    def _resume(self) -> dict | None:
        path = self.output_dir / CHECKPOINT
        if not path.is_file():
            return None
        ckpt = torch.load(path, map_location=self.device, weights_only=False)
        for key, ours in (("world_size", self.world), ("batch_size", self.args.batch_size)):
            if ckpt[key] != ours:
                raise ValueError(f"{path}: written with {key}={ckpt[key]}, this run has {ours}; resume with the "
                                 "same setting, or use a fresh output_dir")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        _set_rng_state(ckpt["rng"][self.rank])
        return ckpt

    def _truncate_log(self, step: int) -> None:
        """Drop records a killed run wrote after its last checkpoint: the resumed run writes them again."""
        path = self.output_dir / LOG
        if self.rank == 0 and path.is_file():
            kept = [r for r in read_log(path) if r.get("step", 0) <= step and r.get("kind") != "end"]
            path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

    # -------------------------------------------------------------------------------------- evaluation

    def _evaluate(self, step: int) -> dict[str, float]:
        """Rank 0 evaluates the unwrapped model; every process receives the metrics (for early stopping)."""
        metrics: list = [None]
        if self.rank == 0:
            self.model.eval()
            try:
                result = {}
                if self.eval_data is not None:
                    with self._autocast():
                        result["val_loss"] = token_loss(self.model, self.eval_data, self.collate.pad_token_id,
                                                        self.micro_size)
                if self.evaluate_fn is not None:
                    result.update(self.evaluate_fn(self.model))
            finally:
                self.model.train()
            metrics[0] = result
        if self.world > 1:
            dist.broadcast_object_list(metrics, src=0)
        self._log({"kind": "eval", "step": step, **metrics[0]})
        return metrics[0]

    # ------------------------------------------------------------------------------------------ training

    def _micro_batches(self, global_batch: list[int]) -> list[list[int]]:
        """This process's share of a global batch: micro-batch m of rank r is chunk m * world + r."""
        c, w = self.micro_size, self.world
        return [global_batch[(m * w + self.rank) * c:(m * w + self.rank + 1) * c]
                for m in range(self.args.gradient_accumulation_steps)]

    def _step(self, global_batch: list[int], step: int, position: str) -> tuple[float, float, int]:
        """One optimizer update; returns (loss, grad norm, tokens processed by all processes)."""
        n_global = sum(self.label_lengths[i] for i in global_batch)  # label tokens in the whole global batch
        stats = torch.zeros(2, dtype=torch.float64, device=self.device)  # sum of token losses, tokens seen
        micro = self._micro_batches(global_batch)
        for k, indices in enumerate(micro):
            batch = self._batch(self.data, indices)
            n = int((batch["labels"] != LABEL_PAD).sum())
            sync = k == len(micro) - 1  # DDP all-reduces gradients only after the last micro-batch
            with (self.ddp.no_sync() if self.ddp is not None and not sync else contextlib.nullcontext()):
                with self._autocast():
                    loss = self.forward(**batch).loss  # mean over this micro-batch's n label tokens
                # scaled so the summed (and, under DDP, averaged) gradient is that of the global token mean
                (loss * (n * self.world / n_global)).backward()
            stats[0] += loss.detach().double() * n
            stats[1] += n + int(batch["attention_mask"].sum())
        if self.world > 1:
            dist.all_reduce(stats)
        mean_loss = float(stats[0]) / n_global
        if not math.isfinite(mean_loss):
            self._diverged("loss", mean_loss, step, position)
        max_norm = self.args.max_grad_norm if self.args.max_grad_norm is not None else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        if not math.isfinite(grad_norm):
            self._diverged("gradient norm", grad_norm, step, position)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return mean_loss, grad_norm, int(stats[1])

    def _diverged(self, what: str, value: float, step: int, position: str) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        ckpt = self.output_dir / CHECKPOINT
        kept = f"the last good checkpoint is {ckpt}" if ckpt.is_file() else "no checkpoint was written yet"
        self._log({"kind": "end", "step": step - 1, "reason": "diverged", "detail": f"{what} {value}"})
        raise TrainingDiverged(
            f"{what} is {value} at step {step} ({position}, lr {self.scheduler.get_last_lr()[0]:.3g}); the "
            f"weights were not updated with it and {kept}. Lower learning_rate, add warmup_steps, set "
            "max_grad_norm, or use precision='fp32', then resume or restart")

    def _out_of_time(self, wall_s: float) -> bool:
        """Past max_time_s on any process (each measures its own clock; all must stop at the same step)."""
        flag = torch.tensor(float(wall_s >= self.args.max_time_s), device=self.device)
        if self.world > 1:
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag)

    def _early_stopping(self, metrics: dict[str, float], step: int) -> None:
        """Track the best value of the chosen metric, keep its weights in best.pt, stop after `patience` misses."""
        metric, state = self.args.early_stopping_metric, self.state
        if metric not in metrics:
            raise ValueError(f"early_stopping_metric {metric!r} is not among the evaluation's metrics "
                             f"({', '.join(metrics) or 'none: pass evaluate= or eval_dataset='})")
        value, best = metrics[metric], state.best_metric
        if best is None or (value < best if metric.endswith("loss") else value > best):
            state.best_metric, state.best_step, state.evaluations_without_improvement = value, step, 0
            if self.rank == 0:
                save_atomic(self.model.state_dict(), self.output_dir / BEST)
        else:
            state.evaluations_without_improvement += 1
            if (self.args.early_stopping_patience
                    and state.evaluations_without_improvement >= self.args.early_stopping_patience):
                state.stop_reason = "early_stopping"

    def train(self, resume: bool = True) -> TrainResult:
        """Train to `max_steps` (or an early stop), continuing from output_dir's checkpoint when `resume`."""
        args = self.args
        if self.rank == 0:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        if self.world > 1:
            dist.barrier()
        # Dropout masks differ per process; model init is rank 0's (DDP broadcasts it).
        torch.manual_seed(args.seed + self.rank)
        random.seed(args.seed + self.rank)
        np.random.seed(args.seed + self.rank)
        self.optimizer = self._optimizer()
        self.scheduler = schedules.scheduler(self.optimizer, args.schedule, args.warmup_steps, args.max_steps,
                                             self._hidden_size())
        ckpt = self._resume() if resume else None
        self.state = TrainState(**ckpt["state"]) if ckpt else TrainState()
        state = self.state
        if ckpt is None and self.rank == 0:
            (self.output_dir / LOG).unlink(missing_ok=True)
            (self.output_dir / BEST).unlink(missing_ok=True)
        self._truncate_log(state.step)
        self.ddp = DistributedDataParallel(self.model) if self.world > 1 else None
        self.forward = self.ddp if self.ddp is not None else self.model
        self.model.train()

        evaluating = self.evaluate_fn is not None or self.eval_data is not None
        bar = tqdm(total=args.max_steps, initial=state.step, desc="training", unit="step",
                   disable=not args.progress or self.rank != 0)
        window = {"loss": 0.0, "tokens": 0, "steps": 0, "start": time.perf_counter()}
        clock, batches, batches_epoch = time.perf_counter(), [], None
        while state.step < args.max_steps and state.stop_reason == "max_steps":
            if batches_epoch != state.epoch:
                self.sampler.set_epoch(state.epoch)
                batches, batches_epoch = list(self.sampler), state.epoch
            lr = self.scheduler.get_last_lr()[0]
            where = f"epoch {state.epoch}, batch {state.next_batch}"
            loss, grad_norm, tokens = self._step(batches[state.next_batch], state.step + 1, where)
            state.step += 1
            state.next_batch += 1
            if state.next_batch == len(batches):
                state.epoch, state.next_batch = state.epoch + 1, 0
            now = time.perf_counter()
            state.wall_s, clock = state.wall_s + now - clock, now
            step = state.step
            window = {**window, "loss": window["loss"] + loss, "tokens": window["tokens"] + tokens,
                      "steps": window["steps"] + 1}
            bar.update(1)
            if args.max_time_s is not None and step < args.max_steps and self._out_of_time(state.wall_s):
                state.stop_reason = "time_limit"
            last = step == args.max_steps or state.stop_reason != "max_steps"
            if step % args.log_every == 0 or last:
                record = {"kind": "train", "step": step, "epoch": state.epoch, "loss": window["loss"] / window["steps"],
                          "lr": lr, "grad_norm": grad_norm, "tokens_per_s": window["tokens"] / (now - window["start"]),
                          "elapsed_s": state.wall_s}
                self._log(record)
                bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{lr:.2e}", tok_s=f"{record['tokens_per_s']:.0f}")
                window = {"loss": 0.0, "tokens": 0, "steps": 0, "start": time.perf_counter()}
            if evaluating and ((args.eval_every and step % args.eval_every == 0) or last):
                metrics = self._evaluate(step)
                if args.early_stopping_metric:
                    self._early_stopping(metrics, step)
                clock = time.perf_counter()  # evaluation time is not training time
            if (state.stop_reason != "max_steps" or step == args.max_steps
                    or (args.checkpoint_every and step % args.checkpoint_every == 0)):
                self._checkpoint({"state": dataclasses.asdict(state)})
        bar.close()
        if args.early_stopping_metric and (self.output_dir / BEST).is_file():
            if self.world > 1:
                dist.barrier()
            self.model.load_state_dict(torch.load(self.output_dir / BEST, map_location=self.device))
        self._log({"kind": "end", "step": state.step, "reason": state.stop_reason, "wall_s": state.wall_s})
        train_loss = next((r["loss"] for r in reversed(read_log(self.output_dir / LOG)) if r["kind"] == "train"),
                          float("nan")) if self.rank == 0 else float("nan")
        return TrainResult(steps=state.step, stop_reason=state.stop_reason, train_loss=train_loss,
                           best_metric=state.best_metric, best_step=state.best_step, wall_s=state.wall_s,
                           log_path=self.output_dir / LOG)
