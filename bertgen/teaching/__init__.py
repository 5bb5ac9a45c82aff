"""What the notebooks share: a trained model to teach on, the measures they take of it, and (from `figures`)
the pictures they draw; `book` renders the notebooks as an offline book.

A course on decoding or attention needs a model that has learned something: an untrained decoder writes
`[CLS] [CLS] ...` and its attention maps are flat. `teaching_model()` gives one, in this order:
1. the `make demo` model (bert2bert fine-tuned on bible-modern), where `$BERTGEN_HOME/demo/` holds it;
2. otherwise a short fine-tune run here once and cached under `$BERTGEN_HOME/teaching/`: bert2bert from
   the embedded MiniLM-L6, 2 of its 6 layers per stack, cross-attention started as a copy of
   self-attention (`warm_start(..., cross_attention="self")`), trained to copy short English sentences.
   A few minutes on 2 CPU cores; still imperfect on purpose, so greedy search still makes mistakes that
   beam search can fix.

Shapes: B batch, S source length, T target length, nh heads.
"""
from __future__ import annotations

import difflib
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets
import pandas as pd
import torch
from tqdm.auto import tqdm

from bertgen.data import load_task
from bertgen.data.collate import Seq2SeqCollator, encode_sources, encode_targets
from bertgen.paths import bertgen_home
from bertgen.evaluation import tokenizer_round_trip
from bertgen.modeling import EncoderDecoderModel
from bertgen.teaching.figures import (SOURCE_COLOURS, PartSource, attention_explorer, diagonality, draw_data_flow,
                                      draw_layer, draw_scheme, folded, part_sources, plot_attention, scheme_legend)
from bertgen.tokenization import SAMPLE_CORPUS, load_tokenizer
from bertgen.modeling.warm_start import warm_start

__all__ = ["COPY", "DEMO_MODEL", "RUNNING_EXAMPLE", "SOURCE_COLOURS", "PartSource", "TeachingModel", "attention_explorer",
           "compare_decoding", "copy_model_dir", "copy_task", "decoding_explorer", "diagonality", "draw_data_flow",
           "draw_layer", "draw_scheme", "folded", "median_seconds", "part_sources", "plot_attention", "scheme_legend",
           "sequence_logprob", "starting_point", "teaching_model", "train_copy_model", "words_in_order"]

PAPER = "https://arxiv.org/abs/1907.12461"
DEMO_MODEL = Path("demo") / "bert2bert-bible-modern" / "model"  # under $BERTGEN_HOME, written by `make demo`
# The copy fine-tune: every setting is in the cache directory's name, so changing one trains a new model.
# The pair every notebook follows, 01 to 06: a sentence fusion as DiscoFuse makes them (two sentences joined by a
# connective), short enough that every map of it fits on a page.
RUNNING_EXAMPLE = ("He left early. She stayed late.", "He left early, but she stayed late.")
COPY = dict(steps=300, layers=2, batch_size=16, learning_rate=2e-4, max_tokens=14, held_out=8, seed=0)


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
    """Sliders for num_beams and length_penalty over one source (ipywidgets): a teacher's live view. Its default
    state is printed first, outside the widget, so that a rendered page (which has no live kernel) shows it."""
    batch = dict(encode_sources(teaching.tokenizer, [source], 64))

    def show(num_beams=1, length_penalty=1.0):
        ids = teaching.model.generate(**batch, num_beams=num_beams, length_penalty=length_penalty,
                                      max_new_tokens=max_new_tokens)
        logp = sequence_logprob(teaching.model, batch, ids, teaching.tokenizer.pad_token_id).item()
        print(f"{teaching.tokenizer.decode(ids[0], skip_special_tokens=True)}\n(log p = {logp:.2f}, "
              f"{ids.shape[1] - 1} tokens)")

    print("num_beams=1, length_penalty=1.0:")
    show()
    return ipywidgets.interact(show, num_beams=ipywidgets.IntSlider(1, 1, 8),
                               length_penalty=ipywidgets.FloatSlider(1.0, min=-1.0, max=3.0, step=0.25))
