"""`pipeline("text2text-generation", model=...)`: text in, text out, as transformers' pipeline.

    gen = pipeline("text2text-generation", model="path/to/checkpoint", num_beams=4, max_new_tokens=64)
    gen("Plants create energy through ")        # [{"generated_text": "..."}]
    gen(["first input", "second input"])        # [{"generated_text": ...}, {"generated_text": ...}]

Inputs are tokenized with the checkpoint's own tokenizer (`bertgen.tokenization.load_tokenizer`) and, by
default, without special tokens: that is how bertgen's training encodes sources (`bertgen.data.collate`)
and how the paper's released checkpoints are fed (their model cards pass `add_special_tokens=False`).
They are truncated to what the encoder can read, batched by length (less padding; the outputs do not
depend on the batch, a test checks it), generated, decoded without special tokens and returned in order.
"""
from __future__ import annotations

import os
import sys
import types
from typing import Any

import torch

from bertgen.generation.quantization import quantize as quantize_model
from bertgen.modeling import EncoderDecoderModel
from bertgen.tokenization import load_tokenizer
from bertgen.tokenization.pair import check_vocabulary_fits, target_tokenizer

TASKS = ("text2text-generation",)


class Text2TextGenerationPipeline:
    """A model, its tokenizer and default generation arguments. Call it on a string or a list of strings."""

    def __init__(self, model, tokenizer, batch_size: int = 8, add_special_tokens: bool = False,
                 **generate_kwargs: Any):
        _check_batch_size(batch_size, "pipeline(batch_size=...)")
        check_vocabulary_fits(tokenizer, model.config)
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.add_special_tokens = add_special_tokens
        self.generate_kwargs = generate_kwargs
        self.model.generation_config.update(**generate_kwargs)  # unknown names fail now, not at the first call
        encoder = model.config.encoder  # (a RoBERTa stack's positions start at padding_idx + 1)
        limits = [encoder.max_position_embeddings - encoder.position_offset,
                  getattr(tokenizer, "model_max_length", None)]
        self.max_input_length = min(x for x in limits if isinstance(x, int))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __call__(self, inputs: str | list[str], batch_size: int | None = None, **generate_kwargs: Any):
        """[{"generated_text": ...}] for a string; for a list, one such entry per input (a dict when one
        sequence is returned per input, else a list of `num_return_sequences` dicts), as transformers."""
        single = isinstance(inputs, str)
        if not single and not isinstance(inputs, (list, tuple)):
            raise TypeError(f"text2text-generation: inputs must be a str or a list of str, got "
                            f"{type(inputs).__name__} {inputs!r:.40}; pass the text to generate from")
        texts = [inputs] if single else list(inputs)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text2text-generation: inputs[{i}] is {type(text).__name__} {text!r:.40}, not a str; "
                                "a batch must hold only str")
        if batch_size is not None:
            _check_batch_size(batch_size, "the pipeline's batch_size=")
        outputs = self.generate_texts(texts, batch_size, **generate_kwargs)
        results = [[{"generated_text": text} for text in group] for group in outputs]
        if single:
            return results[0]
        return [r[0] for r in results] if all(len(r) == 1 for r in results) else results

    def generate_texts(self, texts: list[str], batch_size: int | None = None, progress=None,
                       **generate_kwargs: Any) -> list[list[str]]:
        """The generated strings of each input, in input order (`progress`: a tqdm bar to advance)."""
        kwargs = {**self.generate_kwargs, **generate_kwargs}
        size = batch_size or self.batch_size
        encoded = [self.tokenizer.encode(t, add_special_tokens=self.add_special_tokens, truncation=True,
                                         max_length=self.max_input_length) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))  # similar lengths share a batch
        outputs: list[list[str]] = [[] for _ in texts]
        for start in range(0, len(order), size):
            batch = order[start:start + size]
            ids, mask = self._pad([encoded[i] for i in batch])
            generated = self.model.generate(ids, attention_mask=mask, **kwargs)  # (b x n, T)
            self._check_decodable(generated)
            decoded = self.tokenizer.batch_decode(generated.cpu(), skip_special_tokens=True)
            per_input = len(decoded) // len(batch)
            for j, i in enumerate(batch):
                outputs[i] = decoded[j * per_input:(j + 1) * per_input]
            if progress is not None:
                progress.update(len(batch))
        return outputs

    def _check_decodable(self, generated: torch.Tensor) -> None:
        """A model whose vocabulary is larger than its tokenizer's generated an id the tokenizer lacks: the two
        do not belong together (check_vocabulary_fits refuses the other way round when they are paired)."""
        decoding = target_tokenizer(self.tokenizer)  # a pair's decoder side writes the output
        size, high = len(decoding), int(generated.max()) if generated.numel() else 0
        if high >= size:
            vocab = self.model.config.decoder.vocab_size
            raise ValueError(f"pipeline: the model generated the id {high}, which the tokenizer from "
                             f"{getattr(decoding, 'source', type(decoding).__name__)} ({size} tokens) "
                             f"does not have: the model's decoder has {vocab} ids, so model and tokenizer come from "
                             "different checkpoints; load the tokenizer saved with this model")

    def _pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for b, row in enumerate(rows):  # right padding, as the tokenizer pads
            ids[b, :len(row)] = torch.tensor(row, dtype=torch.long)
            mask[b, :len(row)] = 1
        return ids.to(self.device), mask.to(self.device)


def pipeline(task: str = "text2text-generation", model: Any = None, tokenizer: Any = None,
             device: str | torch.device | None = None, dtype: str | torch.dtype = "auto",
             quantize: str | None = None, batch_size: int = 8, add_special_tokens: bool = False,
             **generate_kwargs: Any) -> Text2TextGenerationPipeline:
    """Build a pipeline from a checkpoint directory or hub id (or a loaded model plus its tokenizer).

    device: "cpu", "cuda", ... (default: CPU). dtype: "auto" (the checkpoint's), "float32", "bfloat16",
    "float16" or a torch.dtype. quantize: None, "int8" (CPU) or "nf4" (CUDA + bitsandbytes).
    add_special_tokens: wrap each input in the tokenizer's special tokens ([CLS] ... [SEP]); off by default.
    Other keyword arguments are generation defaults (num_beams=4, max_new_tokens=64, ...)."""
    if task not in TASKS:
        raise ValueError(f"pipeline: task {task!r} is not supported; bertgen has {', '.join(TASKS)}")
    if model is None:
        raise ValueError("pipeline: pass model=<checkpoint directory or hub id> (or a loaded EncoderDecoderModel)")
    if not isinstance(model, (str, os.PathLike)) and not hasattr(model, "generate"):
        raise TypeError(f"pipeline: model= must be a checkpoint directory, a hub id or a loaded "
                        f"EncoderDecoderModel, got {type(model).__name__} {model!r:.40}")
    _check_batch_size(batch_size, "pipeline(batch_size=...)")
    if quantize == "int8" and dtype not in ("auto", "float32", torch.float32):
        raise ValueError(f"pipeline: quantize='int8' and dtype={dtype!r} conflict: int8 quantization starts from "
                         "float32 weights; leave dtype out, or leave quantize out to run in that dtype")
    if isinstance(model, (str, os.PathLike)):
        tokenizer = tokenizer if tokenizer is not None else model
        # int8 quantizes float32 weights, whatever precision the checkpoint was saved in
        model = EncoderDecoderModel.from_pretrained(model, dtype="float32" if quantize == "int8" else dtype)
    elif tokenizer is None:
        raise ValueError("pipeline: a loaded model needs tokenizer=<tokenizer or its directory>")
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = load_tokenizer(tokenizer)
    if quantize is not None:
        model = quantize_model(model, quantize)
    if device is not None and quantize != "nf4":  # nf4 weights already live on the GPU
        model = model.to(device)
    return Text2TextGenerationPipeline(model.eval(), tokenizer, batch_size=batch_size,
                                       add_special_tokens=add_special_tokens, **generate_kwargs)


def _check_batch_size(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TypeError(f"{where} must be a positive int, got {type(value).__name__} {value!r}; e.g. batch_size=8")


class _CallableModule(types.ModuleType):
    """Once `bertgen.pipelines` (this module) is imported, Python sets the package attribute `bertgen.pipelines` to
    the module, shadowing the function that `from bertgen import pipeline` promises; so the module calls it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Text2TextGenerationPipeline:
        return pipeline(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
