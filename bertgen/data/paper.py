"""The paper's datasets through `datasets`: where each lives on the hub and how its fields map to ours.

Every task has columns `source` and `target`; DiscoFuse also keeps `rule` (its `discourse_type`) and
`connective` (its `connective_string`), the same columns as brown-fusion. Where there is no network, the
same mapping runs on local files in the dataset's own schema (`data_files=`), or on a local copy of the
hub repository (`data_files="/path/to/copy"`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets

DataFiles = str | Path | Mapping[str, str | Sequence[str]]
Batch = dict[str, list]

# File name endings -> the `datasets` builder that reads them.
_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".json.gz": "json", ".jsonl.gz": "json",
             ".csv": "csv", ".arrow": "arrow"}


@dataclass(frozen=True)
class HubDataset:
    path: str  # hub repository id
    config: str | None  # configuration (subset) name
    fields: tuple[str, ...]  # the real columns the mapping reads
    to_example: Callable[[Batch], Batch]  # a batch of real rows -> source, target (+ extras)
    revision: str | None = None  # e.g. the parquet conversion branch of a script-only repository

    def describe(self) -> str:
        return self.path + (f" ({self.config})" if self.config else "")


def _join(*columns: list[str]) -> list[str]:
    """Concatenate sentence columns row-wise, e.g. DiscoFuse's first and second sentence."""
    return [" ".join(part.strip() for part in parts if part and part.strip()) for parts in zip(*columns)]


def _discofuse(b: Batch) -> Batch:
    return {"source": _join(b["incoherent_first_sentence"], b["incoherent_second_sentence"]),
            "target": _join(b["coherent_first_sentence"], b["coherent_second_sentence"]),
            "rule": b["discourse_type"], "connective": b["connective_string"]}


def _wiki_split(b: Batch) -> Batch:
    return {"source": b["complex_sentence"], "target": _join(b["simple_sentence_1"], b["simple_sentence_2"])}


def _translation(src: str, tgt: str) -> Callable[[Batch], Batch]:
    def to_example(b: Batch) -> Batch:
        return {"source": [t[src] for t in b["translation"]], "target": [t[tgt] for t in b["translation"]]}
    return to_example


def _columns(src: str, tgt: str) -> Callable[[Batch], Batch]:
    def to_example(b: Batch) -> Batch:
        return {"source": b[src], "target": b[tgt]}
    return to_example


_DISCOFUSE_FIELDS = ("incoherent_first_sentence", "incoherent_second_sentence", "coherent_first_sentence",
                     "coherent_second_sentence", "discourse_type", "connective_string")
_PARQUET = "refs/convert/parquet"  # Gigaword and XSum are loading scripts, which `datasets` no longer runs

HUB = {
    "discofuse-wikipedia": HubDataset("google-research-datasets/discofuse", "discofuse-wikipedia",
                                      _DISCOFUSE_FIELDS, _discofuse),
    "discofuse-sports": HubDataset("google-research-datasets/discofuse", "discofuse-sport", _DISCOFUSE_FIELDS,
                                   _discofuse),
    "wikisplit": HubDataset("google-research-datasets/wiki_split", None,
                            ("complex_sentence", "simple_sentence_1", "simple_sentence_2"), _wiki_split),
    "wmt14-de-en": HubDataset("wmt/wmt14", "de-en", ("translation",), _translation("de", "en")),
    "wmt14-en-de": HubDataset("wmt/wmt14", "de-en", ("translation",), _translation("en", "de")),
    "gigaword": HubDataset("Harvard/gigaword", None, ("document", "summary"), _columns("document", "summary"),
                           revision=_PARQUET),
    "cnn-dailymail": HubDataset("abisee/cnn_dailymail", "3.0.0", ("article", "highlights"),
                                _columns("article", "highlights")),
    "xsum": HubDataset("EdinburghNLP/xsum", None, ("document", "summary"), _columns("document", "summary"),
                       revision=_PARQUET),
}


def _builder(data_files: Mapping) -> str:
    paths = [str(p) for v in data_files.values() for p in ([v] if isinstance(v, (str, Path)) else v)]
    builders = set()
    for p in paths:
        ending = next((e for e in sorted(_BUILDERS, key=len, reverse=True) if p.endswith(e)), None)
        if ending is None:
            raise ValueError(f"data_files: cannot tell the format of {p}; use "
                             f"{', '.join(sorted(_BUILDERS))} files")
        builders.add(_BUILDERS[ending])
    if len(builders) != 1:
        raise ValueError(f"data_files mixes formats ({', '.join(sorted(builders))}); convert them to one")
    return builders.pop()


def _offline_help(name: str, hub: HubDataset) -> str:
    return (f"Offline, copy the data to this machine and point bertgen at it: "
            f"load_task({name!r}, data_files={{'train': '.../train.parquet', 'validation': ..., 'test': ...}}) "
            f"with files in the dataset's own schema (fields {', '.join(hub.fields)}; parquet, json(l) or csv), "
            f"or data_files='/path/to/a/local/copy/of/{hub.path}'. "
            f"(Set HF_HUB_OFFLINE=1 to skip the connection attempts.)")


def load(name: str, data_files: DataFiles | None = None, split: str | None = None) -> datasets.DatasetDict:
    """Load paper task `name` (one split, or all) from the hub or from `data_files`, mapped to source/target."""
    hub = HUB[name]
    if data_files is None:
        try:
            raw = datasets.load_dataset(hub.path, hub.config, revision=hub.revision, split=split)
        except OSError as err:  # ConnectionError offline, FileNotFoundError for a missing repository
            raise FileNotFoundError(f"could not load {hub.describe()} from the Hugging Face hub ({err}). "
                                    + _offline_help(name, hub)) from err
        origin = hub.describe()
    elif isinstance(data_files, (str, Path)):
        local = Path(data_files)
        if not local.is_dir():
            raise FileNotFoundError(f"data_files={str(data_files)!r} is not a directory. " + _offline_help(name, hub))
        if hub.config and (local / hub.config).is_dir():  # hub repositories keep each config in a folder
            local = local / hub.config
        raw = datasets.load_dataset(str(local), split=split)  # splits come from file names (train-*.parquet)
        origin = str(local)
    else:
        data_files = {s: [str(p) for p in ([v] if isinstance(v, (str, Path)) else v)]
                      for s, v in data_files.items() if split is None or s == split}
        if not data_files:
            raise ValueError(f"data_files has no {split!r} entry")
        for path in (p for v in data_files.values() for p in v):
            if not Path(path).exists():
                raise FileNotFoundError(f"data_files: {path} does not exist")
        raw = datasets.load_dataset(_builder(data_files), data_files=data_files, split=split)
        origin = ", ".join(f"{s}={','.join(v)}" for s, v in data_files.items())
    if split is not None:
        raw = datasets.DatasetDict({split: raw})
    for s, ds in raw.items():
        missing = [f for f in hub.fields if f not in ds.column_names]
        if missing:
            raise ValueError(f"{origin}: split {s!r} lacks field(s) {', '.join(missing)} of {hub.describe()} "
                             f"(it has {', '.join(ds.column_names)})")
    return raw.map(hub.to_example, batched=True, remove_columns=raw[next(iter(raw))].column_names,
                   desc=f"mapping {name}")
