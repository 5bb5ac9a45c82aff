"""EncoderDecoderModel: a BertGeneration encoder and decoder joined by cross-attention (transformers' class).

Shape legend used in comments:
    B  batch    S  source length (encoder)    T  target length (decoder, this call)    H  hidden size
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from bertgen.checkpoints import PreTrainedMixin
from bertgen.config import EncoderDecoderConfig
from bertgen.generation import GenerationConfig, generate
from bertgen.modeling.bert_generation import BertGenerationDecoder, BertGenerationEncoder
from bertgen.modeling.outputs import Seq2SeqLMOutput
from bertgen.warmstart.plan import WarmStartPlan, apply_plan, plan_from_encoder_decoder
from bertgen.warmstart.report import WarmStartReport


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Teacher forcing: decoder input t is label t - 1, position 0 is the start token; -100 becomes pad."""
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class EncoderDecoderModel(PreTrainedMixin, nn.Module):
    """A BertGeneration encoder and decoder. With `tie_encoder_decoder` (BERTShare) the decoder's
    embeddings, self-attention and feed-forward modules *are* the encoder's; only cross-attention and
    the LM head bias are its own. In training mode with labels the output's `logits` is None (the loss skips
    them, see BertGenerationDecoder); in eval mode, or without labels, they are computed as in transformers."""

    config_class = EncoderDecoderConfig

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__()
        self.config = config
        self.encoder = BertGenerationEncoder(config.encoder)
        self.decoder = BertGenerationDecoder(config.decoder)
        if config.tie_encoder_decoder:
            self.tie_encoder_decoder()
        elif config.share_encoder_decoder_embeddings:
            self.decoder.bert.embeddings.word_embeddings = self.encoder.embeddings.word_embeddings
            self.decoder.tie_weights()

    def tie_encoder_decoder(self) -> None:
        """Make the decoder reuse the encoder's modules (not copies: one set of parameters, one update)."""
        body = self.decoder.bert
        body.embeddings = self.encoder.embeddings
        for enc_layer, dec_layer in zip(self.encoder.encoder.layer, body.encoder.layer):
            dec_layer.attention = enc_layer.attention
            dec_layer.intermediate = enc_layer.intermediate
            dec_layer.output = enc_layer.output
        self.decoder.tie_weights()

    @classmethod
    def from_encoder_decoder_pretrained(cls, encoder_path, decoder_path, tie_encoder_decoder: bool = False,
                                        **kwargs) -> EncoderDecoderModel:
        """Warm-start from pretrained BERT, RoBERTa or BertGeneration checkpoints, as transformers' method of
        that name; the scheme follows from the two checkpoints' families (`bertgen.warm_start` names it
        explicitly and returns a report of what it did)."""
        return cls.from_warm_start_plan(plan_from_encoder_decoder(encoder_path, decoder_path, tie_encoder_decoder,
                                                                  **kwargs))[0]

    @classmethod
    def from_warm_start_plan(cls, plan: WarmStartPlan) -> tuple[EncoderDecoderModel, WarmStartReport]:
        """Build the model a warm-start plan describes and copy the planned tensors in (see bertgen.warmstart)."""
        with torch.device(plan.device) if plan.device is not None else contextlib.nullcontext():
            model = cls(plan.config)
        report = apply_plan(model, plan)
        return model.eval(), report

    def get_encoder(self) -> BertGenerationEncoder:
        return self.encoder

    @property
    def generation_config(self):
        """Decoding defaults: `generation_config.json` when loaded from a checkpoint, else the config's ids."""
        if self.__dict__.get("_generation_config") is None:
            self._generation_config = GenerationConfig.from_model_config(self.config)
        return self._generation_config

    @generation_config.setter
    def generation_config(self, value) -> None:
        self._generation_config = value

    def generate(self, input_ids, attention_mask=None, generation_config=None, generator=None, **kwargs):
        """Greedy, beam search or sampling with transformers' arguments (`num_beams`, `max_new_tokens`,
        `length_penalty`, `no_repeat_ngram_size`, `do_sample`, ...); see `bertgen.generation`."""
        return generate(self, input_ids, attention_mask=attention_mask, generation_config=generation_config,
                        generator=generator, **kwargs)

    def gradient_checkpointing_enable(self) -> None:
        self.encoder.gradient_checkpointing_enable()
        self.decoder.bert.gradient_checkpointing_enable()

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, labels=None, past_key_values=None, use_cache=None, output_attentions=False,
                logits_to_keep: int = 0) -> Seq2SeqLMOutput:
        if encoder_outputs is None:
            if input_ids is None:
                raise ValueError("EncoderDecoderModel: pass input_ids (or encoder_outputs from a previous call)")
            encoder_outputs = self.encoder(input_ids, attention_mask=attention_mask,
                                           output_attentions=output_attentions)
        encoder_hidden_states = encoder_outputs.last_hidden_state  # (B, S, H)

        if labels is not None and decoder_input_ids is None:
            if self.config.decoder_start_token_id is None or self.config.pad_token_id is None:
                raise ValueError("EncoderDecoderModel: training with labels needs config.decoder_start_token_id "
                                 "and config.pad_token_id (for BERT vocabularies: [CLS] and [PAD])")
            decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id,
                                                   self.config.decoder_start_token_id)
            if decoder_attention_mask is None:
                decoder_attention_mask = (decoder_input_ids != self.config.pad_token_id).long()
        if decoder_input_ids is None:
            raise ValueError("EncoderDecoderModel: pass decoder_input_ids or labels")

        decoder_out = self.decoder.bert(decoder_input_ids, attention_mask=decoder_attention_mask,
                                        encoder_hidden_states=encoder_hidden_states,
                                        encoder_attention_mask=attention_mask, past_key_values=past_key_values,
                                        use_cache=use_cache, output_attentions=output_attentions)
        # as transformers: mean cross-entropy over labels that are not -100, position t against label t
        logits, loss = self.decoder.logits_and_loss(decoder_out.last_hidden_state, labels,
                                                    logits_to_keep=logits_to_keep)
        return Seq2SeqLMOutput(
            logits=logits, loss=loss, past_key_values=decoder_out.past_key_values,
            encoder_last_hidden_state=encoder_hidden_states, encoder_attentions=encoder_outputs.attentions,
            decoder_attentions=decoder_out.attentions, cross_attentions=decoder_out.cross_attentions,
        )
