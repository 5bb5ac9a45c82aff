"""Quantized inference: smaller weights, faster CPU decoding, slightly different outputs.

- "int8": dynamic int8 quantization of every `nn.Linear` (PyTorch's fbgemm/onednn kernels): weights are
  stored as int8 with one scale per output channel (a per-tensor scale loses the embedding-tied output
  layer's small rows to its outliers), activations are quantized on the fly per call. CPU only.
  Embeddings and LayerNorms stay in floating point. `benchmarks/bench_generation.py` measures the speed,
  the memory and how often the tokens still agree with float32.
- "nf4": 4-bit NormalFloat weights (Dettmers et al. 2023, QLoRA) through bitsandbytes' `Linear4bit`;
  needs a CUDA GPU and the `bitsandbytes` package, and says so when either is missing.

The quantized model is for inference: `generate`, `pipeline`, `bertgen generate --quantize int8`.
"""
from __future__ import annotations

import copy
import importlib.util
import warnings

import torch
from torch import nn

METHODS = ("int8", "nf4")


class QuantizationError(RuntimeError):
    """A quantization method that this machine cannot run; the message says what is missing."""


def quantize(model: nn.Module, method: str = "int8", inplace: bool = False) -> nn.Module:
    """Return `model` with its linear layers quantized by `method` ("int8" or "nf4"), in eval mode."""
    if method not in METHODS:
        raise ValueError(f"quantize: method {method!r} is not one of {', '.join(METHODS)}")
    if method == "int8":
        return _int8(model, inplace)
    return _nf4(model, inplace)


def _int8(model: nn.Module, inplace: bool) -> nn.Module:
    devices = {p.device.type for p in model.parameters()}
    if devices != {"cpu"}:
        raise QuantizationError(f"quantize('int8') is dynamic quantization for CPU inference, but the model is on "
                                f"{sorted(devices)}; call model.to('cpu') first (or use 'nf4' on a GPU)")
    if any(p.dtype != torch.float32 for p in model.parameters()):
        raise QuantizationError("quantize('int8') starts from float32 weights; call model.float() first")
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    model = model if inplace else copy.deepcopy(model)
    with warnings.catch_warnings():  # torch.ao's deprecation notices: the kernels are current in torch 2.x
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(model.eval(), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                     inplace=True)
    return quantized


def _nf4(model: nn.Module, inplace: bool) -> nn.Module:
    if importlib.util.find_spec("bitsandbytes") is None:
        raise QuantizationError("quantize('nf4') needs the bitsandbytes package (pip install bitsandbytes) and a "
                                "CUDA GPU; on a CPU use quantize='int8'")
    if not torch.cuda.is_available():
        raise QuantizationError("quantize('nf4') runs bitsandbytes' 4-bit kernels, which need a CUDA GPU; none is "
                                "visible here. On a CPU use quantize='int8'")
    import bitsandbytes as bnb

    model = model if inplace else copy.deepcopy(model)
    dtype = next(model.parameters()).dtype
    compute = dtype if dtype in (torch.float16, torch.bfloat16) else torch.float16
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                layer = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                          compute_dtype=compute, quant_type="nf4")
                layer.weight = bnb.nn.Params4bit(child.weight.data.cpu(), requires_grad=False, quant_type="nf4")
                if child.bias is not None:
                    layer.bias = nn.Parameter(child.bias.data.to(compute), requires_grad=False)
                setattr(parent, name, layer)
    return model.cuda().eval()  # Params4bit quantizes when it moves to the GPU
