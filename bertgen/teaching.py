"""What the notebooks share: a trained model to teach on, and the pictures they draw.

A course on decoding or attention needs a model that has learned something: an untrained decoder writes
`[CLS] [CLS] ...` and its attention maps are flat. `teaching_model()` gives one, in this order:
1. the `make demo` model (bert2bert fine-tuned on bible-modern), where `$BERTGEN_HOME/demo/` holds it;
2. otherwise a short fine-tune run here once and cached under `$BERTGEN_HOME/teaching/`: bert2bert from
   the embedded MiniLM-L6, 2 of its 6 layers per stack, cross-attention started as a copy of
   self-attention (`warm_start(..., cross_attention="self")`), trained to copy short English sentences.
   About a minute on 2 CPU cores; half-trained on purpose, so greedy search still makes mistakes that
   beam search can fix.

Shapes: B batch, S source length, T target length, nh heads.
"""
from __future__ import annotations

import difflib
import os
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import ipywidgets
import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch, Patch, PathPatch
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D
from tqdm.auto import tqdm

from bertgen.data import load_task
from bertgen.data.collate import Seq2SeqCollator, encode_sources, encode_targets
from bertgen.data.fetch import bertgen_home
from bertgen.evaluation import tokenizer_round_trip
from bertgen.modeling import EncoderDecoderModel
from bertgen.tokenization import SAMPLE_CORPUS, load_tokenizer
from bertgen.warmstart import warm_start

PAPER = "https://arxiv.org/abs/1907.12461"
DEMO_MODEL = Path("demo") / "bert2bert-bible-modern" / "model"  # under $BERTGEN_HOME, written by `make demo`
# The copy fine-tune: every setting is in the cache directory's name, so changing one trains a new model.
COPY = dict(steps=100, layers=2, batch_size=8, learning_rate=1e-3, max_tokens=14, held_out=8, seed=0)


@dataclass
class TeachingModel:
    model: EncoderDecoderModel
    tokenizer: object
    name: str  # "demo" or "copy"
    description: str  # one sentence saying what the reader sees
    examples: list[tuple[str, str]] = field(default_factory=list)  # held-out (source, reference) pairs
    directory: Path | None = None


def copy_task(tokenizer, max_tokens: int = COPY["max_tokens"], held_out: int = COPY["held_out"]):
    """(train, held-out) pairs of the copy task: each short sentence of the packaged CC0 corpus to itself."""
    lines = [s for s in SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines()
             if s and len(tokenizer.tokenize(s)) <= max_tokens]
    pairs = [(s, s) for s in lines]
    return pairs[held_out:], pairs[:held_out]


def train_copy_model(directory: Path, progress: bool = True, **settings) -> Path:
    """Fine-tune the copy model (COPY's settings, overridden by `settings`) and save it to `directory`."""
    s = {**COPY, **settings}
    tokenizer = load_tokenizer("minilm-l6")
    train, _ = copy_task(tokenizer, s["max_tokens"], s["held_out"])
    torch.manual_seed(s["seed"])
    model, _ = warm_start("bert2bert", "minilm-l6", cross_attention="self", layers=s["layers"])
    # The word embeddings (also the tied output layer) stay as pretrained: copying a word then means writing
    # the vector it was read with, and the step skips the largest tensor's update (twice as fast).
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    sources = encode_sources(tokenizer, [a for a, _ in train], s["max_tokens"], return_tensors=None)["input_ids"]
    labels = encode_targets(tokenizer, [b for _, b in train], s["max_tokens"] + 1)
    collate, order = Seq2SeqCollator(tokenizer.pad_token_id), torch.Generator().manual_seed(s["seed"])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=s["learning_rate"])
    model.train()
    bar = tqdm(range(s["steps"]), desc="fine-tuning the teaching model", unit="step", disable=not progress)
    for _ in bar:
        rows = torch.randint(len(train), (s["batch_size"],), generator=order).tolist()
        loss = model(**collate([{"input_ids": sources[i], "labels": labels[i]} for i in rows])).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.2f}")
    model.eval()
    # written beside the target, then renamed: an interrupted run never leaves half a model in the cache
    directory.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".partial-"))
    model.save_pretrained(scratch)
    tokenizer.save_pretrained(scratch)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(scratch, directory)
    return directory


def copy_model_dir(**settings) -> Path:
    s = {**COPY, **settings}
    return bertgen_home() / "teaching" / ("copy-minilm-l6-" + "-".join(f"{k}{v}" for k, v in s.items()))


def teaching_model(use_demo: bool = True, progress: bool = True, **settings) -> TeachingModel:
    """The model the notebooks teach on: the `make demo` model where present (and `use_demo`), else the
    cached copy model, trained first if it is not cached yet (see the module docstring)."""
    demo = bertgen_home() / DEMO_MODEL
    if use_demo and (demo / "config.json").is_file():
        test = load_task("bible-modern")["test"]
        examples = [(a, b) for a, b in zip(test["source"], test["target"]) if len(a.split()) <= 16][:COPY["held_out"]]
        return TeachingModel(EncoderDecoderModel.from_pretrained(demo).eval(), load_tokenizer(demo), "demo",
                             f"the `make demo` model ({demo}): bert2bert from MiniLM-L6 fine-tuned on bible-modern "
                             "(King James English -> modern English)",
                             examples, demo)
    directory = copy_model_dir(**settings)
    if not (directory / "config.json").is_file():
        train_copy_model(directory, progress, **settings)
    tokenizer = load_tokenizer(directory)
    s = {**COPY, **settings}
    return TeachingModel(EncoderDecoderModel.from_pretrained(directory).eval(), tokenizer, "copy",
                         f"a bert2bert from MiniLM-L6 ({s['layers']} layers per stack, cross-attention copied from "
                         f"self-attention) fine-tuned for {s['steps']} steps to copy short sentences, cached in "
                         f"{directory}", copy_task(tokenizer, s["max_tokens"], s["held_out"])[1], directory)


def starting_point(teaching: TeachingModel, cross_attention: str = "self") -> EncoderDecoderModel:
    """The warm start `teaching`'s model was fine-tuned from (bert2bert from MiniLM-L6, as many layers, cross-attention
    copied from self-attention: both the demo and the copy model start so), or with `cross_attention="random"` the
    paper's start of the same architecture: the "before" of a before/after picture."""
    torch.manual_seed(COPY["seed"])
    model, _ = warm_start("bert2bert", "minilm-l6", cross_attention=cross_attention,
                          layers=teaching.model.config.encoder.num_hidden_layers)
    return model.eval()


# ------------------------------------------------------------------------------------------------ decoding

def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    """The median wall time of `repeats` calls of `fn()` after `warmup` untimed ones. A timing the text quotes
    comes from here: one run on a shared CPU is noise (one core busy elsewhere doubles it)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def sequence_logprob(model, batch, output_ids: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """(B,) summed log-probability of each generated sequence (start token excluded, end token included):
    the quantity greedy search approximates step by step and beam search searches more widely."""
    logits = model(**batch, decoder_input_ids=output_ids[:, :-1]).logits  # (B, T-1, V)
    targets = output_ids[:, 1:]
    logp = logits.log_softmax(-1).gather(-1, targets[..., None])[..., 0]  # (B, T-1)
    return (logp * (targets != pad_token_id)).sum(-1)


def words_in_order(prediction: str, reference: str) -> int:
    """How many of the reference's words the prediction reproduces in order (longest matching blocks)."""
    matcher = difflib.SequenceMatcher(a=prediction.split(), b=reference.split(), autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def compare_decoding(teaching: TeachingModel, num_beams: int = 4, max_new_tokens: int = 32, **kwargs) -> pd.DataFrame:
    """Greedy and beam search on the held-out examples: outputs, log-probabilities, reference words kept."""
    tok, model = teaching.tokenizer, teaching.model
    sources = [a for a, _ in teaching.examples]
    references = tokenizer_round_trip(tok, [b for _, b in teaching.examples])
    batch = dict(encode_sources(tok, sources, 64))
    rows = {"source": sources, "reference": references}
    for name, beams in (("greedy", 1), ("beam", num_beams)):
        ids = model.generate(**batch, num_beams=beams, max_new_tokens=max_new_tokens, **kwargs)
        rows[name] = [t.strip() for t in tok.batch_decode(ids, skip_special_tokens=True)]
        rows[f"log p {name}"] = sequence_logprob(model, batch, ids, tok.pad_token_id).tolist()
        rows[f"words right {name}"] = [words_in_order(p, r) for p, r in zip(rows[name], references)]
    return pd.DataFrame(rows)


def decoding_explorer(teaching: TeachingModel, source: str, max_new_tokens: int = 32):
    """Sliders for num_beams and length_penalty over one source (ipywidgets): a teacher's live view."""
    batch = dict(encode_sources(teaching.tokenizer, [source], 64))

    def show(num_beams=1, length_penalty=1.0):
        ids = teaching.model.generate(**batch, num_beams=num_beams, length_penalty=length_penalty,
                                      max_new_tokens=max_new_tokens)
        logp = sequence_logprob(teaching.model, batch, ids, teaching.tokenizer.pad_token_id).item()
        print(f"{teaching.tokenizer.decode(ids[0], skip_special_tokens=True)}\n(log p = {logp:.2f}, "
              f"{ids.shape[1] - 1} tokens)")

    return ipywidgets.interact(show, num_beams=ipywidgets.IntSlider(1, 1, 8),
                               length_penalty=ipywidgets.FloatSlider(1.0, min=-1.0, max=3.0, step=0.25))


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
    """Layer and head selectors (ipywidgets) over `attentions`: one (B, nh, T, S) tensor per layer, batch row 0."""
    heads = attentions[0].shape[1]

    def show(layer=len(attentions) - 1, head="mean"):
        weights = attentions[layer][0]  # (nh, T, S)
        weights = weights.mean(0) if head == "mean" else weights[head]
        plot_attention(weights[: len(y_tokens), : len(x_tokens)], x_tokens, y_tokens,
                       title=f"{title}: layer {layer}, head {head}")
        plt.show()

    return ipywidgets.interact(show, layer=ipywidgets.IntSlider(len(attentions) - 1, 0, len(attentions) - 1),
                               head=ipywidgets.Dropdown(options=["mean", *range(heads)], value="mean"))


def diagonality(weights: torch.Tensor) -> float:
    """Share of each query row's weight on the key at its own position (a copy model's alignment); (T, S)."""
    n = min(weights.shape)
    return float(weights[torch.arange(n), torch.arange(n)].sum() / weights[:n].sum())


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
