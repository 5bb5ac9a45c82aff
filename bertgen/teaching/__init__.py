"""What the notebooks share: a trained model to teach on, the measures they take of it, and (from `figures`)
the pictures they draw; `book` renders the notebooks as an offline book.

A course on decoding or attention needs a model that has learned something: an untrained decoder writes
`[CLS] [CLS] ...` and its attention maps are flat. `teaching_model()` gives one, in this order:
1. the `make demo` model (bert2bert fine-tuned on bible-modern), where `$BERTGEN_HOME/demo/` holds it;
2. otherwise a short fine-tune run here once and cached under `$BERTGEN_HOME/teaching/`: bert2bert from
   the embedded MiniLM-L6, 2 of its 6 layers per stack, cross-attention started as a copy of
   self-attention (`warm_start(..., cross_attention="self")`), trained to copy short English sentences (one or
   two) and strings of random words, read as `[CLS] ... [SEP]`. A few minutes on 2 CPU cores. Its greedy
   copies of held-out sentences are right and it never writes `[unusedNN]` (tests/test_teaching.py checks
   both); `train_copy_model` says which choices make it so.

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

__all__ = ["COPY", "DEMO_MODEL", "NEVER", "RUNNING_EXAMPLE", "SOURCE_COLOURS", "PartSource", "TeachingModel",
           "attention_explorer", "compare_decoding", "copy_model_dir", "copy_task", "decoding_explorer", "diagonality",
           "draw_data_flow", "draw_layer", "draw_scheme", "folded", "median_seconds", "never_written_ids",
           "part_sources", "plot_attention", "random_words", "scheme_legend", "sequence_logprob", "starting_point",
           "teaching_model", "train_copy_model", "whole_words", "words_in_order"]

PAPER = "https://arxiv.org/abs/1907.12461"
DEMO_MODEL = Path("demo") / "bert2bert-bible-modern" / "model"  # under $BERTGEN_HOME, written by `make demo`
# The copy fine-tune: every setting is in the cache directory's name, so changing one trains a new model.
# The pair every notebook follows, 01 to 06: a sentence fusion as DiscoFuse makes them (two sentences joined by a
# connective), short enough that every map of it fits on a page.
RUNNING_EXAMPLE = ("He left early. She stayed late.", "He left early, but she stayed late.")
COPY = dict(steps=600, layers=2, batch_size=16, learning_rate=5e-4, max_tokens=14, held_out=8, two_sentences=0.2,
            random_words=0.7, source_special_tokens=True, seed=0)
NEVER = -1e4  # the output bias of ids the copy model must never write (see `train_copy_model`)


@dataclass
class TeachingModel:
    model: EncoderDecoderModel
    tokenizer: object
    name: str  # "demo" or "copy"
    description: str  # one sentence saying what the reader sees
    examples: list[tuple[str, str]] = field(default_factory=list)  # held-out (source, reference) pairs
    directory: Path | None = None
    source_special_tokens: bool = False  # whether the model reads its input as [CLS] ... [SEP] (see `COPY`)

    def encode(self, sources: list[str]) -> dict:
        """The model's input for `sources`, padded, as it was trained to read it."""
        return dict(encode_sources(self.tokenizer, sources, 64, self.source_special_tokens))


def copy_task(tokenizer, max_tokens: int = COPY["max_tokens"], held_out: int = COPY["held_out"]):
    """(train, held-out) pairs of the copy task: each short sentence of the packaged CC0 corpus to itself."""
    lines = [s for s in SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines()
             if s and len(tokenizer.tokenize(s)) <= max_tokens]
    pairs = [(s, s) for s in lines]
    return pairs[held_out:], pairs[:held_out]


def never_written_ids(tokenizer) -> list[int]:
    """Ids the model must never write: BERT's `[unusedNN]` rows (never trained, in pretraining or here) and the
    special tokens other than the end token."""
    vocab = tokenizer.get_vocab()
    special = {tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.mask_token_id, tokenizer.unk_token_id}
    return sorted({i for t, i in vocab.items() if t.startswith("[unused")} | (special - {None}))


def whole_words(tokenizer) -> list[str]:
    """The tokenizer's vocabulary entries that are whole English words (no pieces, marks or special tokens)."""
    return sorted(t for t in tokenizer.get_vocab() if t.isalpha() and t.isascii() and len(t) > 1)


def random_words(words: list[str], count: int, length: int, generator: torch.Generator) -> list[str]:
    """`count` strings of `length` words drawn from `words` (`whole_words(tokenizer)`): text no language model can
    guess, which a model can only copy by reading it."""
    return [" ".join(words[i] for i in torch.randint(len(words), (length,), generator=generator)) for _ in range(count)]


def train_copy_model(directory: Path, progress: bool = True, **settings) -> Path:
    """Fine-tune the copy model (COPY's settings, overridden by `settings`) and save it to `directory`.

    The task mix: a row is one sentence, or with probability `two_sentences` two of them joined (so that the model
    copies past a full stop, as the running example needs), or with probability `random_words` a string of words
    drawn from the whole vocabulary. Those teach it to copy any word, in any order: trained on the ~100 sentences
    alone, it wrote a word it had seen for a similar one it had not ("tuesday" for "sunday").
    With `source_special_tokens` the input is read as `[CLS] ... [SEP]`, unlike the paper's bare text: MiniLM's
    encoder gives position 0 (where pretraining always put [CLS]) nearly the same output whatever stands there, so
    bare text loses the first word, and a copy model then writes its likeliest first word ("the") for every input."""
    s = {**COPY, **settings}
    tokenizer = load_tokenizer("minilm-l6")
    train, _ = copy_task(tokenizer, s["max_tokens"], s["held_out"])
    torch.manual_seed(s["seed"])
    model, _ = warm_start("bert2bert", "minilm-l6", cross_attention="self", layers=s["layers"])
    # The word embeddings (also the tied output layer) stay as pretrained: copying a word then means writing
    # the vector it was read with, and the step skips the largest tensor's update (twice as fast).
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    # The output bias stays fixed too (a copy model needs no prior over words): 0, except for the never-written ids,
    # set very low once. BERT's ~1,000 [unusedNN] rows were never trained, so their logits are noise that sampling
    # picks up ("[unused80]"). In the weights (not a decoding option) it holds for every `generate` call, here and
    # in transformers alike.
    with torch.no_grad():
        model.decoder.lm_head.bias[never_written_ids(tokenizer)] = NEVER
    model.decoder.lm_head.bias.requires_grad_(False)
    generator = torch.Generator().manual_seed(s["seed"])
    collate = Seq2SeqCollator(tokenizer.pad_token_id)
    sentences, words = [a for a, _ in train], whole_words(tokenizer)

    def row() -> str:
        pick = lambda: sentences[torch.randint(len(sentences), (), generator=generator)]  # noqa: E731
        draw = torch.rand((), generator=generator).item()
        if draw < s["two_sentences"]:
            return pick() + " " + pick()
        if draw < s["two_sentences"] + s["random_words"]:
            return random_words(words, 1, torch.randint(3, s["max_tokens"] + 1, (), generator=generator).item(),
                                generator)[0]
        return pick()

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=s["learning_rate"])
    # linear decay to 0, the usual fine-tuning schedule: the last steps make small moves
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / s["steps"])
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same sums in the same order, so the same model on every run
    try:
        bar = tqdm(range(s["steps"]), desc="fine-tuning the teaching model", unit="step", disable=not progress)
        for _ in bar:
            texts = [row() for _ in range(s["batch_size"])]
            sources = encode_sources(tokenizer, texts, 2 * s["max_tokens"] + 3, s["source_special_tokens"],
                                     return_tensors=None)["input_ids"]
            labels = encode_targets(tokenizer, texts, 2 * s["max_tokens"] + 2)
            loss = model(**collate([{"input_ids": a, "labels": b} for a, b in zip(sources, labels)])).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.set_postfix(loss=f"{loss.item():.2f}")
    finally:
        torch.set_num_threads(threads)
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


def teaching_model(use_demo: bool = False, progress: bool = True, **settings) -> TeachingModel:
    """The model the notebooks teach on: the cached copy model, trained first if it is not cached yet (see the
    module docstring); with `use_demo`, the `make demo` model instead where one is present (the notebooks' prose
    describes the copy model)."""
    demo = bertgen_home() / DEMO_MODEL
    if use_demo and (demo / "config.json").is_file():
        test = load_task("bible-modern")["test"]
        examples = [(a, b) for a, b in zip(test["source"], test["target"]) if len(a.split()) <= 16][:COPY["held_out"]]
        return TeachingModel(EncoderDecoderModel.from_pretrained(demo).eval(), load_tokenizer(demo), "demo",
                             f"the `make demo` model (`$BERTGEN_HOME/{DEMO_MODEL.as_posix()}`): bert2bert from "
                             "MiniLM-L6 fine-tuned on bible-modern "
                             "(King James English -> modern English)",
                             examples, demo)
    directory = copy_model_dir(**settings)
    if not (directory / "config.json").is_file():
        train_copy_model(directory, progress, **settings)
    tokenizer = load_tokenizer(directory)
    s = {**COPY, **settings}
    return TeachingModel(EncoderDecoderModel.from_pretrained(directory).eval(), tokenizer, "copy",
                         f"a bert2bert from MiniLM-L6 ({s['layers']} layers per stack, cross-attention copied from "
                         f"self-attention) fine-tuned for {s['steps']} steps to copy short sentences (one or two) and "
                         f"strings of random words, reading them as `[CLS] ... [SEP]`, cached under "
                         "`$BERTGEN_HOME/teaching/`",
                         copy_task(tokenizer, s["max_tokens"], s["held_out"])[1], directory, s["source_special_tokens"])


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
    the quantity greedy search approximates step by step and beam search searches more widely. What follows the
    first end token is filler, not scored: padding, or more end tokens (how beam search fills a row that ended
    early, in transformers and here)."""
    logits = model(**batch, decoder_input_ids=output_ids[:, :-1]).logits  # (B, T-1, V)
    targets = output_ids[:, 1:]
    logp = logits.log_softmax(-1).gather(-1, targets[..., None])[..., 0]  # (B, T-1)
    eos = model.config.eos_token_id
    is_end = torch.isin(targets, torch.tensor([] if eos is None else eos, dtype=torch.long).flatten())  # (B, T-1)
    ends_before = is_end.long().cumsum(-1) - is_end.long()  # end tokens strictly before each position
    return (logp * ((targets != pad_token_id) & (ends_before == 0))).sum(-1)


def words_in_order(prediction: str, reference: str) -> int:
    """How many of the reference's words the prediction reproduces in order (longest matching blocks)."""
    matcher = difflib.SequenceMatcher(a=prediction.split(), b=reference.split(), autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def compare_decoding(teaching: TeachingModel, num_beams: int = 4, max_new_tokens: int = 32,
                     examples: list[tuple[str, str]] | None = None, **kwargs) -> pd.DataFrame:
    """Greedy and beam search on `examples` (default: the held-out ones): outputs, log-probabilities, reference
    words kept."""
    tok, model = teaching.tokenizer, teaching.model
    examples = teaching.examples if examples is None else examples
    sources = [a for a, _ in examples]
    references = tokenizer_round_trip(tok, [b for _, b in examples])
    batch = teaching.encode(sources)
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
    batch = teaching.encode([source])

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
