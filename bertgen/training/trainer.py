"""Trainer: AdamW, the paper's schedule, accumulation, clipping, bf16 autocast, evaluation and early stopping,
atomic checkpoints that resume bit for bit, and DistributedDataParallel under `torchrun`.

One optimizer step consumes one *global batch* of `batch_size` examples: the length-bucketed sampler deals
global batches (the same list on every process), and each is cut into `world_size x accumulation` equal
micro-batches. The loss of a step is the mean over every label token of the global batch, however it is cut,
so N processes, or N accumulation steps, follow the same loss curve as one process with the whole batch.

Resuming: `output_dir/checkpoint/` holds the model, optimizer, scheduler, each process's RNG states, the
data position (epoch, next batch), the early-stopping state, the arguments and the training set's fingerprint,
as safetensors and JSON (training/state.py: nothing is unpickled). It is written whole beside the old one and
swapped in, so a run killed at any moment leaves the last complete checkpoint, and `train(resume=True)`
continues from it to the same final weights as a run never interrupted. A resume with other arguments (see
RESUME_IGNORES), another training set or another model is refused with the differences listed, unless
`train(allow_changes=True)`.

Shapes: B micro-batch, S source length, T target length.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from bertgen.fast.bf16 import autocast_bf16_via_fp32, emulates_bf16
from bertgen.fast.cpu import cpu_flags
from bertgen.data.collate import LABEL_PAD, LengthBucketSampler, Seq2SeqCollator, model_columns
from bertgen.evaluation.losses import token_loss
from bertgen.fileio import clean_leftovers
from bertgen.modeling.outputs import loss_of
from bertgen.training import schedules
from bertgen.fast.memory import keep_freed_memory
from bertgen.training.arguments import PRECISIONS, TrainingArguments, check_training_data  # noqa: F401 (re-exported)
from bertgen.training.state import (CHECKPOINT_DIR, CheckpointMismatch, check_model_fits, dataset_fingerprint,
                                    differences, load_checkpoint, read_log, rng_state, save_atomic, save_checkpoint,
                                    set_rng_state)

CHECKPOINT = CHECKPOINT_DIR
BEST = "best.safetensors"
LOG = "log.jsonl"
# Arguments a resumed run may change: they do not alter what is trained (where, how often it logs or saves,
# when it stops for time). Any other difference is refused unless train(allow_changes=True).
RESUME_IGNORES = ("output_dir", "progress", "log_every", "checkpoint_every", "max_time_s", "eval_every")


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm became NaN or infinite; the weights were not updated with it."""


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
    precision: str = "fp32"  # what the steps ran in: fp32, or bf16 autocast


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


def _peak_rss_mb() -> float | None:
    """The process's peak resident memory so far, logged with the training records so that a long run's memory
    growth shows in its log; None where the platform has no `resource` module (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # macOS reports bytes, Linux KiB


def improves(metric: str, value: float, best: float | None) -> bool:
    """Early stopping's test: a first value, or one past the best so far (lower for a loss, higher otherwise)."""
    return best is None or (value < best if metric.endswith("loss") else value > best)


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto`: bf16 autocast on GPUs that support it and on CPUs with AMX tiles, where bf16 matmul outruns fp32;
    fp32 elsewhere. AVX512-BF16 alone is not enough: on such a CPU (no AMX) oneDNN's bf16 matmul runs slower than
    fp32, and so does a bf16-autocast training step (benchmarks/bench_training.py measures both)."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_amx_bf16() else "fp32"


def cpu_has_amx_bf16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """Whether `cpuinfo` lists AMX bf16 tiles (`amx_bf16`): the CPUs where bf16 autocast trains faster."""
    return "amx_bf16" in cpu_flags(cpuinfo)


# an evaluate= callback: (model, step) -> metrics to log
Evaluate = Callable[[torch.nn.Module, int], dict[str, float]]


# -------------------------------------------------------------------------------------------------- trainer

class Trainer:
    """Train an EncoderDecoderModel (or any module whose forward takes input_ids, attention_mask, labels and
    returns `.loss`) on a tokenized dataset with `input_ids` and `labels` columns (`length` optional).

    evaluate: callbacks `fn(model, step) -> {metric: value}` (one, or a list), e.g. generation metrics on a
        validation slice or bertgen.evaluation.SourceReading; called on rank 0 every `eval_every` steps and at the
        end, with the unwrapped model in eval mode. What they return is logged; a warning they raise is logged
        with the step, then raised. One marked `teacher_forced` (SourceReading) runs in the training precision, as
        `val_loss`; the others (decoding) in the model's dtype, as the test set is decoded.
    eval_dataset: tokenized validation examples; their token-mean loss is logged as `val_loss`.

    tokenizer: saved into each checkpoint folder, which is then a model folder that from_pretrained,
        load_tokenizer and the pipeline load (as transformers' checkpoint-N/).

    On CPU it makes glibc keep freed memory for reuse, for the whole process (bertgen.fast.memory: large per-step
    tensors are not faulted in again each step; the heap stays at its peak); BERTGEN_KEEP_FREED_MEMORY=0 ends that.
    """

    def __init__(self, model: torch.nn.Module, args: TrainingArguments, train_dataset, pad_token_id: int,
                 evaluate: Evaluate | Sequence[Evaluate] | None = None, eval_dataset=None,
                 new_parameters: Iterable[str] = (), tokenizer=None):
        self.args = args
        self.tokenizer = tokenizer
        self.new_parameters = frozenset(new_parameters)
        unknown = self.new_parameters - {name for name, _ in model.named_parameters(remove_duplicate=False)}
        if unknown:
            raise ValueError(f"Trainer: new_parameters names {len(unknown)} parameter(s) the model does not have, "
                             f"e.g. {sorted(unknown)[0]!r}; pass names from model.named_parameters() (a "
                             "WarmStartReport's new_names)")
        self.rank, self.world, local_rank = distributed_context()
        self.device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device)
        self.model.fused_loss = True  # bertgen models: the training loss without the logits (bertgen.loss)
        if self.device.type == "cpu":
            keep_freed_memory()  # large per-step tensors reused, not faulted in again each step
        self.precision = resolve_precision(args.precision, self.device)
        self._bf16_via_fp32 = self.precision == "bf16" and emulates_bf16(self.device)
        self.collate = Seq2SeqCollator(pad_token_id)
        self.callbacks = [] if evaluate is None else [evaluate] if callable(evaluate) else list(evaluate)
        self.data = train_dataset.select_columns(model_columns(train_dataset))
        self.eval_data = eval_dataset.select_columns(model_columns(eval_dataset)) if eval_dataset is not None else None
        check_training_data(self.data, model)
        if self.eval_data is not None:
            check_training_data(self.eval_data, model, where="eval_dataset")
        # the loss is a mean over labelled tokens: a dataset padded to max_length carries -100 it must not count
        self.label_lengths = [sum(1 for t in x if t != LABEL_PAD) for x in self.data["labels"]]
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
        self._dataset_fingerprint: str | None = None

    # ------------------------------------------------------------------------------------------ plumbing

    def _autocast(self):
        """bf16 autocast where the precision says so; on a CPU without bfloat16 instructions, its matmuls run as
        float32 GEMMs of the bfloat16-rounded operands (the same products: bertgen.fast.bf16)."""
        if self._bf16_via_fp32:
            return autocast_bf16_via_fp32()
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def _batch(self, data, indices: list[int]) -> dict[str, torch.Tensor]:
        rows = data[indices]
        features = [dict(zip(rows, values)) for values in zip(*rows.values())]
        return {k: v.to(self.device) for k, v in self.collate(features).items()}

    def _optimizer(self) -> torch.optim.Optimizer:
        """AdamW; no weight decay on biases and LayerNorm weights (the 1-D parameters), as BERT; the
        `new_parameters` at `new_parameters_lr_multiplier` times the learning rate (their own groups)."""
        a = self.args
        new = {id(p) for name, p in self.model.named_parameters(remove_duplicate=False) if name in self.new_parameters}
        params = [p for p in self.model.parameters() if p.requires_grad]
        groups = []
        for is_new, scale in ((False, 1.0), (True, a.new_parameters_lr_multiplier)):
            members = [p for p in params if (id(p) in new) == is_new]
            groups += [{"params": [p for p in members if p.dim() >= 2], "weight_decay": a.weight_decay,
                        "lr": a.learning_rate * scale},
                       {"params": [p for p in members if p.dim() < 2], "weight_decay": 0.0, "lr": a.learning_rate * scale}]
        # fused: one kernel per parameter group instead of a chain of foreach ops (measured in bench_training)
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=a.learning_rate,
                                 betas=(a.adam_beta1, a.adam_beta2), eps=a.adam_epsilon,
                                 fused=self.device.type in ("cpu", "cuda"))

    def _hidden_size(self) -> int:
        config = getattr(self.model, "config", None)
        config = getattr(config, "decoder", config)
        return getattr(config, "hidden_size", 1)

    def _log(self, record: dict) -> None:
        if self.rank == 0:
            with open(self.output_dir / LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _fingerprint(self) -> str:
        if self._dataset_fingerprint is None:
            self._dataset_fingerprint = dataset_fingerprint(self.data["input_ids"], self.data["labels"])
        return self._dataset_fingerprint

    def _model_files(self, folder: Path) -> None:
        """What makes the checkpoint folder loadable with from_pretrained, beside its model.safetensors."""
        if hasattr(self.model, "save_config_files"):
            self.model.save_config_files(folder)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(folder)

    def _checkpoint(self) -> None:
        """All processes' RNG states go into rank 0's checkpoint; everything else is identical across processes."""
        rngs = [None] * self.world
        if self.world > 1:
            dist.all_gather_object(rngs, rng_state())
        else:
            rngs[0] = rng_state()
        if self.rank == 0:
            meta = {"state": dataclasses.asdict(self.state), "args": dataclasses.asdict(self.args),
                    "world_size": self.world, "dataset": self._fingerprint()}
            save_checkpoint(self.output_dir, model_state=self.model.state_dict(),
                            optimizer_state=self.optimizer.state_dict(), scheduler_state=self.scheduler.state_dict(),
                            rngs=rngs, meta=meta, model_files=self._model_files)
        if self.world > 1:
            dist.barrier()

    def _resume(self, allow_changes: bool) -> dict | None:
        ckpt = load_checkpoint(self.output_dir)
        if ckpt is None:
            return None
        path, meta = self.output_dir / CHECKPOINT, ckpt["meta"]
        if meta["world_size"] != self.world:
            raise CheckpointMismatch(f"{path}: written with world_size={meta['world_size']}, this run has "
                                     f"{self.world}; resume with the same number of processes, or use a fresh "
                                     "output_dir")
        # "auto" compared as what it picks here: a run begun under auto on an AMX CPU (bf16) resumes under bf16
        saved, current = dict(meta["args"]), dataclasses.asdict(self.args)
        for args in (saved, current):
            args["precision"] = resolve_precision(args.get("precision", "fp32"), self.device)
        changed = differences(saved, current, RESUME_IGNORES)
        if meta["dataset"] != self._fingerprint():
            changed.append(f"training set: fingerprint {meta['dataset']} -> {self._fingerprint()}")
        if changed and not allow_changes:
            raise CheckpointMismatch(f"{path}: this run differs from the one that wrote the checkpoint in "
                                     f"{'; '.join(changed)}. Resume with the same settings and data, pass "
                                     "train(allow_changes=True) to continue with the new ones, or use a fresh "
                                     "output_dir")
        check_model_fits(ckpt["model"], self.model, path / "model.safetensors")
        if len(ckpt["rng"]) != self.world or "torch" not in ckpt["rng"][self.rank][0]:
            raise ValueError(f"{path / 'rng.safetensors'}: holds no generator state for rank {self.rank}; the "
                             f"checkpoint is damaged, delete {path} to start over")
        try:
            self.state = TrainState(**meta["state"])
        except TypeError as err:
            raise ValueError(f"{path / 'trainer_state.json'}: key 'state' does not fit TrainState ({err}); "
                             f"delete {path} to start over") from err
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(*ckpt["rng"][self.rank])
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
                for callback in self.callbacks:
                    teacher_forced = getattr(callback, "teacher_forced", False)
                    precision = self._autocast() if teacher_forced else contextlib.nullcontext()
                    with precision, warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        result.update(callback(self.model, step))
                    for warning in caught:  # in the log with its step, then to the caller
                        self._log({"kind": "warning", "step": step, "message": str(warning.message)})
                        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
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
                    loss = loss_of(self.forward(**batch))  # mean over this micro-batch's n label tokens
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
        # fused AdamW writes the weights without bumping their version counters: bump them, or anything keyed on
        # them (the packed-weight caches of bertgen.fast) would decode with stale weights
        torch.autograd.graph.increment_version(self._trainable)
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return mean_loss, grad_norm, int(stats[1])

    def _diverged(self, what: str, value: float, step: int, position: str) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        ckpt = self.output_dir / CHECKPOINT
        kept = f"the last good checkpoint is {ckpt}" if ckpt.is_dir() else "no checkpoint was written yet"
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
        """Track the best value of the chosen metric, keep its weights in best.safetensors, stop after `patience` misses."""
        metric, state = self.args.early_stopping_metric, self.state
        if metric not in metrics:
            raise ValueError(f"early_stopping_metric {metric!r} is not among the evaluation's metrics "
                             f"({', '.join(metrics) or 'none: pass evaluate= or eval_dataset='})")
        value = metrics[metric]
        if improves(metric, value, state.best_metric):
            state.best_metric, state.best_step, state.evaluations_without_improvement = value, step, 0
            if self.rank == 0:
                save_atomic(self.model.state_dict(), self.output_dir / BEST)
        else:
            state.evaluations_without_improvement += 1
            if (self.args.early_stopping_patience
                    and state.evaluations_without_improvement >= self.args.early_stopping_patience):
                state.stop_reason = "early_stopping"

    def train(self, resume: bool = True, allow_changes: bool = False) -> TrainResult:
        """Train to `max_steps` (or an early stop), continuing from output_dir's checkpoint when `resume`.
        A checkpoint written with other arguments or data is refused unless `allow_changes`."""
        args = self.args
        if self.rank == 0:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            clean_leftovers(self.output_dir)  # temporary files of a run killed while writing
        if self.world > 1:
            dist.barrier()
        # Dropout masks differ per process; model init is rank 0's (DDP broadcasts it).
        torch.manual_seed(args.seed + self.rank)
        random.seed(args.seed + self.rank)
        np.random.seed(args.seed + self.rank)
        self.optimizer = self._optimizer()
        self._trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.scheduler = schedules.scheduler(self.optimizer, args.schedule, args.warmup_steps, args.max_steps,
                                             self._hidden_size())
        self.state = TrainState()
        ckpt = self._resume(allow_changes) if resume else None
        state = self.state
        if ckpt is None and self.rank == 0:
            (self.output_dir / LOG).unlink(missing_ok=True)
            (self.output_dir / BEST).unlink(missing_ok=True)
        self._truncate_log(state.step)
        self.ddp = DistributedDataParallel(self.model) if self.world > 1 else None
        self.forward = self.ddp if self.ddp is not None else self.model
        self.model.train()

        evaluating = bool(self.callbacks) or self.eval_data is not None
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
                          "elapsed_s": state.wall_s, "peak_rss_mb": _peak_rss_mb()}
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
                self._checkpoint()
        bar.close()
        if args.early_stopping_metric and (self.output_dir / BEST).is_file():
            if self.world > 1:
                dist.barrier()
            self.model.load_state_dict(load_file(self.output_dir / BEST, device=str(self.device)))
        self._log({"kind": "end", "step": state.step, "reason": state.stop_reason, "wall_s": state.wall_s})
        train_loss = next((r["loss"] for r in reversed(read_log(self.output_dir / LOG)) if r["kind"] == "train"),
                          float("nan")) if self.rank == 0 else float("nan")
        return TrainResult(steps=state.step, stop_reason=state.stop_reason, train_loss=train_loss,
                           best_metric=state.best_metric, best_step=state.best_step, wall_s=state.wall_s,
                           log_path=self.output_dir / LOG, precision=self.precision)
