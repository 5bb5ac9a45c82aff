"""`datasets`' progress bars (map, filter, save) switched off for a block, where a caller asked for quiet."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import datasets


@contextmanager
def datasets_progress(enabled: bool) -> Iterator[None]:
    """Within the block, `datasets` shows its progress bars only if `enabled`; the global setting is restored
    after it."""
    was_enabled = not datasets.utils.are_progress_bars_disabled()
    if not enabled:
        datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled and not enabled:
            datasets.utils.enable_progress_bars()
