"""The report of a warm start: what was loaded, newly initialized, shared, folded and dropped, by name pattern
and count, and the paper's Table 1 columns (total, embeddings, from checkpoint, random parameters).

Names are collapsed over layers so that a report stays a screenful: `encoder.encoder.layer.[0-5].attention.*`
stands for the 60 attention tensors of layers 0 to 5.
"""
from __future__ import annotations

import dataclasses
import html
import re
from dataclasses import dataclass

from bertgen.checkpoints import tied_groups
from bertgen.warmstart.pretrained import POSITIONS, TOKEN_TYPE


@dataclass(frozen=True)
class ReportEntry:
    pattern: str  # model (or checkpoint) names, layer indices collapsed: encoder.encoder.layer.[0-5].attention.*
    tensors: int
    params: int
    detail: str = ""  # where it came from / what it is shared with / why it was dropped


@dataclass(repr=False)
class WarmStartReport:
    """What warm-starting did, by name pattern and count, and the paper's Table 1 columns (parameters).
    Prints as a text table; renders as HTML (or Markdown) in a notebook."""

    scheme: str
    encoder_source: str
    decoder_source: str
    token_ids: dict[str, dict[str, int | None]]
    total: int  # distinct parameters (a shared tensor counts once)
    embeddings: int  # word-embedding parameters, as the paper's "emb" column
    from_checkpoint: int
    loaded: list[ReportEntry]
    initialized: list[ReportEntry]
    shared: list[ReportEntry]
    folded: list[ReportEntry]
    dropped: list[ReportEntry]
    new_names: tuple[str, ...] = ()  # every model name (aliases included) of a newly initialized tensor

    @property
    def random(self) -> int:
        return self.total - self.from_checkpoint

    def table1_row(self) -> dict[str, str | float]:
        """The paper's Table 1 columns, in millions of parameters."""
        million = lambda n: round(n / 1e6, 1)  # noqa: E731
        return {"scheme": self.scheme, "total": million(self.total), "embeddings": million(self.embeddings),
                "from checkpoint": million(self.from_checkpoint), "random": million(self.random)}

    def sections(self) -> list[tuple[str, list[ReportEntry], str]]:
        """(title, entries, what the detail column holds)."""
        return [("loaded from the checkpoint", self.loaded, "from"),
                ("newly initialized (weights normal with std initializer_range, biases 0)", self.initialized, ""),
                ("shared: more names for tensors counted above", self.shared, "same tensor as"),
                ("folded", self.folded, "into"),
                ("dropped from the checkpoint", self.dropped, "why")]

    def _header(self) -> list[str]:
        dec = self.token_ids["decoder"]
        return [f"warm_start({self.scheme!r}): encoder <- {self.encoder_source}; decoder <- {self.decoder_source}",
                f"decoder ids: start {dec['decoder_start_token_id']}, eos {dec['eos_token_id']}, "
                f"pad {dec['pad_token_id']}"]

    def __str__(self) -> str:
        row = {k: (_count(v * 1e6) if isinstance(v, float) else v) for k, v in self.table1_row().items()}
        lines = self._header() + ["", "Table 1   " + "   ".join(f"{k} {v}" for k, v in row.items() if k != "scheme")]
        for title, entries, detail in self.sections():
            if not entries:
                continue
            width = max(len(e.pattern) for e in entries)
            lines += ["", f"{title} ({sum(e.tensors for e in entries)})"]
            for e in entries:
                note = f"  {detail} {e.detail}" if e.detail else ""
                lines.append(f"  {e.pattern:<{width}}  {e.tensors:>4}  {_count(e.params):>7}{note}".rstrip())
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        row = self.table1_row()
        out = [f"**{line}**  " for line in self._header()[:1]] + [self._header()[1], "",
               "| " + " | ".join(row) + " |", "|" + "---|" * len(row),
               "| " + " | ".join(str(v) + ("M" if isinstance(v, float) else "") for v in row.values()) + " |"]
        for title, entries, detail in self.sections():
            if entries:
                out += ["", f"*{title}*", "", f"| names | tensors | parameters | {detail} |", "|---|---|---|---|"]
                out += [f"| `{e.pattern}` | {e.tensors} | {_count(e.params)} | {e.detail} |" for e in entries]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        esc = html.escape
        row = self.table1_row()
        cells = lambda tag, values: "<tr>" + "".join(f"<{tag}>{esc(str(v))}</{tag}>" for v in values) + "</tr>"  # noqa: E731
        parts = [f"<p><b>{esc(self._header()[0])}</b><br>{esc(self._header()[1])}</p>",
                 "<table>" + cells("th", row) + cells("td", [f"{v}M" if isinstance(v, float) else v
                                                             for v in row.values()]) + "</table>"]
        for title, entries, detail in self.sections():
            if entries:
                body = "".join(cells("td", [e.pattern, e.tensors, _count(e.params), e.detail]) for e in entries)
                parts.append(f"<p><i>{esc(title)}</i></p><table>"
                             + cells("th", ["names", "tensors", "parameters", detail]) + body + "</table>")
        return "".join(parts)


def build_report(scheme: str, model, sides: list, plan: dict, fold_token_type: bool,
                 token_ids: dict) -> WarmStartReport:
    """The report of one warm start: `sides` are the plan's StackPlans (what each stack takes) and `plan`
    maps model name -> (StackPlan, checkpoint name) for every tensor loaded (see bertgen.warmstart.plan)."""
    tensors = model.state_dict(keep_vars=True)
    loaded, initialized, shared, new_names = [], [], [], []
    total = embeddings = from_checkpoint = 0
    for group in tied_groups(model):
        head, n = group[0], tensors[group[0]].numel()
        total += n
        embeddings += n if any(name.endswith(("word_embeddings.weight", "wte.weight")) for name in group) else 0
        source = next((plan[name] for name in group if name in plan), None)
        if source is None:
            initialized.append((head, n, ""))
            new_names += group
        else:
            from_checkpoint += n
            side, key = source
            loaded.append((head, n, side.checkpoint.file_keys.get(key, key)))
        shared += [(alias, tensors[alias].numel(), head) for alias in group[1:]]
    folded = _folded(sides, plan) if fold_token_type else []
    loaded_entries = _entries(loaded)
    if folded:
        loaded_entries = [dataclasses.replace(e, detail=e.detail + " + token type 0")
                          if e.pattern.endswith(POSITIONS) else e for e in loaded_entries]
    return WarmStartReport(
        scheme=scheme, encoder_source=_describe(sides[0]), decoder_source=_describe(sides[1]), token_ids=token_ids,
        total=total, embeddings=embeddings, from_checkpoint=from_checkpoint, loaded=loaded_entries,
        initialized=_entries(initialized), shared=_entries(shared), folded=folded,
        dropped=_dropped(sides, plan, [e.pattern for e in folded]), new_names=tuple(new_names))


def _describe(side) -> str:
    """Where one stack came from, for the report's first line."""
    if side.family == "rnd":
        return "random"
    what = "embeddings only" if not side.load_layers else f"layers {_span(side.layers)}"
    if side.load_layers and not side.embeddings:
        what += ", without its embeddings"
    return f"{side.checkpoint.name} ({side.checkpoint.layout}, {what})"


def _folded(sides: list, plan: dict) -> list[ReportEntry]:
    """Segment A's vector, added into the position table of every stack that loaded it."""
    entries = []
    for ckpt in {id(s.checkpoint): s.checkpoint for s in sides}.values():
        targets = [name for name, (side, key) in plan.items() if side.checkpoint is ckpt and key == POSITIONS]
        if ckpt.token_type is not None and targets:
            entries.append(ReportEntry(f"{ckpt.file_keys[TOKEN_TYPE]}[0]", 1, ckpt.token_type.shape[1],
                                       ", ".join(targets)))
    return entries


def _dropped(sides: list, plan: dict, folded: list[str]) -> list[ReportEntry]:
    """Tensors of the checkpoint(s) that went nowhere: heads, pooler, unused layers, segment embeddings."""
    checkpoints = {id(s.checkpoint): s.checkpoint for s in sides}.values()
    used = {(id(side.checkpoint), key) for side, key in plan.values()}
    items = []
    for ckpt in checkpoints:
        whose = f" ({ckpt.name})" if len(checkpoints) > 1 else ""
        items += [(key, n, why + whose) for key, (n, why) in ckpt.dropped.items()]
        items += [(ckpt.file_keys[key], t.numel(), "not used by this scheme" + whose)
                  for key, t in ckpt.state.items() if (id(ckpt), key) not in used]
        if ckpt.token_type is None:
            continue
        key = ckpt.file_keys[TOKEN_TYPE]
        if f"{key}[0]" not in folded:
            positions_used = (id(ckpt), POSITIONS) in used
            why = "segment embeddings, fold_token_type=False" if positions_used else "not used by this scheme"
            items.append((key, ckpt.token_type.numel(), why + whose))
        elif ckpt.token_type.shape[0] > 1:
            items.append((f"{key}[1:]", ckpt.token_type[1:].numel(), "segment B (input is one segment)" + whose))
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(item[2], []).append(item)
    return [ReportEntry(_render([k for k, _, _ in group]), len(group), sum(n for _, n, _ in group), why)
            for why, group in groups.items()]


# ------------------------------------------------------------------------------------- names, collapsed

_LAYER = re.compile(r"(?:(?<=layer\.)|(?<=\bh\.))\d+(?=\.)")  # BERT's layer.N, GPT-2's h.N


def _block(name: str) -> str:
    """The module a tensor belongs to, layer index left out: the unit one report line stands for."""
    match = _LAYER.search(name)
    if match is None:
        return name.rsplit(".", 1)[0]
    return name[:match.start()] + "#." + name[match.end() + 1:].split(".")[0]


def _entries(items: list[tuple[str, int, str]]) -> list[ReportEntry]:
    """(name, parameters, source or alias name) -> one entry per module and source module."""
    groups: dict[tuple[str, str], list] = {}
    for item in items:
        groups.setdefault((_block(item[0]), _block(item[2]) if item[2] else ""), []).append(item)
    return [ReportEntry(_render([n for n, _, _ in g]), len(g), sum(p for _, p, _ in g),
                        _render([d for _, _, d in g]) if g[0][2] else "") for g in groups.values()]


def _render(names: list[str]) -> str:
    """Names as one pattern: 'encoder.layer.[0-5].attention.*' for the attention tensors of layers 0..5."""
    names = list(dict.fromkeys(names))
    if len(names) == 1:
        return names[0]
    indices = sorted({int(i) for name in names for i in _LAYER.findall(name)})
    templates = [_LAYER.sub("#", name).split(".") for name in names]
    common = []
    for parts in zip(*templates):
        if len(set(parts)) > 1:
            break
        common.append(parts[0])
    same = len({tuple(t) for t in templates}) == 1
    pattern = ".".join(common) + ("" if same else ".*")
    return pattern.replace("#", _span(indices)) if indices else pattern


def _span(indices: tuple[int, ...]) -> str:
    if len(indices) == 1:
        return str(indices[0])
    if tuple(indices) == tuple(range(indices[0], indices[-1] + 1)):
        return f"[{indices[0]}-{indices[-1]}]"
    return "[" + ",".join(map(str, indices)) + "]"


def _count(n: float) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n / 1e3:.1f}K" if n >= 1e3 else str(int(n))
