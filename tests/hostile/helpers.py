"""Shared pieces of the hostile-input suite: a snapshot of a folder (to assert that a refused input changed
nothing on disk) and a way to edit one key of a JSON file; the tiny model is tests.support.models'."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any



def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root` (hidden ones too) with a hash of its bytes, or '<dir>' / '-> target'."""
    out = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = f"-> {path.readlink()}"
        elif path.is_dir():
            out[rel] = "<dir>"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def set_key(data: dict, dotted: str, value: Any) -> dict:
    """data with `a.b.c` set to value (a copy); value DELETE removes the key."""
    data = json.loads(json.dumps(data))
    *parents, leaf = dotted.split(".")
    target = data
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return data


DELETE = object()
