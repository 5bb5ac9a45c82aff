"""Checkpoints in the Hugging Face layout: `config.json` plus `model.safetensors`, `pytorch_model.bin`, or
shards listed in `*.index.json`. Keys are transformers' keys, so no mapping table is needed.

Loading is strict: every parameter of the model must come from the file (tied names count once), every
tensor in the file must land somewhere, and shapes must agree; anything else is an error that names the
file and the key. Nothing is unpickled: `.bin` files are read with `torch.load(weights_only=True)`, and
shard names in an index must stay inside the checkpoint's folder.

Saving writes the whole checkpoint into a directory beside the old one and swaps it in
(`fileio.replace_directory`); loading reads again if the directory was swapped meanwhile
(`fileio.read_consistently`). A reader sees the old checkpoint or the new one, never a mix, and a save
that fails half-way leaves the old one intact.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import pickle
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bertgen.config import CONFIG_NAME, read_json_object
from bertgen.fileio import read_consistently, write_json_atomic
from bertgen.generation import GenerationConfig
from bertgen.generation.config import GENERATION_CONFIG_NAME
from bertgen.hub import resolve_checkpoint_dir

SAFE_WEIGHTS = "model.safetensors"
TORCH_WEIGHTS = "pytorch_model.bin"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Buffers older transformers versions saved; they hold no learned values (positions are arange, GPT-2's
# attn.bias / masked_bias its causal mask).
IGNORED_KEYS = re.compile(r"(^|\.)(embeddings\.position_ids|(attn|crossattention)\.(masked_)?bias)$")


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model: the message names the file and the key."""


# --------------------------------------------------------------------------------------------------- reading

def _load_file(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weight file is missing; re-download or re-save the checkpoint")
    try:
        if path.suffix == ".safetensors":
            state = load_file(path)
        else:  # weights_only: a pickle that would run code or build other objects is refused
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: cannot read weights, the file is truncated or corrupt ({type(err).__name__}: {err}); "
            "re-download or re-save it"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not a mapping of tensor names to tensors; "
                              "it is not a model's weights")
    if not state:
        raise CheckpointError(f"{path}: holds no tensors; re-download or re-save the checkpoint")
    return state


def _load_sharded(index_path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Path]]:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, RecursionError) as err:
        raise CheckpointError(f"{index_path}: not a shard index (needs a 'weight_map' object): {err}") from err
    if not isinstance(weight_map, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in weight_map.items()):
        raise CheckpointError(f"{index_path}: 'weight_map' must map tensor names (str) to shard file names (str); "
                              "re-save the checkpoint")
    state, origin = {}, {}
    for shard in sorted(set(weight_map.values())):
        shard_path = _inside(index_path.parent, shard, index_path)
        if not shard_path.is_file():
            raise FileNotFoundError(f"{shard_path}: shard listed in {index_path.name} is missing")
        tensors = _load_file(shard_path)
        for key, tensor in tensors.items():
            state[key], origin[key] = tensor, shard_path
    listed_missing = sorted(k for k, f in weight_map.items() if k not in state)
    if listed_missing:
        raise CheckpointError(f"{index_path}: keys listed in the index are absent from their shards: {listed_missing[:5]}")
    return state, origin


def _inside(directory: Path, name: str, index_path: Path) -> Path:
    """A shard named in an index, refused unless it is a file name inside the checkpoint's own folder: an
    index must not make a loader read weights from elsewhere ('../', absolute paths, links out)."""
    path = directory / name
    if (not name or Path(name).is_absolute() or ".." in Path(name).parts or "\\" in name
            or not path.resolve().is_relative_to(directory.resolve())):
        raise CheckpointError(f"{index_path}: weight_map names the shard {name!r}, which is outside the checkpoint "
                              f"folder {directory}; shards must be files inside it. Do not load this checkpoint "
                              "unless you trust its source; re-save it")
    return path


@dataclasses.dataclass(eq=False)  # tensors inside: identity is the only meaningful equality
class CheckpointFiles:
    """One read of a checkpoint directory, all from one version of it: what `from_pretrained` builds a model from."""

    directory: Path
    config: Any  # what the model class's reader made of config.json (bertgen.modeling.pretrained_model)
    state: dict[str, torch.Tensor]  # every tensor under its key in the files
    origin: dict[str, Path]  # key -> the file it came from, for error messages
    generation_config: GenerationConfig | None  # generation_config.json's, None where there is none

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_NAME


def read_config_json(directory: Path) -> dict[str, Any]:
    """config.json's contents, read before the layout is known (BertGeneration's, BERT's, RoBERTa's, GPT-2's)."""
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(f"{directory}: no {CONFIG_NAME}; a checkpoint directory needs the config that "
                                "describes its weights")
    return read_json_object(config_path, "restore it from the checkpoint's source")


def read_checkpoint(path_or_id: str | os.PathLike, read_config: Callable[[Path], Any]) -> CheckpointFiles:
    """Resolve a checkpoint (a directory, a packaged name, a hub id) and read it once: its config with
    `read_config(directory)` (first, so that a bad config.json is reported before the weights are read), its
    weights and its generation_config.json; all again if a writer swapped the directory meanwhile."""
    directory = resolve_checkpoint_dir(path_or_id)

    def read() -> CheckpointFiles:
        config = read_config(directory)
        state, origin = read_state_dict(directory)
        generation = GenerationConfig.from_pretrained(directory) \
            if (directory / GENERATION_CONFIG_NAME).is_file() else None
        return CheckpointFiles(directory, config, state, origin, generation)

    return read_consistently(directory, read)


def read_state_dict(directory: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Path]]:
    """All tensors of an HF-layout checkpoint directory, and the file each key came from."""
    directory = Path(directory)
    for name in (SAFE_WEIGHTS + ".index.json", TORCH_WEIGHTS + ".index.json"):
        if (directory / name).is_file():
            return _load_sharded(directory / name)
    for name in (SAFE_WEIGHTS, TORCH_WEIGHTS):
        if (directory / name).is_file():
            state = _load_file(directory / name)
            return state, {key: directory / name for key in state}
    raise FileNotFoundError(
        f"{directory}: no weights found (looked for {SAFE_WEIGHTS}, {TORCH_WEIGHTS} and their .index.json "
        "shard indexes); is this a checkpoint directory?"
    )


# ---------------------------------------------------------------------------------------------- into a model

def tied_groups(module: torch.nn.Module) -> list[list[str]]:
    """State-dict names grouped by the tensor they share (one group per distinct tensor)."""
    groups: dict[int, list[str]] = {}
    for name, tensor in module.state_dict(keep_vars=True).items():
        groups.setdefault(id(tensor), []).append(name)
    return list(groups.values())


def load_state_dict_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], origin: dict[str, Path],
                           allow_missing: Iterable[str] = ()) -> list[str]:
    """Copy `state` into `module`, refusing anything that does not fit. Returns the names left as they were
    (only those matching an `allow_missing` regex may be; every other missing name is an error)."""
    allow = [re.compile(pattern) for pattern in allow_missing]
    params = module.state_dict(keep_vars=True)
    where = lambda key: origin.get(key, "checkpoint")  # noqa: E731
    unexpected = sorted(k for k in state if k not in params and not IGNORED_KEYS.search(k))
    if unexpected:
        raise CheckpointError(
            f"{where(unexpected[0])}: {len(unexpected)} key(s) the model does not have, e.g. {unexpected[:3]}; "
            "is this checkpoint for a different architecture or config?"
        )
    missing, kept = [], []
    with torch.no_grad():
        for names in tied_groups(module):
            present = [n for n in names if n in state]
            if not present:
                (kept if all(any(p.search(n) for p in allow) for n in names) else missing).extend(names)
                continue
            first = state[present[0]]
            for other in present[1:]:
                if state[other].shape != first.shape or not torch.equal(state[other], first):
                    raise CheckpointError(
                        f"{where(other)}: '{present[0]}' and '{other}' are one shared tensor in this model but "
                        "differ in the checkpoint; load it without sharing (e.g. tie_encoder_decoder=False)"
                    )
            target = params[names[0]]
            if first.is_floating_point() != target.is_floating_point() or first.is_complex():
                raise CheckpointError(
                    f"{where(present[0])}: key '{present[0]}' holds {str(first.dtype).removeprefix('torch.')} "
                    f"values but the model keeps {str(target.dtype).removeprefix('torch.')} there; the file was not "
                    "written from this kind of model (or was tampered with); re-save it from the source model"
                )
            if target.shape != first.shape:
                raise CheckpointError(
                    f"{where(present[0])}: key '{present[0]}' has shape {tuple(first.shape)} but the model "
                    f"expects {tuple(target.shape)}; the config.json does not match these weights"
                )
            target.copy_(first)
    if missing:
        raise CheckpointError(
            f"{where(next(iter(state), ''))}: {len(missing)} parameter(s) missing from the checkpoint, e.g. "
            f"{missing[:3]}; nothing is randomly initialized unless asked for"
        )
    return kept


# ------------------------------------------------------------------------------------------------- writing

def parse_shard_size(size: int | str) -> int:
    if isinstance(size, int) and not isinstance(size, bool):
        if size < 1:
            raise ValueError(f"max_shard_size {size}: must be a positive number of bytes, e.g. '500MB'")
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\s*", size.upper()) if isinstance(size, str) else None
    if not match or float(match[1]) <= 0:
        raise ValueError(f"max_shard_size {size!r}: expected bytes or a size like '500MB' or '5GB'")
    return int(float(match[1]) * {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}[match[2]])


def exportable_state_dict(module: torch.nn.Module, drop: Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """The state dict with every name holding its own contiguous tensor (safetensors refuses shared
    storage, and transformers wants full tensors under each name it does not tie itself)."""
    drop = [re.compile(p) for p in drop]
    out, seen = {}, set()
    for name, tensor in module.state_dict().items():
        if any(p.search(name) for p in drop):
            continue
        tensor = tensor.detach()
        key = tensor.data_ptr()
        out[name] = tensor.clone().contiguous() if key in seen else tensor.contiguous()
        seen.add(key)
    return out


def write_state_dict(state: dict[str, torch.Tensor], directory: Path, safe_serialization: bool = True,
                     max_shard_size: int | str = "5GB") -> list[Path]:
    """Write `state` as one file or as shards plus an index into `directory` (a fresh staging directory:
    `save_pretrained` swaps it in whole); returns the files written."""
    limit = parse_shard_size(max_shard_size)
    base = SAFE_WEIGHTS if safe_serialization else TORCH_WEIGHTS
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes

    def dump(tensors, path):
        if safe_serialization:
            save_file(tensors, path, metadata={"format": "pt"})
        else:
            torch.save(tensors, path)

    stem, ext = base.rsplit(".", 1)
    if len(shards) == 1:
        dump(shards[0], directory / base)
        return [directory / base]
    written, weight_map = [], {}
    for i, tensors in enumerate(shards, start=1):
        name = f"{stem}-{i:05d}-of-{len(shards):05d}.{ext}"
        dump(tensors, directory / name)
        written.append(directory / name)
        weight_map.update({key: name for key in tensors})
    total = sum(t.numel() * t.element_size() for t in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    index_path = directory / f"{base}.index.json"
    write_json_atomic(index_path, index)
    return written + [index_path]


def is_weight_file(name: str) -> bool:
    return re.fullmatch(r"(model|pytorch_model)(-\d{5}-of-\d{5})?\.(safetensors|bin)(\.index\.json)?", name) is not None


# --------------------------------------------------------------------------------- loading arguments

def resolve_dtype(dtype: str | torch.dtype, config_extra: dict, state: dict[str, torch.Tensor]) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        stated = config_extra.get("dtype") or config_extra.get("torch_dtype")
        if stated in DTYPES:
            return DTYPES[stated]
        floats = [t.dtype for t in state.values() if t.is_floating_point()]
        return floats[0] if floats else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: expected 'auto', {', '.join(DTYPES)} or a torch.dtype")
    return DTYPES[dtype]


def resolve_config_argument(cls: type, config: Any) -> Any:
    """`from_pretrained(..., config=...)`: a config object of the model's class (copied: the model must not
    share it with the caller), or a directory or config.json path to read one from; None: the checkpoint's."""
    if config is None:
        return None
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        return cls.config_class.from_json_file(path if path.suffix == ".json" else path / "config.json")
    if not isinstance(config, cls.config_class):
        raise TypeError(f"{cls.__name__}.from_pretrained: config= must be a {cls.config_class.__name__} (or a "
                        f"directory holding its config.json), got {type(config).__name__}; build it with "
                        f"{cls.config_class.__name__}.from_pretrained(path)")
    return copy.deepcopy(config)
