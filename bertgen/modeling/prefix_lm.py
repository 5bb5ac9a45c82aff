"""The paper's `gpt` scheme: one GPT-2 reads the input as a prefix and writes the output after a separator.

The model sees `[source, separator, target]` as one causal sequence and is trained on the target positions only;
the separator is GPT-2's <|endoftext|> (its only special token), which also starts the output, as the decoder
start token of an encoder-decoder would. Padding inside the source is masked, and positions count the tokens
kept (`cumsum(mask) - 1`), so the target's positions do not depend on how much padding a batch has. The weights
and their names are GPT2LMHeadModel's: `save_pretrained` writes a checkpoint transformers loads as GPT-2.

Shapes: B batch, S source length, T target length, H hidden, V vocabulary.
"""
from __future__ import annotations


import torch

from bertgen.generation.prefix import generate_prefix
from bertgen.modeling.encoder_decoder import shift_tokens_right
from bertgen.modeling.gpt2 import GPT2LMHeadModel
from bertgen.modeling.inputs import check_labels
from bertgen.modeling.outputs import Seq2SeqLMOutput
from bertgen.warmstart.plan import WarmStartPlan, build_from_plan
from bertgen.warmstart.report import WarmStartReport


def prefix_positions(mask: torch.Tensor) -> torch.Tensor:
    """(B, L) 1 = token / 0 = padding -> (B, L) positions that count only the tokens (padding repeats one)."""
    return (mask.long().cumsum(1) - 1).clamp(min=0)


class PrefixLMModel(GPT2LMHeadModel):
    """GPT-2 as a sequence-to-sequence model with an encoder-decoder's call: `model(input_ids, attention_mask,
    labels)` returns the loss and the (B, T, V) logits of the target positions, and `generate(input_ids, ...)`
    returns the start token and the output (greedy, beam search or sampling), as EncoderDecoderModel does."""

    @property
    def separator_token_id(self) -> int:
        """<|endoftext|>: between the input and the output, and the start of the output."""
        return self.generation_config.decoder_start_token_id if self.generation_config.decoder_start_token_id \
            is not None else self.config.bos_token_id

    @classmethod
    def from_warm_start_plan(cls, plan: WarmStartPlan) -> tuple[PrefixLMModel, WarmStartReport]:
        """Build the `gpt` model a warm-start plan describes and copy GPT-2's tensors in (see bertgen.warmstart)."""
        return build_from_plan(cls, plan)

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                labels=None, return_dict=None, **kwargs) -> Seq2SeqLMOutput | tuple:
        if kwargs:
            raise TypeError(f"PrefixLMModel.forward: unexpected argument(s) {sorted(kwargs)}; it takes input_ids, "
                            "attention_mask, decoder_input_ids, decoder_attention_mask and labels")
        if input_ids is None:
            raise ValueError("PrefixLMModel: pass input_ids (the prefix)")
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("PrefixLMModel: pass decoder_input_ids or labels")
            pad = self.config.pad_token_id if self.config.pad_token_id is not None else self.config.eos_token_id
            decoder_input_ids = shift_tokens_right(labels, pad, self.separator_token_id)  # (B, T)
        check_labels(labels, decoder_input_ids.shape, "PrefixLMModel")
        B, S = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if decoder_attention_mask is None:  # causal: padding after the last label is never read by a label
            decoder_attention_mask = torch.ones_like(decoder_input_ids)
        mask = torch.cat([attention_mask, decoder_attention_mask], dim=1)  # (B, S + T)
        out = self.transformer(torch.cat([input_ids, decoder_input_ids], dim=1), attention_mask=mask,
                               position_ids=prefix_positions(mask), use_cache=False, return_dict=True)
        # position S + t reads the separator and target tokens < t: it predicts label t
        logits, loss = self.logits_and_loss(out.last_hidden_state[:, S:], labels)
        result = Seq2SeqLMOutput(loss=loss, logits=logits)
        return result if (self.config.return_dict if return_dict is None else return_dict) else result.to_tuple()

    def generate(self, input_ids, attention_mask=None, generation_config=None, generator=None, **kwargs):
        """Greedy, beam search or sampling after the prefix, with transformers' arguments; returns
        (B x num_return_sequences, 1 + generated): the separator, then the output (see bertgen.generation)."""
        return generate_prefix(self, input_ids, attention_mask=attention_mask, generation_config=generation_config,
                               generator=generator, **kwargs)
