"""Where bertgen keeps what it fetches and builds: `$BERTGEN_HOME`, default `~/.cache/bertgen` (raw corpora, built
tasks, the tagger, experiment checkpoints, the teaching model)."""
from __future__ import annotations

import os
from pathlib import Path


def bertgen_home() -> Path:
    """`$BERTGEN_HOME`, default `~/.cache/bertgen`: every cache and download lives under it."""
    return Path(os.environ.get("BERTGEN_HOME") or Path.home() / ".cache" / "bertgen").expanduser()
