"""Training: the Trainer (AdamW, accumulation, clipping, bf16 autocast, evaluation, early stopping, resumable
checkpoints, DDP) and the learning-rate schedules (the paper's rsqrt, linear, cosine, constant)."""
from bertgen.training.schedules import SCHEDULES
from bertgen.training.trainer import (TrainingArguments, Trainer, TrainingDiverged, TrainResult, TrainState,
                                      distributed_context, read_log)

__all__ = ["Trainer", "TrainingArguments", "TrainResult", "TrainState", "TrainingDiverged", "SCHEDULES",
           "distributed_context", "read_log"]
