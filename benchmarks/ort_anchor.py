"""A second anchor: transformers' EncoderDecoderModel exported to ONNX and decoded with ONNX Runtime.

What a user could pick instead of bertgen for fast CPU inference. Three graphs, as optimum lays them out for
encoder-decoders: the encoder; the decoder's first step (computes and returns every layer's cross-attention
keys/values and the first self-attention keys/values); the decoder with past keys/values (one new token per
row). Each is transformers' own modules (BertGenerationEncoder, BertGenerationDecoder with an
EncoderDecoderCache) traced by torch.onnx.export; ONNX Runtime applies its graph optimizations at load.
Greedy decoding runs in numpy around the sessions, the end token suppressed until `min_new_tokens` as
transformers' generate does. Beam search runs bertgen's search loop (the same algorithm, step for step, as
transformers' `_beam_search`) over the sessions' logits, the past keys/values reordered in numpy: so a beam row
compares the engines under one search. (optimum itself is not used: installing it here downgrades
transformers.)
Imported by bench_generation.py.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import torch
from torch import nn

from bertgen.generation.config import GenerationConfig
from bertgen.generation.search import SearchSpec, search


def _cache(flat: tuple[torch.Tensor, ...], layers: int):
    """transformers' EncoderDecoderCache from (self k, self v, cross k, cross v) per layer."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    own = [(flat[4 * i], flat[4 * i + 1]) for i in range(layers)]
    cross = [(flat[4 * i + 2], flat[4 * i + 3]) for i in range(layers)]
    return EncoderDecoderCache(DynamicCache(own), DynamicCache(cross))


def _flat(cache, cross: bool) -> list[torch.Tensor]:
    out = []
    for i in range(len(cache.self_attention_cache.layers)):
        out += [cache.self_attention_cache.layers[i].keys, cache.self_attention_cache.layers[i].values]
        if cross:
            out += [cache.cross_attention_cache.layers[i].keys, cache.cross_attention_cache.layers[i].values]
    return out


class _Encoder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.encoder = model.encoder

    def forward(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class _FirstStep(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.decoder = model.decoder

    def forward(self, input_ids, encoder_hidden_states, encoder_attention_mask):
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        out = self.decoder(input_ids=input_ids, encoder_hidden_states=encoder_hidden_states,
                           encoder_attention_mask=encoder_attention_mask, use_cache=True,
                           past_key_values=EncoderDecoderCache(DynamicCache(), DynamicCache()))
        return (out.logits[:, -1], *_flat(out.past_key_values, cross=True))


class _NextStep(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.decoder = model.decoder
        self.layers = model.decoder.config.num_hidden_layers

    def forward(self, input_ids, encoder_hidden_states, encoder_attention_mask, *past):
        out = self.decoder(input_ids=input_ids, encoder_hidden_states=encoder_hidden_states,
                           encoder_attention_mask=encoder_attention_mask, use_cache=True,
                           past_key_values=_cache(past, self.layers))
        return (out.logits[:, -1], *_flat(out.past_key_values, cross=False))


def _names(layers: int, prefix: str, cross: bool) -> list[str]:
    parts = ("key", "value", "cross_key", "cross_value") if cross else ("key", "value")
    return [f"{prefix}.{i}.{p}" for i in range(layers) for p in parts]


def export(model, directory: str, source: int = 8) -> None:
    """encoder.onnx, first_step.onnx and next_step.onnx of transformers' `model` (eval, float32) in `directory`.
    The wrappers are put in eval mode first: torch.onnx.export restores each wrapper's mode afterwards, and a
    fresh nn.Module's is training, which would leave the model's dropout on."""
    layers = model.decoder.config.num_hidden_layers
    heads = model.decoder.config.num_attention_heads
    hs = model.decoder.config.hidden_size // heads
    B = 2
    ids, mask = torch.randint(5, 100, (B, source)), torch.ones(B, source, dtype=torch.long)
    start = torch.full((B, 1), 1)
    batch, src, past = {0: "batch"}, {0: "batch", 1: "source"}, {0: "batch", 2: "past"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        states = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        torch.onnx.export(_Encoder(model).eval(), (ids, mask), os.path.join(directory, "encoder.onnx"), dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                          dynamic_axes={"input_ids": src, "attention_mask": src, "hidden": src}, opset_version=17)
        present = _names(layers, "present", cross=True)
        torch.onnx.export(_FirstStep(model).eval(), (start, states, mask), os.path.join(directory, "first_step.onnx"),
                          dynamo=False, input_names=["input_ids", "encoder_hidden_states", "encoder_attention_mask"],
                          output_names=["logits", *present], opset_version=17,
                          dynamic_axes={"input_ids": batch, "encoder_hidden_states": src, "encoder_attention_mask": src,
                                        "logits": batch, **{n: (src if "cross" in n else batch) for n in present}})
        flat = []
        for _ in range(layers):
            flat += [torch.randn(B, heads, 3, hs), torch.randn(B, heads, 3, hs),
                     torch.randn(B, heads, source, hs), torch.randn(B, heads, source, hs)]
        inputs = _names(layers, "past", cross=True)
        outputs = _names(layers, "present", cross=False)
        torch.onnx.export(_NextStep(model).eval(), (start, states, mask, *flat), os.path.join(directory, "next_step.onnx"),
                          dynamo=False,
                          input_names=["input_ids", "encoder_hidden_states", "encoder_attention_mask", *inputs],
                          output_names=["logits", *outputs], opset_version=17,
                          dynamic_axes={"input_ids": batch, "encoder_hidden_states": src, "encoder_attention_mask": src,
                                        "logits": batch,
                                        **{n: ({0: "batch", 2: "source"} if "cross" in n else past) for n in inputs},
                                        **{n: {0: "batch", 2: "total"} for n in outputs}})
    assert not any(m.training for m in model.modules()), "export left the model in training mode"


class OrtGreedy:
    """Greedy decoding with ONNX Runtime over the graphs `export` wrote."""

    def __init__(self, directory: str, threads: int, start_id: int, eos_id: int, pad_id: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        load = lambda name: ort.InferenceSession(os.path.join(directory, name), options,  # noqa: E731
                                                 providers=["CPUExecutionProvider"])
        self.encoder, self.first, self.next = load("encoder.onnx"), load("first_step.onnx"), load("next_step.onnx")
        self.start_id, self.eos_id, self.pad_id = start_id, eos_id, pad_id
        self.past_names = [i.name for i in self.next.get_inputs()][3:]

    def generate(self, input_ids: torch.Tensor, max_new_tokens: int, min_new_tokens: int = 0) -> torch.Tensor:
        """(B, S) source ids -> (B, 1 + new) decoder ids starting with the start token, as transformers returns."""
        ids = input_ids.numpy().astype(np.int64)
        mask = np.ones_like(ids)
        states = self.encoder.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        B = ids.shape[0]
        out = np.full((B, 1), self.start_id, dtype=np.int64)
        feed = {"input_ids": out, "encoder_hidden_states": states, "encoder_attention_mask": mask}
        logits, *present = self.first.run(None, feed)
        cross = {n: present[i] for i, n in enumerate(self.past_names) if "cross" in n}
        own = [p for n, p in zip(self.past_names, present) if "cross" not in n]
        done = np.zeros(B, dtype=bool)
        for step in range(max_new_tokens):
            if step < min_new_tokens:
                logits[:, self.eos_id] = -np.inf
            token = np.where(done, self.pad_id, logits.argmax(-1))  # padding after the end, as transformers
            out = np.concatenate([out, token[:, None]], axis=1)
            done |= token == self.eos_id
            if done.all() or step == max_new_tokens - 1:
                break
            feed = {"input_ids": token[:, None].astype(np.int64), "encoder_hidden_states": states,
                    "encoder_attention_mask": mask, **cross}
            feed.update({n: own[j] for j, n in enumerate(n for n in self.past_names if "cross" not in n)})
            logits, *own = self.next.run(None, feed)
        return torch.from_numpy(out)

    def beam_search(self, input_ids: torch.Tensor, num_beams: int, max_new_tokens: int,
                    min_new_tokens: int = 0) -> torch.Tensor:
        """Beam search over the sessions with bertgen's search loop; (B, 1 + new) ids as transformers returns."""
        config = GenerationConfig(num_beams=num_beams, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                                  eos_token_id=self.eos_id, pad_token_id=self.pad_id,
                                  decoder_start_token_id=self.start_id).resolved()
        ids = input_ids.numpy().astype(np.int64)
        mask = np.ones_like(ids)
        states = self.encoder.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        starts = torch.full((len(ids), 1), self.start_id, dtype=torch.long)  # (B, 1) prompts
        spec = SearchSpec.build(config, [self.eos_id], self.pad_id, max_new_tokens + 1, None, starts.device)
        sequences, _, _ = search(_OrtSteps(self, states, mask), starts, spec)
        return sequences


class _OrtSteps:
    """The decoder steps of bertgen's search (`step`, `expand`, `select`) run by the ONNX Runtime sessions, which
    take the encoder output and cross-attention keys/values per row."""

    def __init__(self, ort: OrtGreedy, states: np.ndarray, mask: np.ndarray):
        self.ort, self.states, self.mask = ort, states, mask
        self.own = self.cross = None  # past self-attention keys/values; cross-attention's, per layer

    def step(self, sequences: torch.Tensor) -> torch.Tensor:
        """(rows, t) tokens so far -> (rows, V) float32 logits for the next one."""
        feed = {"input_ids": sequences[:, -1:].numpy().astype(np.int64), "encoder_hidden_states": self.states,
                "encoder_attention_mask": self.mask}
        names = self.ort.past_names
        if self.own is None:
            logits, *present = self.ort.first.run(None, feed)
            self.cross = [p for n, p in zip(names, present) if "cross" in n]
            self.own = [p for n, p in zip(names, present) if "cross" not in n]
        else:
            feed.update(zip((n for n in names if "cross" in n), self.cross))
            feed.update(zip((n for n in names if "cross" not in n), self.own))
            logits, *self.own = self.ort.next.run(None, feed)
        return torch.from_numpy(logits)

    def expand(self, copies: int, together: bool) -> None:  # the sessions take keys/values per row: copy them
        rows = torch.arange(len(self.states)).repeat_interleave(copies)
        self.select(rows, inputs=rows)

    def select(self, rows: torch.Tensor, inputs: torch.Tensor | None = None) -> None:
        rows = rows.numpy()
        self.own = [p[rows] for p in self.own]
        if inputs is not None:  # the rows' inputs changed: their encoder rows follow
            self.cross = [p[rows] for p in self.cross]
            self.states, self.mask = self.states[rows], self.mask[rows]
