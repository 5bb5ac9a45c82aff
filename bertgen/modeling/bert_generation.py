"""BertGeneration: BERT's Transformer as encoder and as decoder (the encoder-decoder is in encoder_decoder.py).

Post-LN layers exactly as BERT (Devlin et al. 2019), no token-type embeddings, attention through
`bertgen.modeling.attention.attend`. A stack builds what its layers read besides the hidden states once (masks,
encoder output, cache, packing: `LayerInputs`) and hands it to each layer. Module and parameter names are transformers'
(`encoder.encoder.layer.0.attention.self.query.weight`, `decoder.bert...`, `decoder.lm_head...`): they are
the checkpoint format, so state dicts move between the two libraries without a mapping table.

Shape legend used in comments:
    B  batch                    S  source length (encoder)      T  target length (decoder, this call)
    L  key length (cached + T)  H  hidden size                  nh heads, hs = H / nh head size
    V  vocabulary size
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from bertgen.activations import ACT2FN
from bertgen.cache import KVCache
from bertgen.fast.bf16 import checkpoint_contexts
from bertgen.checkpoints import CheckpointFiles, read_config_json
from bertgen.config import BertGenerationConfig
from bertgen.fast.dropout import Dropout, fast_cpu_dropout
from bertgen.generation import generate_causal
from bertgen.loss import head_logits_and_loss, linear_cross_entropy
from bertgen.modeling.attention import LayerInputs, attend, padding_mask
from bertgen.modeling.bert_stacks import BertPooler, BertPredictionHeadTransform, is_bert_stack, roberta_positions
from bertgen.modeling.inputs import check_inputs, check_labels, check_mask, resolve_outputs
from bertgen.modeling.loading import from_bert_generation_checkpoint
from bertgen.modeling.outputs import BaseModelOutput, CausalLMOutput
from bertgen.modeling.packing import Packing, decoder_keep, pack, position_targets, unpack
from bertgen.modeling.pretrained_model import PreTrainedModel

class BertGenerationEmbeddings(nn.Module):
    """Word + absolute position embeddings, then LayerNorm and dropout (no token types in BertGeneration; a
    BERT or RoBERTa stack adds segment 0's row and numbers RoBERTa's positions its way: bert_stacks)."""

    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        if is_bert_stack(config):
            self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.roberta_padding_idx = config.pad_token_id if config.model_type == "roberta" else None
        # self.LayerNorm is not snake-cased to stick with TensorFlow model variable names (and checkpoints)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor | None, past_length: int = 0, inputs_embeds: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        words = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, H)
        T = words.shape[1]
        if position_ids is None and self.roberta_padding_idx is not None and input_ids is not None:
            position_ids = roberta_positions(input_ids, self.roberta_padding_idx, past_length)  # (B, T)
        elif position_ids is None:
            offset = past_length + (self.roberta_padding_idx + 1 if self.roberta_padding_idx is not None else 0)
            position_ids = torch.arange(offset, offset + T, device=words.device)  # (T,)
        if hasattr(self, "token_type_embeddings"):  # every token is segment 0
            words = words + self.token_type_embeddings.weight[0]
        x = words + self.position_embeddings(position_ids)  # (B, T, H)
        return self.dropout(self.LayerNorm(x))


class BertGenerationSelfAttention(nn.Module):
    """Multi-head attention projections. Self-attention when keys come from the same sequence,
    cross-attention (`is_cross_attention`, the `crossattention.self` module) when they come from the encoder."""

    def __init__(self, config: BertGenerationConfig, is_cross_attention: bool = False):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob
        self.is_cross_attention = is_cross_attention

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, N, H = x.shape
        return x.view(B, N, self.num_heads, self.head_size).transpose(1, 2)  # (B, nh, N, hs)

    def forward(self, hidden_states: torch.Tensor, inputs: LayerInputs,
                layer_idx: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T, H) -> (B, T, H) and the (B, nh, T, L) attention weights when asked for (else None). Packed
        (bertgen.modeling.packing), the hidden states (N, H) and the encoder's (N_S, H) are the kept positions
        of a padded grid: projected, they go back onto it (zeros elsewhere) to attend."""
        cache = inputs.cache
        q = self.split_heads(unpack(self.query(hidden_states), inputs.packing))  # (B, nh, T, hs)
        B, _, T, _ = q.shape
        if not self.is_cross_attention:  # keys/values from this sequence, appended to the cache
            k = self.split_heads(unpack(self.key(hidden_states), inputs.packing))  # (B, nh, T, hs)
            v = self.split_heads(unpack(self.value(hidden_states), inputs.packing))
            if cache is not None:
                k, v = cache.update(layer_idx, k, v)  # (B, nh, L, hs)
            mask, is_causal = inputs.self_mask, inputs.is_causal
        else:  # keys/values from the encoder output, computed at the first step and reused
            if cache is not None and cache.cross[layer_idx] is not None:
                k, v = cache.cross[layer_idx]  # (B, nh, S, hs)
            else:
                source = inputs.encoder_hidden_states
                k = self.split_heads(unpack(self.key(source), inputs.encoder_packing))  # (B, nh, S, hs)
                v = self.split_heads(unpack(self.value(source), inputs.encoder_packing))
                if cache is not None:
                    cache.cross[layer_idx] = (k, v)
            mask, is_causal = inputs.cross_mask, False
        y, weights = attend(q, k, v, mask, is_causal, dropout_p=self.dropout_p if self.training else 0.0,
                            output_attentions=inputs.output_attentions)
        y = y.transpose(1, 2).reshape(B, T, self.num_heads * self.head_size)  # (B, T, H): heads side by side
        return pack(y, inputs.packing), weights


class BertGenerationSelfOutput(nn.Module):
    """Output projection, dropout, then the residual and post-LayerNorm (BERT is post-LN)."""

    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class BertGenerationAttention(nn.Module):
    def __init__(self, config: BertGenerationConfig, is_cross_attention: bool = False):
        super().__init__()
        self.self = BertGenerationSelfAttention(config, is_cross_attention)
        self.output = BertGenerationSelfOutput(config)

    def forward(self, hidden_states: torch.Tensor, inputs: LayerInputs,
                layer_idx: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, weights = self.self(hidden_states, inputs, layer_idx)
        return self.output(y, hidden_states), weights


class BertGenerationIntermediate(nn.Module):
    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(hidden_states))  # (B, T, 4H)


class BertGenerationOutput(nn.Module):
    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class BertGenerationLayer(nn.Module):
    """Self-attention, (decoder only) cross-attention, feed-forward; each followed by residual + LayerNorm.

    Whether self-attention is causal is decided by the stack, not the layer: under BERTShare the same
    layer object serves the (bidirectional) encoder and the (causal) decoder.
    """

    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.attention = BertGenerationAttention(config)
        if config.add_cross_attention:
            self.crossattention = BertGenerationAttention(config, is_cross_attention=True)
        self.intermediate = BertGenerationIntermediate(config)
        self.output = BertGenerationOutput(config)

    def forward(self, hidden_states: torch.Tensor, inputs: LayerInputs | None = None, layer_idx: int = 0, *,
                self_mask: torch.Tensor | None = None, is_causal: bool = False,
                encoder_hidden_states: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(B, T, H) -> (B, T, H), and the self- and cross-attention weights when asked for (else None).

        A stack passes what its layers read in `inputs`; a layer run alone (as the notebooks run one) takes
        its mask, causality and the encoder output as keywords instead."""
        if inputs is None:
            inputs = LayerInputs(self_mask=self_mask, is_causal=is_causal, encoder_hidden_states=encoder_hidden_states)
        elif self_mask is not None or is_causal or encoder_hidden_states is not None:
            raise ValueError("BertGenerationLayer: pass the mask, causality and encoder output in `inputs` or as "
                             "keywords, not both")
        x, self_weights = self.attention(hidden_states, inputs, layer_idx)
        cross_weights = None
        if inputs.encoder_hidden_states is not None:
            x, cross_weights = self.crossattention(x, inputs, layer_idx)
        x = self.output(self.intermediate(x), x)
        return x, self_weights, cross_weights


class BertEncoder(nn.Module):
    """The stack of layers (named `encoder` inside both BertGenerationEncoder and the decoder's `bert`)."""

    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertGenerationLayer(config) for _ in range(config.num_hidden_layers)])


def _init_weights(module: nn.Module, std: float) -> None:
    """BERT's initialization: normal(0, initializer_range) weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=std)
        if module.padding_idx is not None:
            module.weight.data[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class BertGenerationPreTrainedModel(PreTrainedModel):
    """The encoder's and the decoder's base (transformers' class of this name): their config, and a
    `from_pretrained` that also reads the body of a BERT or RoBERTa checkpoint (bertgen.modeling.loading)."""

    config_class = BertGenerationConfig

    @classmethod
    def _read_config(cls, directory: Path, given: BertGenerationConfig | None) -> dict:
        return read_config_json(directory)  # the layout decides how to read it

    @classmethod
    def _from_checkpoint(cls, files: CheckpointFiles, given: BertGenerationConfig | None, dtype: str | torch.dtype,
                         **options: Any) -> tuple[BertGenerationPreTrainedModel, list[str]]:
        return from_bert_generation_checkpoint(cls, files, given, dtype, **options)


class BertGenerationEncoder(BertGenerationPreTrainedModel):
    """Embeddings + layers. As an encoder: bidirectional. With `is_decoder`: causal, cached, and with
    cross-attention when `add_cross_attention` (this is the decoder's `bert` body).

    `from_pretrained` also loads a BERT or RoBERTa checkpoint directory (its body; see modeling.loading)."""

    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertGenerationEmbeddings(config)
        self.encoder = BertEncoder(config)
        if is_bert_stack(config) and not config.is_decoder:  # BertModel's, as an encoder-decoder's encoder holds it
            self.pooler = BertPooler(config)
        self.gradient_checkpointing = False
        self.apply(lambda m: _init_weights(m, config.initializer_range))

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                encoder_hidden_states: torch.Tensor | None = None, encoder_attention_mask: torch.Tensor | None = None,
                past_key_values: KVCache | None = None, use_cache: bool | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, inputs_embeds: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, packing: Packing | None = None,
                encoder_packing: Packing | None = None) -> BaseModelOutput | tuple:
        """As transformers. `packing` (bertgen.modeling.packing, for a loss only): compute only its kept
        positions, and return them packed, (N, H); `encoder_packing`: encoder_hidden_states are packed so."""
        config, is_decoder = self.config, self.config.is_decoder
        name = "decoder" if is_decoder else "encoder"  # the decoder's body is this class too
        output_attentions, output_hidden_states, return_dict = resolve_outputs(
            config, output_attentions, output_hidden_states, return_dict)
        use_cache = (config.use_cache if use_cache is None else use_cache) and is_decoder
        if packing is not None and (use_cache or past_key_values is not None or output_attentions
                                    or output_hidden_states):
            raise ValueError(f"{name}: a packed forward computes a loss only; it returns no cache, attentions "
                             "or hidden states (pass use_cache=False and leave those outputs off)")
        if use_cache and past_key_values is None:
            past_key_values = KVCache(config.num_hidden_layers)
        cache = past_key_values if is_decoder else None
        past = cache.get_seq_length() if cache is not None else 0
        B, T = check_inputs(input_ids, inputs_embeds, config, name, past)
        check_mask(attention_mask, (B, past + T), "attention_mask", name)

        x = self.embeddings(input_ids, past_length=past, inputs_embeds=inputs_embeds,
                            position_ids=position_ids)  # (B, T, H)
        self_mask = padding_mask(attention_mask)  # (B, 1, 1, L) or None
        cross_mask = None
        if encoder_hidden_states is not None:
            if not config.add_cross_attention:
                raise ValueError(f"{name}: encoder_hidden_states given but the config has no cross-attention "
                                 "(set is_decoder=True and add_cross_attention=True)")
            source_shape = encoder_packing.shape if encoder_packing is not None else encoder_hidden_states.shape[:2]
            check_mask(encoder_attention_mask, tuple(source_shape), "encoder_attention_mask", name)
            cross_mask = padding_mask(encoder_attention_mask)  # (B, 1, 1, S) or None

        x = pack(x, packing)  # (N, H) when packed
        inputs = LayerInputs(self_mask=self_mask, is_causal=is_decoder, encoder_hidden_states=encoder_hidden_states,
                             cross_mask=cross_mask, cache=cache, output_attentions=output_attentions,
                             packing=packing, encoder_packing=encoder_packing)
        self_maps, cross_maps, states = [], [], [x]
        for i, layer in enumerate(self.encoder.layer):
            if self.gradient_checkpointing and self.training and cache is None:
                x, self_w, cross_w = checkpoint(layer, x, inputs, i, use_reentrant=False,
                                                   context_fn=checkpoint_contexts)
            else:
                x, self_w, cross_w = layer(x, inputs, i)
            self_maps.append(self_w)
            cross_maps.append(cross_w)
            states.append(x)
        out = BaseModelOutput(
            last_hidden_state=x,
            past_key_values=cache if use_cache else None,
            hidden_states=tuple(states) if output_hidden_states else None,
            attentions=tuple(self_maps) if output_attentions else None,
            cross_attentions=tuple(cross_maps) if output_attentions and encoder_hidden_states is not None else None,
        )
        return out if return_dict else out.to_tuple()


class BertGenerationOnlyLMHead(nn.Module):
    """Hidden states -> vocabulary logits. `decoder.weight` is tied to the word embeddings and
    `decoder.bias` is the same tensor as `bias`, as in transformers (both names appear in checkpoints)."""

    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        # BERT's and RoBERTa's heads transform the hidden states first (bert_stacks); BertGeneration's does not
        self.transform = BertPredictionHeadTransform(config) if is_bert_stack(config) else nn.Identity()
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))  # (B, T, V)


class BertGenerationDecoder(BertGenerationPreTrainedModel):
    """A causal BertGeneration body (with cross-attention when `add_cross_attention`), plus the LM head.

    With labels it returns the loss and the logits, as transformers. With `model.fused_loss = True` (the
    Trainer sets it), training mode with labels computes the loss from the hidden states chunk by chunk
    (`bertgen.loss`) without the (B, T, V) logits (Liger-Kernel's "skip logits"), and `logits` is None; the
    positions no label reads are skipped (`bertgen.modeling.packing`). `from_pretrained` also loads a BERT or
    RoBERTa checkpoint, or a BertGenerationEncoder's (modeling.loading).
    """

    body_prefix = "bert."

    @classmethod
    def can_generate(cls) -> bool:
        return True

    def __init__(self, config: BertGenerationConfig):
        super().__init__()
        self.config = config
        self.bert = BertGenerationEncoder(config)
        self.lm_head = BertGenerationOnlyLMHead(config)
        self.lm_head.apply(lambda m: _init_weights(m, config.initializer_range))
        self.lm_head.bias.data.zero_()
        self._fused_loss = False
        self.tie_weights()

    def tie_weights(self) -> None:
        if self.config.tie_word_embeddings:
            self.lm_head.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.bert.embeddings.word_embeddings = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value
        self.lm_head.bias = value.bias

    def _resize_head_bias(self, target: int) -> None:
        old = self.lm_head.bias
        bias = old.new_zeros(target)
        keep = min(target, old.shape[0])
        with torch.no_grad():
            bias[:keep] = old[:keep]
        self.lm_head.bias = nn.Parameter(bias)
        self.lm_head.decoder.bias = self.lm_head.bias
        self.lm_head.decoder.out_features = target

    def generate(self, input_ids=None, attention_mask=None, generation_config=None, generator=None, **kwargs):
        """Continue each prompt (greedy or sampling, transformers' arguments): see bertgen.generation.causal."""
        return generate_causal(self, input_ids, attention_mask=attention_mask, generation_config=generation_config,
                               generator=generator, **kwargs)

    def logits_and_loss(self, hidden: torch.Tensor, labels: torch.Tensor | None = None, shift: int = 0,
                        logits_to_keep: int = 0,
                        packing: Packing | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(B, T, H) -> logits (B, T, V), and the mean cross-entropy of position t against label t + shift over
        the labels that are not -100. With the fused loss on, in training mode with labels: logits None, and
        `packing` says which positions the (N, H) hidden states are (bertgen.modeling.packing)."""
        if labels is not None and self.training and self._fused_loss:
            targets = position_targets(labels, shift)  # (B, T)
            return None, linear_cross_entropy(self.lm_head.transform(hidden), self.lm_head.decoder.weight,
                                              self.lm_head.bias, pack(targets, packing))
        return head_logits_and_loss(self.lm_head, hidden, labels, shift, logits_to_keep)

    def _loss_only(self, labels: torch.Tensor | None, past_key_values: KVCache | None,
                   output_attentions: bool | None, output_hidden_states: bool | None) -> bool:
        """Is the loss all this call computes? With the fused loss on (bertgen.loss), in training mode with labels,
        and no attentions, hidden states or earlier state: then the body runs packed (bertgen.modeling.packing).
        Not under BERTGEN_TORCH_DROPOUT=1, whose point is torch's masks over the padded grid, seed for seed."""
        if labels is None or not (self.training and self._fused_loss) or not fast_cpu_dropout():
            return False
        return past_key_values is None and not any(
            resolve_outputs(self.config, output_attentions, output_hidden_states, True)[:2])

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                encoder_hidden_states: torch.Tensor | None = None, encoder_attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, past_key_values: KVCache | None = None,
                use_cache: bool | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None,
                inputs_embeds: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                logits_to_keep: int = 0) -> CausalLMOutput | tuple:
        inputs = input_ids if input_ids is not None else inputs_embeds
        if labels is not None:
            use_cache = False
            if inputs is not None:  # (without, the body says what to pass)
                check_labels(labels, inputs.shape[:2], "decoder", self.config.vocab_size)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        # standalone causal LM: position t predicts token t + 1, so with the loss alone the positions from each
        # row's last label on are skipped (the last label is predicted by the position before it)
        packing = None
        if self._loss_only(labels, past_key_values, output_attentions, output_hidden_states):
            packing = Packing.of(decoder_keep(position_targets(labels, shift=1)))
        out = self.bert(input_ids, attention_mask=attention_mask, encoder_hidden_states=encoder_hidden_states,
                        encoder_attention_mask=encoder_attention_mask, past_key_values=past_key_values,
                        use_cache=use_cache, output_attentions=output_attentions,
                        output_hidden_states=output_hidden_states, return_dict=True, inputs_embeds=inputs_embeds,
                        position_ids=position_ids, packing=packing)
        logits, loss = self.logits_and_loss(out.last_hidden_state, labels, shift=1, logits_to_keep=logits_to_keep,
                                            packing=packing)
        result = CausalLMOutput(loss=loss, logits=logits, past_key_values=out.past_key_values,
                                hidden_states=out.hidden_states, attentions=out.attentions,
                                cross_attentions=out.cross_attentions)
        return result if return_dict else result.to_tuple()
