"""The paper's Table 1 (parameters per scheme, at base size) from configs alone: every model is built on the
meta device (shapes, no memory) from bert-base's, roberta-base's and gpt2's config.json values, warm-started
as its scheme says, and counted as the paper counts (a shared tensor once).

Two conventions set bertgen's BERT counts about 2M above the paper's: the segment embedding is folded into the
positions and the pooler dropped (BERT brings 108.9M, the paper counts 109.5M), and a decoder's cross-attention
has its output projection and LayerNorm (28.4M at 12 x 768; the paper's random column says 26M).
"""
from __future__ import annotations

from bertgen.config import GPT2Config
from bertgen.warmstart.gpt import meta_gpt2
from bertgen.warmstart.pretrained import meta_checkpoint
from bertgen.modeling.warm_start import warm_start

BERT_BASE = dict(model_type="bert", vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
ROBERTA_BASE = dict(BERT_BASE, model_type="roberta", vocab_size=50265, max_position_embeddings=514, pad_token_id=1,
                    type_vocab_size=1)
# Rothe et al. (2020), Table 1, millions: total, embeddings, from checkpoint ("init"), random
PAPER = {"rnd2rnd": (221, 23, 0, 221), "bert2rnd": (221, 23, 109, 112), "rnd2bert": (221, 23, 109, 112),
         "bert2bert": (221, 23, 195, 26), "bertshare": (136, 23, 109, 26), "robertashare": (152, 39, 125, 26),
         "gpt": (125, 39, 125, 0), "rnd2gpt": (238, 39, 125, 114), "bert2gpt": (260, 62, 234, 26),
         "roberta2gpt": (276, 78, 250, 26)}
COLUMNS = ("total", "embeddings", "from checkpoint", "random")


def table1() -> list[dict[str, str | float]]:
    """The ten rows: bertgen's counts (millions, one decimal) beside the paper's, and the total's difference."""
    bert, roberta = meta_checkpoint(BERT_BASE, "bert-base"), meta_checkpoint(ROBERTA_BASE, "roberta-base")
    gpt2 = meta_gpt2(GPT2Config(), "gpt2")
    sources = {"rnd2rnd": (bert, {}), "bert2rnd": (bert, {}), "rnd2bert": (bert, {}), "bert2bert": (bert, {}),
               "bertshare": (bert, {}), "robertashare": (roberta, {}), "gpt": (gpt2, {}), "rnd2gpt": (gpt2, {}),
               "bert2gpt": (bert, {"decoder_checkpoint": gpt2}), "roberta2gpt": (roberta, {"decoder_checkpoint": gpt2})}
    rows = []
    for scheme, (checkpoint, options) in sources.items():
        row = warm_start(scheme, checkpoint, device="meta", **options)[1].table1_row()
        paper = dict(zip(COLUMNS, PAPER[scheme]))
        rows.append({**row, **{f"paper {k}": v for k, v in paper.items()},
                     "total - paper": round(row["total"] - paper["total"], 1)})
    return rows


def format_table1(rows: list[dict[str, str | float]]) -> str:
    """The rows as a text table, ours then the paper's columns."""
    header = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    line = lambda values: "  ".join(str(v).rjust(w) if i else str(v).ljust(w)  # noqa: E731
                                    for i, (v, w) in enumerate(zip(values, widths)))
    return "\n".join([line(header)] + [line([r[h] for h in header]) for r in rows])
