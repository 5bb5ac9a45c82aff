"""The pictures the notebooks draw: attention maps and their explorer, the scheme and layer diagrams (coloured
from warm_start's report), the model's data flow with shapes, and a folded warm-start report.

Shapes: B batch, S source length, T target length, nh heads.
"""
from __future__ import annotations

import html
import re
from typing import NamedTuple

import ipywidgets
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch, Patch, PathPatch
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D


# ------------------------------------------------------------------------------------------------ attention

def plot_attention(weights, x_tokens, y_tokens, ax=None, title: str = "", vmax: float | None = 1.0):
    """One attention map, rows = queries, columns = keys. The colour scale is fixed at 0..1 by default, so a
    flat (untrained) map looks flat instead of being stretched into false structure."""
    ax = ax or plt.subplots(figsize=(0.35 * len(x_tokens) + 2, 0.3 * len(y_tokens) + 1.5))[1]
    image = ax.imshow(torch.as_tensor(weights).float().numpy(), cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(x_tokens)), x_tokens, rotation=90)
    ax.set_yticks(range(len(y_tokens)), y_tokens)
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.04)
    return ax


def attention_explorer(attentions, x_tokens, y_tokens, title: str = "attention"):
    """Layer and head selectors (ipywidgets) over `attentions`: one (B, nh, T, S) tensor per layer, batch row 0,
    after a static figure of the default view (layer: the last, head: the mean)."""
    heads = attentions[0].shape[1]

    def show(layer=len(attentions) - 1, head="mean"):
        weights = attentions[layer][0]  # (nh, T, S)
        weights = weights.mean(0) if head == "mean" else weights[head]
        plot_attention(weights[: len(y_tokens), : len(x_tokens)], x_tokens, y_tokens,
                       title=f"{title}: layer {layer}, head {head}")
        plt.show()

    show()  # the default state as a static figure, for a rendered page (no live kernel); the widget follows
    return ipywidgets.interact(show, layer=ipywidgets.IntSlider(len(attentions) - 1, 0, len(attentions) - 1),
                               head=ipywidgets.Dropdown(options=["mean", *range(heads)], value="mean"))


def diagonality(weights: torch.Tensor, offset: int = 0) -> float:
    """Share of each query row's weight on the key at its own position plus `offset` (a copy model's alignment; 1
    where the source starts with a [CLS] the target lacks); (T, S)."""
    n = min(weights.shape[0], weights.shape[1] - offset)
    return float(weights[torch.arange(n), torch.arange(n) + offset].sum() / weights[:n].sum())


# ------------------------------------------------------------------------------------------------ diagrams

SOURCE_COLOURS = {"checkpoint": "#4c72b0", "random": "#dd8452", "partly": "#8172b3"}
SOURCE_NAMES = {"checkpoint": "from the checkpoint", "random": "random", "partly": "partly from the checkpoint"}
# Word embeddings apart from the position table and LayerNorm: one scheme can take the first from the checkpoint
# (the matrix is shared with the encoder) and start the others at random.
ENCODER_PARTS = [("word embeddings", r"^encoder\.embeddings\.word_embeddings\."),
                 ("positions, LayerNorm", r"^encoder\.embeddings\.(position_embeddings|token_type_embeddings|LayerNorm)\."),
                 ("self-attention", r"^encoder\.encoder\.layer\..*\.attention\."),
                 ("feed-forward", r"^encoder\.encoder\.layer\..*\.(intermediate|output)\.")]
DECODER_PARTS = [("word embeddings", r"^decoder\.bert\.embeddings\.word_embeddings\."),
                 ("positions, LayerNorm",
                  r"^decoder\.bert\.embeddings\.(position_embeddings|token_type_embeddings|LayerNorm)\."),
                 ("causal self-attention", r"^decoder\.bert\.encoder\.layer\..*\.attention\."),
                 ("cross-attention", r"\.crossattention\."),
                 ("feed-forward", r"^decoder\.bert\.encoder\.layer\..*\.(intermediate|output)\."),
                 ("LM head (tied)", r"^decoder\.lm_head\.decoder\.weight$")]


class PartSource(NamedTuple):
    origin: str  # "checkpoint" | "random" | "partly" (some tensors of each)
    shared: bool  # every tensor of the part is another part's tensor (tied or BERTShare-shared)


def part_sources(report) -> dict[str, dict[str, PartSource]]:
    """{"encoder"|"decoder": {part: PartSource}} read off a WarmStartReport. A shared tensor has the origin of
    the tensor it is: the decoder's word embeddings in bert2rnd are the checkpoint's, in rnd2rnd random."""
    origin = {e.pattern: "checkpoint" for e in report.loaded} | {e.pattern: "random" for e in report.initialized}

    def resolve(target: str) -> str:
        if target in origin:
            return origin[target]
        stem = target.removesuffix(".*")
        found = {kind for pattern, kind in origin.items() if pattern.startswith(stem)}
        if not found:
            raise ValueError(f"report of {report.scheme!r}: a shared tensor points at {target!r}, which the report "
                             "neither loaded nor initialized; the diagram cannot tell where it came from")
        return found.pop() if len(found) == 1 else "partly"

    entries = [(pattern, kind, False) for pattern, kind in origin.items()]
    entries += [(e.pattern, resolve(e.detail), True) for e in report.shared]
    out = {}
    for side, parts in (("encoder", ENCODER_PARTS), ("decoder", DECODER_PARTS)):
        out[side] = {}
        for part, pattern in parts:
            matched = [(kind, shared) for name, kind, shared in entries if re.search(pattern, name)]
            if matched:  # a part the model lacks (no LM head, say) is left out of the picture
                kinds = {kind for kind, _ in matched}
                out[side][part] = PartSource(kinds.pop() if len(kinds) == 1 else "partly", all(s for _, s in matched))
    return out


def folded(report) -> HTML:
    """A WarmStartReport as one summary line that opens (an HTML <details>) onto the full report."""
    row = report.table1_row()
    counts = ", ".join(f"{sum(e.tensors for e in entries)} {name}" for name, entries in (
        ("loaded", report.loaded), ("new", report.initialized), ("shared", report.shared),
        ("dropped", report.dropped)) if entries)
    line = (f"<b>{html.escape(report.scheme)}</b>: {row['from checkpoint']}M of {row['total']}M parameters from the "
            f"checkpoint, {row['random']}M random; tensors: {counts} (click for the full report)")
    return HTML(f"<details><summary>{line}</summary>{report._repr_html_()}</details>")


def scheme_legend(fig, origins=("checkpoint", "random"), **kwargs):
    """The colour key of `draw_scheme`, as a figure legend."""
    handles = [Patch(facecolor=SOURCE_COLOURS[k], edgecolor="black", label=SOURCE_NAMES[k]) for k in origins]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="///", label="shared: another part's tensors"))
    return fig.legend(handles=handles, **{"loc": "lower center", "ncol": len(handles), "frameon": False, **kwargs})


def _box(ax, x, y, text, colour, hatch=None, width=1.6, height=0.5, gid=None, fontsize=0.13):
    """A rounded box with a white label (lines split at "\\n") drawn as paths in data units (`fontsize`: about
    a capital's height): the label scales with the box, shrunk to fit its width, so it never overflows."""
    box = FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.03", facecolor=colour, edgecolor="black",
                         hatch=hatch, alpha=0.85, gid=gid)
    ax.add_patch(box)
    lines = [TextPath((0, 0), line, size=1.0, prop=FontProperties(weight="bold")) for line in text.split("\n")]
    cap, spacing = 0.73, 1.5  # a capital's height per unit font size; baseline to baseline, in capitals
    scale = min(fontsize / cap, *(0.92 * width / line.get_extents().width for line in lines))
    top = y + height / 2 + scale * cap * (spacing * (len(lines) - 1) - 1) / 2  # the first line's baseline
    for i, line in enumerate(lines):
        extent = line.get_extents()
        place = Affine2D().scale(scale).translate(x + width / 2 - scale * (extent.x0 + extent.width / 2),
                                                  top - i * spacing * scale * cap)
        ax.add_patch(PathPatch(place.transform_path(line), facecolor="white", edgecolor="none",
                               gid=f"{gid}:label" if gid else None))
    return box


def draw_scheme(report, ax=None):
    """Encoder and decoder stacks side by side, each part coloured by where warm-starting took it from (blue:
    the checkpoint, orange: random; hatched: the part is another part's tensors, shared or tied), read off the
    report part by part (`part_sources`). Boxes carry gid "encoder:<part>" / "decoder:<part>"."""
    ax = ax or plt.subplots(figsize=(4, 4.2))[1]
    sources = part_sources(report)
    for x, side in ((0.0, "encoder"), (2.1, "decoder")):
        for i, (part, source) in enumerate(sources[side].items()):
            _box(ax, x, 0.6 * i, part, SOURCE_COLOURS[source.origin], hatch="///" if source.shared else None,
                 height=0.45, gid=f"{side}:{part}", fontsize=0.1)
        ax.text(x + 0.8, 0.6 * len(sources[side]) - 0.05, side, ha="center", fontsize=9)
    cross = list(sources["decoder"]).index("cross-attention") if "cross-attention" in sources["decoder"] else 3
    ax.annotate("", xy=(2.1, 0.6 * cross + 0.22), xytext=(1.6, 0.6 * (len(sources["encoder"]) - 1) + 0.22),
                arrowprops=dict(arrowstyle="->"))
    ax.set(xlim=(-0.1, 3.8), ylim=(-0.2, 0.6 * len(sources["decoder"]) + 0.3), title=report.scheme)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_layer(decoder: bool = False, ax=None):
    """One Transformer layer as BERT (post-LayerNorm) computes it, bottom to top, residual paths on the left;
    `decoder=True` adds the causal mask and the cross-attention block fed by the encoder."""
    ax = ax or plt.subplots(figsize=(4.8, 5.2 if decoder else 4))[1]
    blocks = [("causal self-attention" if decoder else "self-attention", "#4c72b0"), ("add & LayerNorm", "#8c8c8c")]
    if decoder:
        blocks += [("cross-attention\nQ: decoder; K, V: encoder", "#dd8452"), ("add & LayerNorm", "#8c8c8c")]
    blocks += [("feed-forward\nH -> 4H -> H, GELU", "#55a868"), ("add & LayerNorm", "#8c8c8c")]
    for i, (text, colour) in enumerate(blocks):
        _box(ax, 0.5, 0.8 * i + 0.6, text, colour, width=3.4, height=0.45, gid=f"layer:{i}")
        ax.annotate("", xy=(2.2, 0.8 * i + 0.6), xytext=(2.2, 0.8 * i + 0.25), arrowprops=dict(arrowstyle="->"))
    for i in range(0, len(blocks), 2):  # residual: around each sub-block into its add & LayerNorm
        ax.annotate("", xy=(0.5, 0.8 * (i + 1) + 0.82), xytext=(0.5, 0.8 * i + 0.4),
                    arrowprops=dict(arrowstyle="->", connectionstyle="bar,fraction=-0.25", color="grey"))
    if decoder:
        ax.annotate("encoder output", xy=(3.9, 0.8 * 2 + 0.82), xytext=(4.0, 0.8 * 2 + 0.3), fontsize=8,
                    arrowprops=dict(arrowstyle="->", color="#dd8452"))
    ax.text(2.2, 0.05, "input: embeddings or the previous layer", ha="center", fontsize=8)
    ax.text(2.2, 0.8 * len(blocks) + 0.45, "to the next layer", ha="center", fontsize=8)
    ax.set(xlim=(-0.2, 5.2), ylim=(-0.1, 0.8 * len(blocks) + 0.7), title="decoder layer" if decoder else "encoder layer")
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _shape(names: str, sizes: dict[str, int] | None) -> str:
    """"(B, S, H)", with the sizes where known: "(B, S, H) = (1, 11, 384)"."""
    letters = [n.strip() for n in names.split(",")]
    if not sizes:
        return f"({names})"
    return f"({names}) = (" + ", ".join(str(sizes.get(n, n)) for n in letters) + ")"


def draw_data_flow(sizes: dict[str, int] | None = None, ax=None):
    """The whole encoder-decoder, input ids to logits, with each tensor's shape (`sizes` fills in the letters:
    {"B": 1, "S": 11, "T": 13, "H": 384, "V": 30522, "L": 6}). Encoder on the left, decoder on the right, bottom
    to top; the encoder's output feeds every decoder layer's cross-attention."""
    ax = ax or plt.subplots(figsize=(9, 5.6))[1]
    layers = (sizes or {}).get("L", "L")
    left = [("input_ids: the source\n" + _shape("B, S", sizes), "#8c8c8c"),
            ("embeddings: word + position, LayerNorm\n" + _shape("B, S, H", sizes), "#4c72b0"),
            (f"{layers} encoder layers: self-attention, feed-forward\n" + _shape("B, S, H", sizes), "#4c72b0"),
            ("encoder output E\n" + _shape("B, S, H", sizes), "#4c72b0")]
    right = [("decoder_input_ids: [CLS] + target\n" + _shape("B, T", sizes), "#8c8c8c"),
             ("embeddings: word + position, LayerNorm\n" + _shape("B, T, H", sizes), "#55a868"),
             (f"{layers} decoder layers: causal self-attention,\ncross-attention (K, V from E), feed-forward\n"
              + _shape("B, T, H", sizes), "#55a868"),
             ("LM head (the word embeddings, tied)\nlogits " + _shape("B, T, V", sizes), "#55a868"),
             ("loss against the labels " + _shape("B, T", sizes) + ",\nor the next token when generating", "#8c8c8c")]
    width, height, step = 4.2, 0.7, 1.05
    for x, column, side in ((0.0, left, "encoder"), (5.0, right, "decoder")):
        for i, (text, colour) in enumerate(column):
            _box(ax, x, step * i, text, colour, width=width, height=height, gid=f"flow:{side}:{i}", fontsize=0.14)
            if i:
                ax.annotate("", xy=(x + width / 2, step * i), xytext=(x + width / 2, step * (i - 1) + height),
                            arrowprops=dict(arrowstyle="->"))
    ax.annotate("", xy=(5.0, 2 * step + height / 2), xytext=(width, 3 * step + height / 2),
                arrowprops=dict(arrowstyle="->", color="#dd8452", lw=2))
    ax.text(0.1, step * len(left) - 0.15, "B batch, S source length, T target length, H hidden size,\n"
            "V vocabulary, L layers per stack", fontsize=8, va="bottom")
    ax.set(xlim=(-0.1, 9.3), ylim=(-0.15, step * len(right) + 0.1), title="the encoder-decoder, input to output")
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
