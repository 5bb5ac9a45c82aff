"""EncoderDecoderModel: a BertGeneration encoder and decoder joined by cross-attention (transformers' class).

Shape legend used in comments:
    B  batch    S  source length (encoder)    T  target length (decoder, this call)    H  hidden size
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from bertgen.cache import KVCache
from bertgen.config import CONFIG_NAME, EncoderDecoderConfig, GPT2Config, read_json_object
from bertgen.generation import generate
from bertgen.hub import resolve_checkpoint_dir
from bertgen.modeling.bert_generation import BertGenerationDecoder, BertGenerationEncoder
from bertgen.modeling.bert_stacks import to_bertgen_keys, to_checkpoint_keys
from bertgen.modeling.gpt2 import GPT2LMHeadModel
from bertgen.modeling.inputs import check_labels, resolve_outputs, warn_if_decoder_inputs_are_labels
from bertgen.modeling.outputs import BaseModelOutput, Seq2SeqLMOutput
from bertgen.modeling.packing import Packing, decoder_keep
from bertgen.modeling.pretrained_model import PreTrainedModel
from bertgen.warmstart.plan import WarmStartPlan, build_from_plan, plan_from_encoder_decoder
from bertgen.warmstart.report import WarmStartReport


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Teacher forcing: decoder input t is label t - 1, position 0 is the start token; -100 becomes pad."""
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class EncoderDecoderModel(PreTrainedModel):
    """A BertGeneration encoder and decoder: `EncoderDecoderModel(config)`, or, as transformers,
    `EncoderDecoderModel(encoder=encoder, decoder=decoder)` around two models already built or loaded (the
    decoder with `is_decoder=True, add_cross_attention=True`). With `tie_encoder_decoder` (BERTShare) the
    decoder's embeddings, self-attention and feed-forward modules *are* the encoder's; only cross-attention and
    the LM head bias are its own. With labels it returns the loss and the logits, as transformers; see
    `fused_loss` for the Trainer's loss without the logits."""

    config_class = EncoderDecoderConfig
    base_model_prefix = "encoder_decoder"

    @classmethod
    def can_generate(cls) -> bool:
        return True

    def __init__(self, config: EncoderDecoderConfig | None = None, encoder: BertGenerationEncoder | None = None,
                 decoder: BertGenerationDecoder | GPT2LMHeadModel | None = None):
        super().__init__()
        if config is None:
            if encoder is None or decoder is None:
                raise ValueError("EncoderDecoderModel: pass a config, or both encoder= and decoder= models")
            config = EncoderDecoderConfig.from_encoder_decoder_configs(encoder.config, decoder.config)
        for side, module, cls in (("encoder", encoder, BertGenerationEncoder),
                                  ("decoder", decoder, (BertGenerationDecoder, GPT2LMHeadModel))):
            if module is not None and not isinstance(module, cls):
                names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
                raise TypeError(f"EncoderDecoderModel: {side}= must be a {names}, got {type(module).__name__}")
        if decoder is not None and not (decoder.config.is_decoder and decoder.config.add_cross_attention):
            raise ValueError("EncoderDecoderModel: the decoder has no cross-attention; build or load it with "
                             "is_decoder=True, add_cross_attention=True (its cross-attention is then new)")
        # one config object per stack, as transformers: the model's config.encoder *is* encoder.config
        if encoder is not None:
            config.encoder = encoder.config
        if decoder is not None:
            config.decoder = decoder.config
        config.validate()
        self.config = config
        self.encoder = encoder if encoder is not None else BertGenerationEncoder(config.encoder)
        if decoder is None:
            decoder_class = GPT2LMHeadModel if isinstance(config.decoder, GPT2Config) else BertGenerationDecoder
            decoder = decoder_class(config.decoder)
        self.decoder = decoder
        if config.encoder.hidden_size != config.decoder.hidden_size:
            # as transformers: the encoder output is projected to the decoder's width (config.validate has
            # refused a cross_attention_hidden_size that would say otherwise)
            self.enc_to_dec_proj = nn.Linear(config.encoder.hidden_size, config.decoder.hidden_size)
            nn.init.normal_(self.enc_to_dec_proj.weight, std=config.decoder.initializer_range)
            nn.init.zeros_(self.enc_to_dec_proj.bias)
        if config.tie_encoder_decoder:
            self.tie_encoder_decoder()
        elif config.share_encoder_decoder_embeddings:
            self.decoder.set_input_embeddings(self.encoder.get_input_embeddings())
            self.decoder.tie_weights()

    def tie_encoder_decoder(self) -> None:
        """Make encoder and decoder share their embeddings, self-attention and feed-forward modules (not copies:
        one set of parameters, one update). As transformers, the decoder's values are the ones kept."""
        body = self.decoder.bert
        self.encoder.embeddings = body.embeddings
        for enc_layer, dec_layer in zip(self.encoder.encoder.layer, body.encoder.layer):
            enc_layer.attention = dec_layer.attention
            enc_layer.intermediate = dec_layer.intermediate
            enc_layer.output = dec_layer.output
        self.decoder.tie_weights()

    @classmethod
    def from_encoder_decoder_pretrained(cls, encoder_pretrained_model_name_or_path: str | os.PathLike | None = None,
                                        decoder_pretrained_model_name_or_path: str | os.PathLike | None = None,
                                        tie_encoder_decoder: bool = False, **kwargs: Any) -> EncoderDecoderModel:
        """transformers' method: the encoder from one checkpoint, the decoder from another (or the same).

        Keyword arguments as transformers: `encoder_model=` / `decoder_model=` take models already built,
        `encoder_<field>=` / `decoder_<field>=` set one stack's config field (e.g. decoder_hidden_dropout_prob),
        anything else (return_dict=True, ...) the encoder-decoder config's. A decoder checkpoint is loaded whole,
        its cross-attention included when it has one; otherwise the cross-attention is new (see
        BertGenerationDecoder.from_pretrained; a GPT-2 decoder, GPT2LMHeadModel.from_pretrained).

        When both are BERT or RoBERTa checkpoint directories, bertgen warm-starts as the paper does
        (`bertgen.warm_start`: ids from the tokenizer files, segment embedding folded as BertModel computes,
        one shared embedding matrix when both are one checkpoint); the warm-start options (fold_token_type,
        share_embeddings, layers, cross_attention, ...) and unprefixed config fields apply to both stacks."""
        encoder_model, decoder_model = kwargs.pop("encoder_model", None), kwargs.pop("decoder_model", None)
        encoder_kwargs = {k[len("encoder_"):]: kwargs.pop(k) for k in list(kwargs) if k.startswith("encoder_")}
        decoder_kwargs = {k[len("decoder_"):]: kwargs.pop(k) for k in list(kwargs) if k.startswith("decoder_")}
        # bertgen's id fields start with decoder_ themselves: decoder_start_token_id stays a top-level field
        if "start_token_id" in decoder_kwargs:
            kwargs["decoder_start_token_id"] = decoder_kwargs.pop("start_token_id")
        paths = (encoder_pretrained_model_name_or_path, decoder_pretrained_model_name_or_path)
        for side, path, model in zip(("encoder", "decoder"), paths, (encoder_model, decoder_model)):
            if (path is None) == (model is None):
                raise ValueError(f"from_encoder_decoder_pretrained: pass the {side} as a checkpoint "
                                 f"({side}_pretrained_model_name_or_path) or as {side}_model=, exactly one")
        # each checkpoint's model_type, from its config.json (read here once, and once more by whatever loads it)
        decoder_type = _model_type(paths[1]) if decoder_model is None else None
        encoder_type = _model_type(paths[0]) if encoder_model is None else None
        gpt2_decoder = decoder_type == "gpt2"  # loaded whole, as transformers
        if encoder_model is None and decoder_model is None and not gpt2_decoder and \
                "bert-generation" not in (encoder_type, decoder_type):
            common = _merge_stack_kwargs(encoder_kwargs, decoder_kwargs)
            plan = plan_from_encoder_decoder(*paths, tie_encoder_decoder, **common, **kwargs)
            return cls.from_warm_start_plan(plan)[0]
        if encoder_model is None:
            encoder_model = BertGenerationEncoder.from_pretrained(
                paths[0], fold_token_type=encoder_type != "bert-generation", **encoder_kwargs)
        if decoder_model is None:
            decoder_kwargs = {"is_decoder": True, "add_cross_attention": True, **decoder_kwargs}
            if gpt2_decoder:
                decoder_model = GPT2LMHeadModel.from_pretrained(paths[1], **decoder_kwargs)
            else:
                decoder_model = BertGenerationDecoder.from_pretrained(
                    paths[1], fold_token_type=decoder_type != "bert-generation", **decoder_kwargs)
        elif not decoder_model.config.add_cross_attention:
            raise ValueError("from_encoder_decoder_pretrained: decoder_model has no cross-attention; build it with "
                             "is_decoder=True, add_cross_attention=True")
        config = EncoderDecoderConfig.from_encoder_decoder_configs(
            encoder_model.config, decoder_model.config, tie_encoder_decoder=tie_encoder_decoder, **kwargs)
        return cls(config, encoder=encoder_model, decoder=decoder_model)

    @classmethod
    def from_warm_start_plan(cls, plan: WarmStartPlan) -> tuple[EncoderDecoderModel, WarmStartReport]:
        """Build the model a warm-start plan describes and copy the planned tensors in (see bertgen.warmstart)."""
        return build_from_plan(cls, plan)

    @classmethod
    def _model_keys(cls, config: EncoderDecoderConfig, state: dict) -> dict:
        return to_bertgen_keys(state, config.decoder)  # a BERT / RoBERTa decoder names its keys its own way

    def _checkpoint_keys(self, state: dict) -> dict:
        return to_checkpoint_keys(state, self.config.decoder)

    def get_encoder(self) -> BertGenerationEncoder:
        return self.encoder

    def get_decoder(self) -> BertGenerationDecoder:
        return self.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.decoder.get_output_embeddings()

    def resize_token_embeddings(self, *args, **kwargs):
        raise NotImplementedError(
            "EncoderDecoderModel.resize_token_embeddings: resize each stack instead, as in transformers: "
            "model.encoder.resize_token_embeddings(n) and model.decoder.resize_token_embeddings(n)")

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def generate(self, input_ids, attention_mask=None, generation_config=None, generator=None, **kwargs):
        """Greedy, beam search or sampling with transformers' arguments (`num_beams`, `max_new_tokens`,
        `length_penalty`, `no_repeat_ngram_size`, `do_sample`, ...); see `bertgen.generation`."""
        return generate(self, input_ids, attention_mask=attention_mask, generation_config=generation_config,
                        generator=generator, **kwargs)

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                decoder_input_ids: torch.Tensor | None = None, decoder_attention_mask: torch.Tensor | None = None,
                encoder_outputs: BaseModelOutput | tuple | None = None, past_key_values: KVCache | None = None,
                inputs_embeds: torch.Tensor | None = None, decoder_inputs_embeds: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, use_cache: bool | None = None,
                output_attentions: bool | None = None, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, logits_to_keep: int = 0) -> Seq2SeqLMOutput | tuple:
        # as transformers: attentions and hidden states follow each stack's own config unless asked for here
        return_dict = self.config.return_dict if return_dict is None else return_dict
        # the fused loss alone: the padding no label reads is skipped (bertgen.modeling.packing)
        loss_only = self._loss_only(labels, encoder_outputs, past_key_values, use_cache, output_attentions,
                                    output_hidden_states)
        encoder_packing = None
        if encoder_outputs is None:
            if input_ids is None and inputs_embeds is None:
                raise ValueError("EncoderDecoderModel: pass input_ids (or inputs_embeds, or encoder_outputs from a "
                                 "previous call)")
            if loss_only and attention_mask is not None:  # masked source positions: nothing reads them
                encoder_packing = Packing.of(attention_mask.bool())
            encoder_outputs = self.encoder(input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                                           output_attentions=output_attentions,
                                           output_hidden_states=output_hidden_states, return_dict=True,
                                           packing=encoder_packing)
        elif isinstance(encoder_outputs, (tuple, list)):  # return_dict=False's tuple, as transformers accepts
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None)
        encoder_hidden_states = encoder_outputs.last_hidden_state  # (B, S, H), or (N_S, H) packed
        cross_states = encoder_hidden_states  # what cross-attention reads: (B, S, H) at the decoder's width
        if hasattr(self, "enc_to_dec_proj"):
            cross_states = self.enc_to_dec_proj(encoder_hidden_states)

        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            if self.config.decoder_start_token_id is None or self.config.pad_token_id is None:
                raise ValueError("EncoderDecoderModel: training with labels needs config.decoder_start_token_id "
                                 "and config.pad_token_id (for BERT vocabularies: [CLS] and [PAD])")
            decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
            if decoder_attention_mask is None:
                decoder_attention_mask = (decoder_input_ids != self.config.pad_token_id).long()
                decoder_attention_mask[:, 0] = 1  # the start token, even where it is also the padding id (GPT-2)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError("EncoderDecoderModel: pass decoder_input_ids (or decoder_inputs_embeds) or labels")
        targets = decoder_input_ids if decoder_input_ids is not None else decoder_inputs_embeds
        check_labels(labels, targets.shape[:2], "EncoderDecoderModel", self.config.decoder.vocab_size)
        warn_if_decoder_inputs_are_labels(self, decoder_input_ids, labels)

        # the decoder computes each row's positions up to its last label: nothing the loss reads comes after
        packing = Packing.of(decoder_keep(labels)) if loss_only else None
        decoder_out = self.decoder.base_model(decoder_input_ids, attention_mask=decoder_attention_mask,
                                              encoder_hidden_states=cross_states,
                                              encoder_attention_mask=attention_mask, past_key_values=past_key_values,
                                              use_cache=False if loss_only else use_cache,
                                              output_attentions=output_attentions,
                                              output_hidden_states=output_hidden_states, return_dict=True,
                                              inputs_embeds=decoder_inputs_embeds, packing=packing,
                                              encoder_packing=encoder_packing)
        # as transformers: mean cross-entropy over labels that are not -100, position t against label t
        logits, loss = self.decoder.logits_and_loss(decoder_out.last_hidden_state, labels,
                                                    logits_to_keep=logits_to_keep, packing=packing)
        if encoder_packing is not None:
            encoder_hidden_states = encoder_packing.unpack(encoder_hidden_states)  # (B, S, H), zeros where masked
        out = Seq2SeqLMOutput(
            loss=loss, logits=logits, past_key_values=decoder_out.past_key_values,
            decoder_hidden_states=decoder_out.hidden_states, decoder_attentions=decoder_out.attentions,
            cross_attentions=decoder_out.cross_attentions, encoder_last_hidden_state=encoder_hidden_states,
            encoder_hidden_states=encoder_outputs.hidden_states, encoder_attentions=encoder_outputs.attentions,
        )
        return out if return_dict else out.to_tuple()

    def _loss_only(self, labels, encoder_outputs, past_key_values, use_cache, output_attentions,
                   output_hidden_states) -> bool:
        """Is the loss all this call computes? As for the decoder alone (BertGenerationDecoder._loss_only), and
        with no cache (use_cache=True), encoder outputs given or encoder attentions or hidden states asked for:
        then both stacks run packed."""
        if encoder_outputs is not None or use_cache:
            return False
        encoder_outputs_asked = any(resolve_outputs(self.encoder.config, output_attentions, output_hidden_states,
                                                    True)[:2])
        return not encoder_outputs_asked and self.decoder._loss_only(labels, past_key_values, output_attentions,
                                                                     output_hidden_states)


def _model_type(path: str | os.PathLike) -> str | None:
    """A checkpoint's model_type, from its config.json."""
    directory = resolve_checkpoint_dir(path)
    if not (directory / CONFIG_NAME).is_file():
        raise FileNotFoundError(f"{directory}: no {CONFIG_NAME}; a checkpoint directory needs one")
    return read_json_object(directory / CONFIG_NAME, "restore it from the checkpoint's source").get("model_type")


def _merge_stack_kwargs(encoder_kwargs: dict, decoder_kwargs: dict) -> dict:
    """A warm start sets config fields for both stacks at once: per-stack values must agree."""
    merged = dict(encoder_kwargs)
    for key, value in decoder_kwargs.items():
        if key in merged and merged[key] != value:
            raise ValueError(f"from_encoder_decoder_pretrained: encoder_{key}={merged[key]!r} and decoder_{key}="
                             f"{value!r} differ, but a warm start from BERT/RoBERTa checkpoints sets one value for "
                             "both stacks; pass one, or load the stacks with BertGenerationEncoder/Decoder."
                             "from_pretrained and join them with EncoderDecoderModel(encoder=..., decoder=...)")
        merged[key] = value
    return merged
