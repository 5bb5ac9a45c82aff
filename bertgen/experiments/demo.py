"""The main job (`bertgen demo`, `make demo`): bert2bert warm-started from the embedded MiniLM-L6 checkpoint,
fine-tuned on bible-modern (King James English -> the World English Bible's) for a few minutes, evaluated beside
the copy-the-input baseline, saved where `bertgen generate` and transformers load it."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from bertgen.data import get_task
from bertgen.data.corpora import fetch
from bertgen.evaluation import evaluate
from bertgen.experiments.config import ExperimentConfig
from bertgen.experiments.run import copy_baseline, evaluate_kwargs, train_model, work_dir
from bertgen.training.trainer import CHECKPOINT


# Cross-attention starts as a copy of each layer's pretrained self-attention (not the paper's random init): in
# the demo's minutes a randomly initialized cross-attention is barely learnt and the decoder mostly ignores the input
# (experiments/RECIPE.md). bible-modern, not fusion: copying a fusion input already scores SARI 67, which takes
# hours of CPU to beat (RECIPE.md), while modernizing King James verses is beaten in minutes.
DEMO_CONFIG = dict(task="bible-modern", scheme="bert2bert", name="demo", warm_start={"cross_attention": "self"},
                   max_source_length=32, max_target_length=32, max_new_tokens=32, validation_examples=64,
                   test_examples=200, steps=1200, batch_size=8, schedule="constant",
                   learning_rate=3e-4, warmup_steps=100)
# what to try with `bertgen generate` on the saved model, per task
TRY = {"bible-modern": "And God said, Let there be light: and there was light.",
       "brown-fusion": "The storm was over. We went outside."}


def run_demo(output_dir: str | os.PathLike | None = None, minutes: float = 15.0, examples: int = 10,
             progress: bool = True, **overrides: Any) -> dict[str, Any]:
    """The main job on the embedded default: fetch the task's corpora if needed (the Bibles: Debian's SWORD
    packages), warm-start bert2bert from MiniLM-L6, fine-tune for `minutes` (at most DEMO_CONFIG's steps), evaluate
    on the test split, print a results table and `examples` input -> output -> reference triples, and save the model
    where `bertgen generate --model DIR` and transformers' EncoderDecoderModel.from_pretrained load it.
    `overrides` replace DEMO_CONFIG fields (e.g. steps=2, test_examples=4 for a quick check). Returns the
    metrics, the copy-the-input baseline's, the steps trained and the model directory."""
    config = ExperimentConfig.from_dict({**DEMO_CONFIG, **overrides}, where="run_demo")
    output = Path(output_dir) if output_dir is not None else work_dir().parent / "demo" / f"bert2bert-{config.task}"
    start = time.perf_counter()
    for corpus in () if config.data_dir else get_task(config.task).corpora:
        if not fetch.is_fetched(corpus):
            fetch.fetch(corpus)
    cross = config.warm_start.get("cross_attention", "random")
    print(f"bert2bert warm-started from {config.checkpoint} (cross-attention: "
          f"{'copied from self-attention' if cross == 'self' else 'random, as in the paper'}); training on "
          f"{config.task} for up to {minutes:g} minutes ({config.steps} steps of batch {config.batch_size} at most)")
    model, tokenizer, data, trained = train_model(config, output / "training", progress, resume=False,
                                                  max_time_s=minutes * 60, log_every=10,
                                                  eval_every=max(1, config.steps // 4), checkpoint_every=0)
    test = data["test"].remove_columns(["input_ids", "labels", "length"])
    metrics, predictions = evaluate(model, tokenizer, test, config.task, **evaluate_kwargs(config, tokenizer))
    copy = copy_baseline(config.task, tokenizer, test)

    model.generation_config.max_new_tokens = config.max_new_tokens
    model.save_pretrained(output / "model")
    tokenizer.save_pretrained(output / "model")
    shutil.rmtree(output / "training" / CHECKPOINT, ignore_errors=True)  # the saved model is what is kept

    names = list(metrics)
    print(f"\n{config.task} test set, {len(test)} examples (inputs and targets up to {config.max_source_length} tokens)\n")
    print("| system | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    print("| copy the input (no model) | " + " | ".join(f"{copy[n]:.1f}" for n in names) + " |")
    print(f"| bert2bert{'-xattn' if cross == 'self' else ''}, {trained.steps} steps ({trained.wall_s / 60:.1f} min, "
          "this run) | "
          + " | ".join(f"{metrics[n]:.1f}" for n in names) + " |")
    headline = next(n for n in names if n in ("sari", "bleu"))
    beats = metrics[headline] > copy[headline]
    print(f"\nrecipe: {describe_recipe(config, cross)}; {trained.steps} steps in {trained.wall_s / 60:.1f} min, the best "
          f"weights by validation loss (step {trained.best_step}). It {'beats' if beats else 'does NOT beat'} copying "
          f"the input on {headline} ({metrics[headline]:.1f} against {copy[headline]:.1f})"
          + ("." if beats else ": train longer (bertgen demo --minutes N) or see experiments/RECIPE.md."))
    for _, row in predictions.head(examples).iterrows():
        print(f"\ninput:     {row['source']}\noutput:    {row['prediction']}\nreference: {row['target']}")
    print(f"\nmodel saved to {output / 'model'} ({(time.perf_counter() - start) / 60:.1f} min in all); try\n"
          f"  echo \"{TRY.get(config.task, 'Hello.')}\" | bertgen generate --model {output / 'model'}\n"
          f"  or transformers.EncoderDecoderModel.from_pretrained(\"{output / 'model'}\")")
    return {"metrics": metrics, "copy_baseline": copy, "beats_copy": beats, "steps": trained.steps, "model_dir": output / "model"}


def describe_recipe(config: ExperimentConfig, cross: str) -> str:
    start = "cross-attention copied from self-attention (beyond the paper)" if cross == "self" else \
        "random cross-attention (the paper's)"
    return (f"{config.scheme} from {config.checkpoint}, {start}, {config.schedule} learning rate {config.learning_rate:g} "
            f"after {config.warmup_steps} warmup steps, batch {config.batch_size}, inputs and targets up to "
            f"{config.max_source_length} tokens, "
            + (f"beam {config.num_beams}" if config.num_beams > 1 else "greedy") + " decoding")
