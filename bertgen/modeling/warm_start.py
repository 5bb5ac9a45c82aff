"""Warm-starting: the paper's initialization schemes (Rothe et al. 2020) and the report of what each one did.

A scheme says where each stack comes from: `bert2rnd` is a BERT encoder and a random decoder, `rnd2bert`
the reverse, `bert2bert` both from BERT, `bertshare` one set of BERT weights serving both stacks
(`roberta*` the same from a RoBERTa checkpoint). A warm-started decoder takes the checkpoint's
embeddings, self-attention and feed-forward layers; its cross-attention is new (normal, std
initializer_range; or, with `cross_attention="self"`, a copy of the same layer's pretrained self-attention,
which is not the paper's recipe but lets a small model learn to copy from the source in a few hundred
steps instead of thousands), its LM head is tied to the word embeddings, and its start/end/padding ids come from the
checkpoint's tokenizer ([CLS]/[SEP]/[PAD] for BERT, <s>/</s>/<pad> for RoBERTa).

    model, report = warm_start("bert2bert", "minilm-l6")
    print(report)   # what was loaded, initialized, shared, folded and dropped; the Table 1 counts

Two defaults set bertgen apart (transformers' warm-starting does neither):
- `fold_token_type`: BertGeneration has no segment embeddings. transformers drops BERT's, so its
  warm-started encoder no longer computes what BERT computed; bertgen adds segment A's vector into every
  row of the position table, which gives BertModel's output on single-segment input to float precision.
- `share_embeddings`: one word-embedding matrix for encoder input, decoder input and output layer, as the
  paper counts it (221M for bert2bert-base where transformers has two copies, 247M). Saved checkpoints
  still load in transformers (each name gets its full tensor).
"""
from __future__ import annotations

import os

from bertgen.modeling.encoder_decoder import EncoderDecoderModel
from bertgen.modeling.prefix_lm import PrefixLMModel
from bertgen.warmstart.gpt import GPT_SCHEMES, is_gpt_scheme, plan_gpt
from bertgen.warmstart.plan import SCHEMES, plan_warm_start
from bertgen.warmstart.pretrained import PretrainedCheckpoint
from bertgen.warmstart.report import WarmStartReport

ALL_SCHEMES = SCHEMES + GPT_SCHEMES  # Table 1's ten rows and the RoBERTa schemes beside them
__all__ = ["ALL_SCHEMES", "SCHEMES", "warm_start"]


def warm_start(scheme: str, checkpoint: str | os.PathLike | PretrainedCheckpoint,
               **options) -> tuple[EncoderDecoderModel | PrefixLMModel, WarmStartReport]:
    """Build an EncoderDecoderModel as `scheme` says, from `checkpoint` (a BERT, RoBERTa or BertGeneration
    directory, "minilm-l6", a hub id, or a PretrainedCheckpoint already read). The options are
    `plan_warm_start`'s: the paper's ablations (`embeddings_only`, `drop_embeddings`, `layers`,
    `decoder_layers`, `decoder_checkpoint`), `fold_token_type`, `share_embeddings`, `cross_attention`,
    `device="meta"`, and config overrides of both stacks and the ids.

    The GPT-2 schemes (bertgen.warmstart.gpt): `warm_start("bert2gpt", bert, decoder_checkpoint=gpt2)`, likewise
    `roberta2gpt`; `warm_start("rnd2gpt", gpt2)`; `warm_start("gpt", gpt2)` gives a PrefixLMModel, GPT-2 alone
    reading the input as a prefix."""
    if is_gpt_scheme(scheme):
        plan = plan_gpt(scheme, checkpoint, **options)
        model_class = PrefixLMModel if plan.scheme == "gpt" else EncoderDecoderModel
        return model_class.from_warm_start_plan(plan)
    return EncoderDecoderModel.from_warm_start_plan(plan_warm_start(scheme, checkpoint, **options))
