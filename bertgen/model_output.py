"""`ModelOutput`: transformers' output contract, shared by the models' outputs (bertgen.modeling.outputs) and
generate's (bertgen.generation.search). An output is a dataclass that also reads like a dict of the fields that are
set: `out.logits`, `out["logits"]` and `out[0]` (the first field that is not None) all work, `"attentions" in out`
is False unless they were asked for, and `out.to_tuple()` is what `return_dict=False` returns.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator


class ModelOutput:
    """Dict-like access to a dataclass's fields that are not None (transformers' ModelOutput contract)."""

    def _set(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    def keys(self):
        return self._set().keys()

    def values(self):
        return self._set().values()

    def items(self):
        return self._set().items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._set().get(key, default)

    def to_tuple(self) -> tuple:
        return tuple(self._set().values())

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            fields = self._set()
            if key not in fields:
                names = [f.name for f in dataclasses.fields(self)]
                why = "is None in this output" if key in names else f"is not a field ({', '.join(names)})"
                raise KeyError(f"{type(self).__name__}: '{key}' {why}")
            return fields[key]
        return self.to_tuple()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._set()

    def __iter__(self) -> Iterator[str]:
        return iter(self._set())

    def __len__(self) -> int:
        return len(self._set())
