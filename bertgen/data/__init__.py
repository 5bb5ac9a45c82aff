"""Tasks as `datasets.DatasetDict`s with `source` and `target`: the paper's through `datasets`, offline
ones built from real corpora (`bertgen data fetch`), and collation for training."""
from bertgen.data.collate import LengthBucketSampler, Seq2SeqCollator, encode_sources, tokenize_task
from bertgen.data.registry import SPLITS, TASKS, Task, get_task, load_task

__all__ = ["load_task", "get_task", "Task", "TASKS", "SPLITS", "tokenize_task", "encode_sources",
           "Seq2SeqCollator", "LengthBucketSampler"]
