"""Where a checkpoint lives: a local directory, or a hub id downloaded where there is a network."""
from __future__ import annotations

import os
from pathlib import Path


def resolve_checkpoint_dir(name_or_path: str | os.PathLike) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(f"{path}: a checkpoint is a directory (config.json + weights), not a file")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(name_or_path)))
    except Exception as err:  # offline, unknown repo, no permission: all end here
        raise FileNotFoundError(
            f"{name_or_path!r} is not a local directory and could not be fetched from the Hugging Face hub "
            f"({type(err).__name__}); download it where there is a network and pass the local directory"
        ) from err
