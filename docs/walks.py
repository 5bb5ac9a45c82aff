"""Walk one call through the house and count the rooms it crosses: `python docs/walks.py`.

A room is a module of `bertgen` (or, counted by concept, a folder of it: `bertgen.training`). Following the innermost bertgen frame (torch, datasets and the standard library
are corridors, not rooms), a *stop* is a move from one room to another, by a call or by a return; a loop walks its
path once, so each move (from room and function, to room and function) is counted the first time it happens. A
*return* is a stop in a room the walk has already been in and left: the back and forth a reader follows.

Two walks, on tiny local files so that they run anywhere in seconds:
- `from_pretrained`: BertGenerationEncoder.from_pretrained on a BERT checkpoint that transformers wrote (the
  body layout), then EncoderDecoderModel.from_pretrained on one bertgen wrote;
- `experiment run`: `run_experiment` on a one-layer rnd2rnd config over the Brown sample, 3 steps.
"""
from __future__ import annotations

import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers

import bertgen
from bertgen import BertGenerationEncoder, EncoderDecoderModel
from bertgen.data.corpora.brown import SAMPLE_DIR
from bertgen.experiments.config import ExperimentConfig
from bertgen.experiments.run import run_experiment

PACKAGE = Path(bertgen.__file__).resolve().parent


@dataclass
class Walk:
    stops: list[tuple[str, str]] = field(default_factory=list)  # (room, function) entered, in order

    @property
    def rooms(self) -> set[str]:
        return {room for room, _ in self.stops}

    @property
    def returns(self) -> int:
        seen, back = set(), 0
        for (room, _), previous in zip(self.stops, [None, *self.stops]):
            back += room in seen
            if previous is not None:
                seen.add(previous[0])
        return back

    def by_concept(self) -> Walk:
        """The same walk with a folder of bertgen as one room (bertgen.training.trainer -> bertgen.training)."""
        concept = Walk()
        for room, function in self.stops:
            room = ".".join(room.split(".")[:2])
            if not concept.stops or concept.stops[-1][0] != room:
                concept.stops.append((room, function))
        return concept

    def summary(self) -> str:
        return f"{len(self.stops)} stops in {len(self.rooms)} rooms, {self.returns} of them returns"


def _room(filename: str) -> str | None:
    path = Path(filename).resolve()
    if PACKAGE not in path.parents:
        return None
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def walk(fn) -> Walk:
    """Run fn() under a profiler that follows the innermost bertgen frame."""
    result, stack, moves = Walk(), [], set()
    rooms: dict[str, str | None] = {}

    def room_of(frame) -> str | None:
        name = frame.f_code.co_filename
        if name not in rooms:
            rooms[name] = _room(name)
        return rooms[name]

    def move(before, after) -> None:
        if before is None or after is None or before[0] == after[0]:
            return
        if (before, after) not in moves:
            moves.add((before, after))
            result.stops.append(after)

    def profile(frame, event, arg) -> None:
        if event not in ("call", "return") or (room := room_of(frame)) is None:
            return
        before = stack[-1][:2] if stack else None
        if event == "call":
            stack.append((room, frame.f_code.co_name, id(frame)))
        elif stack and stack[-1][2] == id(frame):
            stack.pop()
        else:
            return
        move(before, stack[-1][:2] if stack else None)

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return result


def from_pretrained_walk(directory: Path) -> Walk:
    bert = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=37)
    transformers.BertModel(bert).save_pretrained(directory / "bert")
    pair = EncoderDecoderModel.from_encoder_decoder_pretrained(directory / "bert", directory / "bert",
                                                               decoder_start_token_id=1, eos_token_id=2, pad_token_id=0)
    pair.save_pretrained(directory / "bert2bert")

    def load() -> None:
        BertGenerationEncoder.from_pretrained(directory / "bert")
        EncoderDecoderModel.from_pretrained(directory / "bert2bert")

    return walk(load)


def experiment_walk(directory: Path) -> Walk:
    os.environ["BERTGEN_HOME"] = str(directory / "home")
    torch.set_num_threads(1)
    config = ExperimentConfig.from_dict(dict(
        task="brown-fusion", scheme="rnd2rnd", data_dir=str(SAMPLE_DIR), train_examples=40, validation_examples=4,
        test_examples=6, max_source_length=48, max_target_length=48, max_new_tokens=4, steps=3, batch_size=4,
        schedule="linear", learning_rate=1e-3, warmup_steps=1,
        warm_start=dict(hidden_size=32, num_attention_heads=4, intermediate_size=37, layers=1)), where="walks")
    run_experiment(config, results_dir=directory / "results", progress=False)  # the data cache is built first
    return walk(lambda: run_experiment(config, results_dir=directory / "results", progress=False))


def main() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        for name, walked in (("from_pretrained", from_pretrained_walk(Path(tmp))),
                             ("experiment run", experiment_walk(Path(tmp)))):
            print(f"{name}: by module {walked.summary()}; by concept {walked.by_concept().summary()}")


if __name__ == "__main__":
    main()
