"""The Trainer's resumable checkpoint, without pickle: tensors in safetensors files, everything else in JSON.

    output_dir/checkpoint/model.safetensors        the model's state dict (shared tensors stored per name)
                          optimizer.safetensors    the optimizer's tensors (AdamW's step, exp_avg, exp_avg_sq)
                          rng.safetensors          each process's torch (and CUDA) generator state
                          trainer_state.json       TrainState, TrainingArguments, the dataset's fingerprint,
                                                   world size, scheduler state, optimizer hyperparameters,
                                                   Python's and NumPy's generator states

Nothing here is unpickled, so a checkpoint received from someone else cannot run code when resumed. The
directory is written whole beside the old one and swapped in (`fileio.replace_directory`): a kill at any
moment leaves the previous checkpoint, and its leftovers are removed by the next run.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bertgen.config import ConfigError, read_json_object
from bertgen.fileio import atomic_write, replace_directory

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "trainer_state.json"
FORMAT = 1
LEGACY_CHECKPOINT = "checkpoint.pt"  # bertgen < 0.2 pickled everything into one file; never loaded


class CheckpointMismatch(ValueError):
    """Resuming with settings, data or a model that differ from the checkpoint's: the message lists them."""


# ---------------------------------------------------------------------------------------------- fingerprint

def dataset_fingerprint(input_ids: list, labels: list) -> str:
    """sha256 of the token ids and row lengths of both columns: a changed, reordered or resized training set
    gives another fingerprint."""
    h = hashlib.sha256()
    for column in (input_ids, labels):
        lengths = np.fromiter((len(row) for row in column), dtype=np.int64, count=len(column))
        h.update(lengths.tobytes())
        if len(column):
            h.update(np.concatenate([np.asarray(row, dtype=np.int64) for row in column] or [[]]).tobytes())
    return h.hexdigest()[:16]


# -------------------------------------------------------------------------------------------- rng to JSON

def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's generator states: (tensors, JSON values)."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    values = {"python": [version, list(internal), gauss], "numpy": [name, keys.tolist(), pos, has_gauss, cached]}
    return tensors, values


def set_rng_state(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    version, internal, gauss = values["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = values["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    cuda = [tensors[f"cuda.{i}"] for i in range(len(tensors)) if f"cuda.{i}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


# ------------------------------------------------------------------------------------------------ writing

def _optimizer_split(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, layout = {}, {}
    for param, entries in state_dict["state"].items():
        layout[str(param)] = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param}.{name}"] = value.detach().contiguous().cpu()
                layout[str(param)][name] = "tensor"
            else:
                layout[str(param)][name] = {"value": value}
    return tensors, {"param_groups": state_dict["param_groups"], "state": layout}


def exportable(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses names that share storage (tied weights): each name gets its own copy."""
    out, seen = {}, set()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu()
        out[name] = tensor.clone().contiguous() if tensor.data_ptr() in seen else tensor.contiguous()
        seen.add(tensor.data_ptr())
    return out


def save_atomic(state: dict[str, torch.Tensor], path: Path) -> None:
    """A state dict as safetensors through fileio.atomic_write: never a half-written file, never a pickle."""
    atomic_write(path, lambda tmp: save_file(exportable(state), tmp))


def read_log(path: str | os.PathLike) -> list[dict]:
    """The records of a run's log.jsonl (a line cut short by a kill is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def save_checkpoint(output_dir: Path, *, model_state: dict, optimizer_state: dict, scheduler_state: dict,
                    rngs: list[tuple[dict, dict]], meta: dict[str, Any],
                    model_files: Callable[[Path], None] | None = None) -> None:
    """Write `output_dir/checkpoint/` whole (see the module docstring); `meta` goes into trainer_state.json.
    `model_files(folder)` adds what makes the folder a model folder too (config.json, generation config,
    tokenizer), as transformers' checkpoint-N/ is one."""
    optimizer_tensors, optimizer_layout = _optimizer_split(optimizer_state)
    rng_tensors = {f"{rank}.{k}": v for rank, (tensors, _) in enumerate(rngs) for k, v in tensors.items()}
    document = {"format": FORMAT, **meta, "scheduler": scheduler_state, "optimizer": optimizer_layout,
                "rng": [values for _, values in rngs]}
    try:
        text = json.dumps(document, indent=1, allow_nan=False)
    except (TypeError, ValueError) as err:  # e.g. a scheduler holding an object JSON cannot write
        raise TypeError(f"trainer state cannot be written as JSON ({err}); keep schedulers and metrics to "
                        "numbers, strings and lists") from err

    def fill(staging: Path) -> None:
        save_file(exportable(model_state), staging / "model.safetensors", metadata={"format": "pt"})
        if model_files is not None:
            model_files(staging)
        save_file(optimizer_tensors, staging / "optimizer.safetensors")
        save_file(rng_tensors, staging / "rng.safetensors")
        (staging / STATE_FILE).write_text(text + "\n", encoding="utf-8")

    replace_directory(output_dir / CHECKPOINT_DIR, fill)


# ------------------------------------------------------------------------------------------------ reading

def load_checkpoint(output_dir: Path) -> dict[str, Any] | None:
    """The checkpoint in `output_dir` as {"meta", "model", "optimizer", "scheduler", "rng"}; None if there is
    none. A damaged one is a ValueError naming the file; a pickled one (old format) is refused, not loaded."""
    directory = output_dir / CHECKPOINT_DIR
    if not directory.is_dir():
        legacy = output_dir / LEGACY_CHECKPOINT
        if legacy.is_file():
            raise ValueError(f"{legacy}: a pickled checkpoint from an older bertgen. It is not loaded, because "
                             "unpickling a file can run arbitrary code; delete it (or pass resume=False) to start "
                             "over in this output_dir")
        return None
    meta = _read_meta(directory / STATE_FILE)
    model = _tensors(directory / "model.safetensors")
    optimizer = _optimizer_join(_tensors(directory / "optimizer.safetensors"), meta["optimizer"],
                                directory / STATE_FILE)
    rng_flat = _tensors(directory / "rng.safetensors")
    rngs = []
    for rank, values in enumerate(meta["rng"]):
        prefix = f"{rank}."
        rngs.append(({k[len(prefix):]: v for k, v in rng_flat.items() if k.startswith(prefix)}, values))
    return {"meta": meta, "model": model, "optimizer": optimizer, "scheduler": meta["scheduler"], "rng": rngs}


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"{path}: missing; the checkpoint directory is incomplete, delete {path.parent} to start "
                         "over")
    try:
        meta = read_json_object(path, f"delete {path.parent} to start over")
    except ConfigError as err:
        raise ValueError(str(err)) from err
    needed = {"format": int, "state": dict, "args": dict, "world_size": int, "scheduler": dict, "optimizer": dict,
              "rng": list, "dataset": str}
    for key, kind in needed.items():
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ValueError(f"{path}: key '{key}' must be a {kind.__name__}, got {meta.get(key)!r:.60}; the "
                             f"file is damaged, delete {path.parent} to start over")
    if meta["format"] != FORMAT:
        raise ValueError(f"{path}: checkpoint format {meta['format']}, this bertgen reads format {FORMAT}")
    return meta


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: missing; the checkpoint directory is incomplete, delete {path.parent} to start "
                         "over") from None
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read it ({err}); the file is damaged, delete {path.parent} to start "
                         "over") from err


def _optimizer_join(tensors: dict[str, torch.Tensor], layout: dict, path: Path) -> dict:
    if not isinstance(layout.get("param_groups"), list) or not isinstance(layout.get("state"), dict):
        raise ValueError(f"{path}: key 'optimizer' needs 'param_groups' and 'state'; delete {path.parent} to "
                         "start over")
    state = {}
    for param, entries in layout["state"].items():
        state[int(param)] = {}
        for name, kind in entries.items():
            if kind == "tensor":
                key = f"{param}.{name}"
                if key not in tensors:
                    raise ValueError(f"{path.parent / 'optimizer.safetensors'}: tensor '{key}' is missing")
                state[int(param)][name] = tensors[key]
            else:
                state[int(param)][name] = kind["value"]
    groups = [{**g, "betas": tuple(g["betas"])} if isinstance(g.get("betas"), list) else g
              for g in layout["param_groups"]]
    return {"state": state, "param_groups": groups}


# ------------------------------------------------------------------------------------------------ resuming

def differences(saved: dict[str, Any], current: dict[str, Any], ignore: tuple[str, ...]) -> list[str]:
    """'name: saved -> current' for every key whose value differs (floats compared exactly)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        if not same:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def check_model_fits(saved: dict[str, torch.Tensor], model: torch.nn.Module, path: Path) -> None:
    """The saved weights must have exactly the model's names and shapes: otherwise it is another model."""
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in saved.items()}
    problems = [f"'{k}' missing from the checkpoint" for k in sorted(set(ours) - set(theirs))]
    problems += [f"'{k}' not in this model" for k in sorted(set(theirs) - set(ours))]
    problems += [f"'{k}' has shape {theirs[k]} in the checkpoint, {ours[k]} here"
                 for k in sorted(set(ours) & set(theirs)) if ours[k] != theirs[k]]
    problems += [f"'{k}' holds {saved[k].dtype} values, the model {v.dtype}" for k, v in model.state_dict().items()
                 if k in saved and saved[k].is_floating_point() != v.is_floating_point()]
    if problems:
        raise CheckpointMismatch(f"{path}: written for a different model ({len(problems)} difference(s): "
                                 f"{'; '.join(problems[:3])}); resume with the model that wrote it, or use a fresh "
                                 "output_dir (or resume=False)")
