"""Scoring, in one home: the metrics (`metrics`), decoding a test set and scoring it (`decoding`), the
teacher-forced losses (`losses`) and the collapse diagnostics (`diagnostics`)."""
from bertgen.evaluation import metrics
from bertgen.evaluation.decoding import breakdown, evaluate, score, tokenizer_round_trip
from bertgen.evaluation.diagnostics import (SourceIgnoredWarning, SourceReading, collapse_diagnostics, collapsed,
                                            encoder_spread, token_identity, weights_moved)
from bertgen.evaluation.losses import token_loss

__all__ = ["metrics", "evaluate", "score", "breakdown", "tokenizer_round_trip", "token_loss", "encoder_spread",
           "token_identity", "weights_moved", "collapse_diagnostics", "collapsed", "SourceReading",
           "SourceIgnoredWarning"]
