"""GPT-2 (Radford et al. 2019) as transformers builds it: the paper's GPT rows and a decoder with cross-attention.

Pre-LN blocks (LayerNorm before each sub-layer, one more after the last), learned absolute positions, no
segment embeddings, causal from birth. Names and layouts are transformers' (`transformer.h.0.attn.c_attn.weight`
...): the projections are `Conv1D`s, whose weight is (in, out), the transpose of nn.Linear's, because OpenAI's
TensorFlow checkpoint stored them so. With `add_cross_attention` each block gets `ln_cross_attn` and
`crossattention` (`q_attn` for queries, `c_attn` for keys and values of the encoder output), between
self-attention and the MLP: what transformers' EncoderDecoderModel trains for bert2gpt2.

Shape legend used in comments:
    B  batch                    S  source length (encoder)      T  target length (this call)
    L  key length (cached + T)  H  hidden size (n_embd)         nh heads, hs = H / nh head size
    V  vocabulary size
"""
from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from bertgen.activations import ACT2FN
from bertgen.cache import KVCache
from bertgen.fast.bf16 import checkpoint_contexts
from bertgen.checkpoints import CheckpointFiles, load_state_dict_strict, resolve_dtype
from bertgen.config import GPT2Config
from bertgen.fast.dropout import Dropout
from bertgen.generation import generate_causal
from bertgen.generation.prefix import generate_prefix
from bertgen.generation.validation import _check_mask
from bertgen.loss import head_logits_and_loss
from bertgen.modeling.attention import LayerInputs, attend, padding_mask
from bertgen.modeling.inputs import check_inputs, check_labels, check_mask, resolve_outputs
from bertgen.modeling.outputs import BaseModelOutput, CausalLMOutput
from bertgen.modeling.packing import Packing
from bertgen.modeling.pretrained_model import PreTrainedModel

# what a checkpoint without cross-attention leaves new when add_cross_attention=True is asked for
_CROSS = r"(^|\.)h\.\d+\.(crossattention|ln_cross_attn)\."


class Conv1D(nn.Module):
    """A linear layer whose weight is stored (in, out) (nx, nf): y = x @ W + b, transformers' Conv1D."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)  # (N, nf), as transformers
        return out.view(*x.shape[:-1], self.nf)


class GPT2Attention(nn.Module):
    """Causal self-attention (`c_attn` gives q, k, v at once), or cross-attention (`q_attn` the queries from the
    decoder, `c_attn` keys and values from the encoder output); `c_proj` the output projection."""

    def __init__(self, config: GPT2Config, is_cross_attention: bool = False, layer_idx: int = 0):
        super().__init__()
        H = config.n_embd
        self.num_heads, self.head_size, self.split_size = config.n_head, config.head_size, H
        self.is_cross_attention, self.layer_idx = is_cross_attention, layer_idx
        self.scaling = self.head_size ** -0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scaling /= float(layer_idx + 1)
        if is_cross_attention:
            self.c_attn = Conv1D(2 * H, H)
            self.q_attn = Conv1D(H, H)
        else:
            self.c_attn = Conv1D(3 * H, H)
        self.c_proj = Conv1D(H, H)
        self.attn_dropout_p = config.attn_pdrop
        self.resid_dropout = Dropout(config.resid_pdrop)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        return x.view(B, N, self.num_heads, self.head_size).transpose(1, 2)  # (B, nh, N, hs)

    def forward(self, hidden_states: torch.Tensor,
                inputs: LayerInputs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T, H) -> (B, T, H) and the (B, nh, T, L) attention weights when asked for (else None)."""
        layer, cache = self.layer_idx, inputs.cache
        if self.is_cross_attention:
            q = self.split_heads(self.q_attn(hidden_states))  # (B, nh, T, hs)
            if cache is not None and cache.cross[layer] is not None:  # encoder k/v computed at the first step
                k, v = cache.cross[layer]  # (B, nh, S, hs)
            else:
                k, v = map(self.split_heads, self.c_attn(inputs.encoder_hidden_states).split(self.split_size, dim=2))
                if cache is not None:
                    cache.cross[layer] = (k, v)
            mask, is_causal = inputs.cross_mask, False
        else:
            q, k, v = map(self.split_heads, self.c_attn(hidden_states).split(self.split_size, dim=2))  # (B, nh, T, hs)
            if cache is not None:
                k, v = cache.update(layer, k, v)  # (B, nh, L, hs)
            mask, is_causal = inputs.self_mask, inputs.is_causal
        B, _, T, _ = q.shape
        y, weights = attend(q, k, v, mask, is_causal, dropout_p=self.attn_dropout_p if self.training else 0.0,
                            scale=self.scaling, output_attentions=inputs.output_attentions)
        y = y.transpose(1, 2).reshape(B, T, -1)  # (B, T, H): heads side by side again
        return self.resid_dropout(self.c_proj(y)), weights


class GPT2MLP(nn.Module):
    def __init__(self, intermediate_size: int, config: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(intermediate_size, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, intermediate_size)
        self.act = ACT2FN[config.activation_function]
        self.dropout = Dropout(config.resid_pdrop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))  # (B, T, H) through (B, T, 4H)


class GPT2Block(nn.Module):
    """x + attn(ln_1(x)); (decoder) x + crossattention(ln_cross_attn(x)); x + mlp(ln_2(x)). Pre-LN."""

    def __init__(self, config: GPT2Config, layer_idx: int = 0):
        super().__init__()
        H, eps = config.n_embd, config.layer_norm_epsilon
        self.ln_1 = nn.LayerNorm(H, eps=eps)
        self.attn = GPT2Attention(config, layer_idx=layer_idx)
        self.ln_2 = nn.LayerNorm(H, eps=eps)
        if config.add_cross_attention:
            self.crossattention = GPT2Attention(config, is_cross_attention=True, layer_idx=layer_idx)
            self.ln_cross_attn = nn.LayerNorm(H, eps=eps)
        self.mlp = GPT2MLP(config.intermediate_size, config)

    def forward(self, x: torch.Tensor,
                inputs: LayerInputs) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(B, T, H) -> (B, T, H), and the self- and cross-attention weights when asked for (else None)."""
        y, self_weights = self.attn(self.ln_1(x), inputs)
        x = x + y
        cross_weights = None
        if inputs.encoder_hidden_states is not None:
            y, cross_weights = self.crossattention(self.ln_cross_attn(x), inputs)
            x = x + y
        x = x + self.mlp(self.ln_2(x))
        return x, self_weights, cross_weights


def _init_weights(module: nn.Module, config: GPT2Config) -> None:
    """GPT-2's initialization, as transformers: normal(0, initializer_range) weights, zero biases, unit
    LayerNorms, and the residual projections (c_proj) scaled by 1 / sqrt(2 n_layer) (two per block)."""
    std = config.initializer_range
    if isinstance(module, (Conv1D, nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=std)
    if isinstance(module, (Conv1D, nn.Linear)) and module.bias is not None:
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    if isinstance(module, (GPT2Attention, GPT2MLP)):
        nn.init.normal_(module.c_proj.weight, std=std / math.sqrt(2 * config.n_layer))


class GPT2PreTrainedModel(PreTrainedModel):
    """Both GPT-2 classes' base (transformers' class of this name): their config, and loading either layout."""

    config_class = GPT2Config
    base_model_prefix = "transformer"

    @classmethod
    def _from_checkpoint(cls, files: CheckpointFiles, given: GPT2Config | None, dtype: str | torch.dtype,
                         **config_overrides: Any) -> tuple[GPT2PreTrainedModel, list[str]]:
        """Checkpoints of GPT2LMHeadModel (`transformer.` keys, the LM head tied) and of GPT2Model (no prefix) load
        into either. Asking for `add_cross_attention=True` on a checkpoint without it leaves the cross-attention
        new (normal(0, initializer_range)), and the warning says so."""
        config = files.config.replace(**config_overrides) if config_overrides else files.config
        state, origin = _to_layout(files.state, cls.body_prefix), _to_layout(files.origin, cls.body_prefix)
        model = cls(config)
        model.to(resolve_dtype(dtype, config.extra, state))
        has_cross = any(re.search(_CROSS, k) for k in state)
        new = load_state_dict_strict(model, state, origin, allow_missing=[] if has_cross else [_CROSS])
        messages = [f"the checkpoint has no cross-attention; {len(new)} tensors of every block's crossattention and "
                    "ln_cross_attn are newly initialized (train before use)"] if new else []
        if files.generation_config is not None and cls.can_generate():
            model.generation_config = files.generation_config
        return model, messages


def _to_layout(state: dict, prefix: str) -> dict:
    """Keys of either GPT-2 layout under `prefix` ("transformer." for the LM head model, "" for GPT2Model); the
    LM head's weight, tied to wte, has no place in GPT2Model and is left out."""
    out = {}
    for key, value in state.items():
        body = key.removeprefix("transformer.")
        if body == "lm_head.weight":
            if prefix:
                out[body] = value
            continue
        out[prefix + body] = value
    return out


class GPT2Model(GPT2PreTrainedModel):
    """Token and position embeddings, the blocks, a final LayerNorm (transformers' GPT2Model)."""

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT2Block(config, layer_idx=i) for i in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.gradient_checkpointing = False
        self.apply(lambda m: _init_weights(m, config))

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.wte = value

    def forward(self, input_ids: torch.Tensor | None = None, past_key_values: KVCache | None = None,
                attention_mask: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                encoder_hidden_states: torch.Tensor | None = None, encoder_attention_mask: torch.Tensor | None = None,
                use_cache: bool | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None,
                packing: Packing | None = None, encoder_packing: Packing | None = None) -> BaseModelOutput | tuple:
        """As transformers. (`packing`, `encoder_packing`: the BertGeneration body's packed loss, which GPT-2
        does not have; EncoderDecoderModel passes None.)"""
        if packing is not None or encoder_packing is not None:
            raise ValueError("GPT2Model: no packed forward (bertgen.modeling.packing); pass packing=None")
        config = self.config
        output_attentions, output_hidden_states, return_dict = resolve_outputs(
            config, output_attentions, output_hidden_states, return_dict)
        use_cache = config.use_cache if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = KVCache(config.n_layer)
        cache = past_key_values
        past = cache.get_seq_length() if cache is not None else 0
        B, T = check_inputs(input_ids, inputs_embeds, config, "GPT2Model", past)
        check_mask(attention_mask, (B, past + T), "attention_mask", "GPT2Model")

        x = self.wte(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, H)
        if position_ids is None:
            position_ids = torch.arange(past, past + T, device=x.device)[None]  # (1, T)
        x = x + self.wpe(position_ids)
        if token_type_ids is not None:  # GPT-2 has no segment table: transformers looks them up in wte
            x = x + self.wte(token_type_ids)
        x = self.drop(x)
        self_mask = padding_mask(attention_mask)  # (B, 1, 1, L) or None
        cross_mask = None
        if encoder_hidden_states is not None:
            if not config.add_cross_attention:
                raise ValueError("GPT2Model: encoder_hidden_states given but the config has no cross-attention "
                                 "(build it with add_cross_attention=True)")
            check_mask(encoder_attention_mask, tuple(encoder_hidden_states.shape[:2]), "encoder_attention_mask",
                       "GPT2Model")
            cross_mask = padding_mask(encoder_attention_mask)  # (B, 1, 1, S) or None

        inputs = LayerInputs(self_mask=self_mask, is_causal=True, encoder_hidden_states=encoder_hidden_states,
                             cross_mask=cross_mask, cache=cache, output_attentions=output_attentions)
        self_maps, cross_maps, states = [], [], []
        for block in self.h:
            states.append(x)
            if self.gradient_checkpointing and self.training and cache is None:
                x, self_w, cross_w = checkpoint(block, x, inputs, use_reentrant=False,
                                                   context_fn=checkpoint_contexts)
            else:
                x, self_w, cross_w = block(x, inputs)
            self_maps.append(self_w)
            cross_maps.append(cross_w)
        x = self.ln_f(x)
        states.append(x)  # as transformers: the last hidden state is after ln_f
        out = BaseModelOutput(
            last_hidden_state=x,
            past_key_values=cache if use_cache else None,
            hidden_states=tuple(states) if output_hidden_states else None,
            attentions=tuple(self_maps) if output_attentions else None,
            cross_attentions=tuple(cross_maps) if output_attentions and encoder_hidden_states is not None else None,
        )
        return out if return_dict else out.to_tuple()


class GPT2LMHeadModel(GPT2PreTrainedModel):
    """GPT2Model plus an LM head tied to `wte` (no bias). With `add_cross_attention=True`, the decoder of an
    EncoderDecoderModel (bert2gpt, roberta2gpt, rnd2gpt); alone, the paper's decoder-only `gpt`."""

    body_prefix = "transformer."

    @classmethod
    def can_generate(cls) -> bool:
        return True

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        nn.init.normal_(self.lm_head.weight, std=config.initializer_range)
        self.tie_weights()

    def tie_weights(self) -> None:
        if self.config.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight

    def get_input_embeddings(self) -> nn.Embedding:
        return self.transformer.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.transformer.wte = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def _resize_head_bias(self, target: int) -> None:
        self.lm_head.out_features = target  # no bias: the (tied) weight was resized already

    def generate(self, input_ids=None, attention_mask=None, generation_config=None, generator=None, **kwargs):
        """Continue each prompt, with transformers' arguments: greedy or sampling (bertgen.generation.causal), or
        beam search (num_beams > 1) through the encoder-decoder's search, the prompt's last token as the start
        token and the tokens before it as a prefix (bertgen.generation.prefix; left padding works there)."""
        beams = kwargs.get("num_beams") or (generation_config or self.generation_config).num_beams or 1
        if beams == 1 or input_ids is None:
            return generate_causal(self, input_ids, attention_mask=attention_mask,
                                   generation_config=generation_config, generator=generator, **kwargs)
        if attention_mask is not None:
            _check_mask(attention_mask, input_ids)
        if kwargs.get("max_length") is not None and kwargs.get("max_new_tokens") is None:
            kwargs["max_new_tokens"] = kwargs.pop("max_length") - input_ids.shape[1]  # max_length counts the prompt
        prefix_mask = None if attention_mask is None else attention_mask[:, :-1]
        out = generate_prefix(self, input_ids[:, :-1], prefix_mask, generation_config, generator,
                              starts=input_ids[:, -1], **kwargs)
        sequences = out if isinstance(out, torch.Tensor) else out.sequences  # (B x n, 1 + generated)
        prompts = input_ids[:, :-1].repeat_interleave(len(sequences) // len(input_ids), 0)
        sequences = torch.cat([prompts, sequences], dim=1)  # as transformers: the prompt, then its continuation
        if isinstance(out, torch.Tensor):
            return sequences
        out.sequences = sequences
        return out

    def logits_and_loss(self, hidden, labels=None, shift=0, logits_to_keep=0, packing=None):
        """(B, T, H) -> logits (B, T, V), and the mean cross-entropy of position t against label t + shift over
        the labels that are not -100 (as BertGenerationDecoder.logits_and_loss; no packed form)."""
        if packing is not None:
            raise ValueError("GPT2LMHeadModel: no packed loss; pass packing=None")
        return head_logits_and_loss(self.lm_head, hidden, labels, shift, logits_to_keep)

    def _loss_only(self, labels, past_key_values, output_attentions, output_hidden_states) -> bool:
        """GPT-2 has no packed loss: every call computes the logits (see BertGenerationDecoder._loss_only)."""
        return False

    def forward(self, input_ids: torch.Tensor | None = None, past_key_values: KVCache | None = None,
                attention_mask: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                encoder_hidden_states: torch.Tensor | None = None, encoder_attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, use_cache: bool | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, logits_to_keep: int = 0) -> CausalLMOutput | tuple:
        inputs = input_ids if input_ids is not None else inputs_embeds
        if labels is not None:
            use_cache = False
            if inputs is not None:
                check_labels(labels, inputs.shape[:2], "GPT2LMHeadModel")
        return_dict = self.config.return_dict if return_dict is None else return_dict
        out = self.transformer(input_ids, past_key_values=past_key_values, attention_mask=attention_mask,
                               token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds,
                               encoder_hidden_states=encoder_hidden_states,
                               encoder_attention_mask=encoder_attention_mask, use_cache=use_cache,
                               output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                               return_dict=True)
        # a causal LM: position t predicts token t + 1
        logits, loss = self.logits_and_loss(out.last_hidden_state, labels, shift=1, logits_to_keep=logits_to_keep)
        result = CausalLMOutput(loss=loss, logits=logits, past_key_values=out.past_key_values,
                                hidden_states=out.hidden_states, attentions=out.attentions,
                                cross_attentions=out.cross_attentions)
        return result if return_dict else result.to_tuple()
