"""Warm-starting plans (Rothe et al. 2020): the paper's schemes as plans of what each stack takes, pretrained
checkpoints read in their own layouts, the reference pass that checks a warm-started encoder, and the report of
what a warm start did. It plans and reads; `bertgen.modeling.warm_start` builds the model a plan describes.

    plan.py       StackPlan / WarmStartPlan: what each stack takes; apply_plan copies it into a model
    gpt.py        the GPT-2 schemes' plans (gpt, rnd2gpt, bert2gpt, roberta2gpt)
    pretrained.py BERT / RoBERTa / BertGeneration / GPT-2 checkpoints read as one body
    reference.py  the checkpoint's own forward pass with plain torch ops
    report.py     WarmStartReport: loaded / new / shared / folded / dropped, the paper's Table 1 columns
"""
from bertgen.warmstart.plan import SCHEMES, StackPlan, WarmStartPlan, parse_scheme, plan_warm_start
from bertgen.warmstart.pretrained import PretrainedCheckpoint, meta_checkpoint, read_pretrained
from bertgen.warmstart.reference import reference_hidden_states
from bertgen.warmstart.report import WarmStartReport

__all__ = ["SCHEMES", "StackPlan", "WarmStartPlan", "plan_warm_start", "parse_scheme", "PretrainedCheckpoint",
           "read_pretrained", "meta_checkpoint", "reference_hidden_states", "WarmStartReport"]
