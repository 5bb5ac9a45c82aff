"""Activation functions by their config.json names (`hidden_act`), as transformers spells them."""
from __future__ import annotations

import torch
import torch.nn.functional as F

ACT2FN = {
    "gelu": F.gelu,  # BERT's exact (erf) GELU
    "relu": F.relu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "silu": F.silu,
    "swish": F.silu,
}
