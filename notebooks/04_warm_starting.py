# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: bertgen (.venv)
#     language: python
#     name: bertgen
# ---

# %% [markdown]
# # 04 · Warm-starting: pretrained BERT as encoder *and* decoder
#
# **Paper:** Rothe, Narayan, Severyn (2020), [*Leveraging Pre-trained Checkpoints for Sequence Generation
# Tasks*](https://arxiv.org/abs/1907.12461), sections *Models and Pre-trained Checkpoints* and *Investigated Model
# Variants* (Table 1, parameters per scheme), and the ablations of its analysis (embeddings only, layer subsets).
# **Code:** `bertgen/warmstart/pretrained.py` (`read_pretrained`), `bertgen/warmstart/plan.py` (`StackPlan`,
# `WarmStartPlan`), `bertgen/modeling/warm_start.py` (`warm_start`), `bertgen/warmstart/report.py`
# (`WarmStartReport`), `bertgen/warmstart/reference.py` (the checkpoint's own forward pass).
#
# **After this notebook you can**
# - build every scheme of the paper from a checkpoint and read its report: loaded, new, shared, folded, dropped;
# - reproduce the paper's Table 1 parameter counts without downloading BERT;
# - explain token-type folding and verify that a warm-started encoder computes what the checkpoint computed;
# - use the paper's ablations as options of `warm_start`.
#
# Rothe, Narayan and Severyn (2020), *Leveraging Pre-trained Checkpoints for Sequence Generation Tasks*, start
# from one observation: a Transformer encoder-decoder is made of BERT layers. The encoder **is** a BERT
# encoder; the decoder is a BERT encoder with a causal mask and one extra block per layer, cross-attention,
# that reads the encoder's output. So both stacks can start from a pretrained checkpoint, and only the
# cross-attention has to start from scratch.
#
# This notebook
# 1. reads a pretrained checkpoint,
# 2. builds the paper's initialization schemes and reports what each one loaded,
# 3. counts parameters as the paper's Table 1 does,
# 4. checks that the warm-started encoder still computes what the checkpoint computed (and why that needs care),
# 5. fine-tunes each scheme for a few steps on a handful of sentence pairs.
#
# > **The checkpoint.** bertgen embeds `minilm-l6` so that everything runs offline: sentence-transformers'
# > all-MiniLM-L6-v2: MiniLM-L6-H384, a small distilled BERT-style model (6 layers, 384 wide, bert-base's uncased
# > WordPiece vocabulary), then **fine-tuned for sentence embeddings**. It is not a raw masked-LM checkpoint and has
# > no MLM head. The mechanics below are the same for bert-base or roberta-base directories; the numbers differ.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": 6 fine-tuning steps of 2 schemes, seconds; "full": 100 steps of all 5 schemes, about
# 10 minutes on 2 CPU cores (a progress bar per scheme)

# %%
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown
from tokenizers import ByteLevelBPETokenizer
from tqdm.auto import tqdm

from bertgen.data.collate import Seq2SeqCollator, encode_sources, encode_targets
from bertgen.warmstart.gpt import meta_gpt2
from bertgen.warmstart.pretrained import meta_checkpoint, read_pretrained
from bertgen.warmstart.reference import reference_hidden_states
from bertgen.tokenization import SAMPLE_CORPUS, load_tokenizer
from bertgen.teaching import RUNNING_EXAMPLE, draw_scheme, folded, scheme_legend
from bertgen.warmstart import SCHEMES
from bertgen.modeling.warm_start import warm_start
from bertgen.experiments.table1 import ROBERTA_BASE, table1

# section 5: fine-tuning steps, and the schemes that get them
STEPS = {"tiny": 6, "full": 100}[PRESET]
TRAINED = {"tiny": ("rnd2rnd", "bert2bert"), "full": SCHEMES[:5]}[PRESET]

# %% [markdown]
# ## 1. The checkpoint, in BertGeneration's names
#
# `read_pretrained` accepts BERT (`BertModel`, `BertForMaskedLM`, `BertForPreTraining`), RoBERTa and BertGeneration
# checkpoints: a local directory in the Hugging Face layout, a packaged name such as `"minilm-l6"`, or a hub id
# where there is a network. It keeps the encoder body under BertGeneration's parameter names: `bert.` prefixes go,
# the pooler and the pre-training heads are set aside, RoBERTa's position table is re-indexed (its positions
# start at `padding_idx + 1`). The **segment (token-type) embeddings** are kept apart, because BertGeneration
# has no such table; section 4 is about them.

# %%
ckpt = read_pretrained("minilm-l6")
tok = load_tokenizer("minilm-l6")
c = ckpt.config
print(f"{ckpt.layout} checkpoint: {c.num_hidden_layers} layers, hidden {c.hidden_size}, {c.num_attention_heads} heads, "
      f"vocabulary {c.vocab_size}, {c.max_position_embeddings} positions")
print("segment embeddings:", tuple(ckpt.token_type.shape), " set aside:", ckpt.dropped)

# %% [markdown]
# ## 2. The schemes
#
# A scheme names where each stack comes from, encoder first:
#
# | scheme | encoder | decoder |
# |---|---|---|
# | `rnd2rnd` | random | random |
# | `bert2rnd` | checkpoint | random |
# | `rnd2bert` | random | checkpoint |
# | `bert2bert` | checkpoint | checkpoint (a separate copy) |
# | `bertshare` | checkpoint | *the same* weights as the encoder |
#
# (`roberta2rnd`, ..., `robertashare` for RoBERTa checkpoints.) A decoder taken from the checkpoint reuses its
# embeddings, self-attention and feed-forward layers. Its cross-attention is new, initialized as BERT initializes
# weights (normal, std `initializer_range` = 0.02). The output layer is tied to the word embeddings, and the
# decoder's start, end and padding ids come from the tokenizer: `[CLS]`, `[SEP]` and `[PAD]` for a BERT vocabulary,
# as in the paper. With one vocabulary on both sides, encoder, decoder and output layer share **one**
# word-embedding matrix (`share_embeddings=True`).
#
# `warm_start` returns the model and a report: which tensors were loaded from where, which are new, which names
# are one shared tensor, and what in the checkpoint went unused.

# %%
model, report = warm_start("bert2bert", ckpt)
folded(report)  # one line; click it for the full report (or print(report) for the text table)

# %% [markdown]
# Under **bertshare** the decoder's embeddings, self-attention and feed-forward modules *are* the encoder's
# (one set of parameters, one gradient update). Only the cross-attention and the output bias belong to the decoder
# alone. The diagrams (drawn from the reports; notebook 03 explains them) show the difference.

# %% alt="Scheme diagrams of bert2bert and bertshare, parts coloured by where warm-starting took them from."
share_report = warm_start("bertshare", ckpt)[1]
fig, axes = plt.subplots(1, 2, figsize=(8, 4.4))
draw_scheme(report, ax=axes[0]); draw_scheme(share_report, ax=axes[1])
scheme_legend(fig); fig.tight_layout(rect=(0, 0.08, 1, 1))
Markdown(f"bertshare has {share_report.total / 1e6:.1f}M parameters against bert2bert's {report.total / 1e6:.1f}M: "
         f"{share_report.total / report.total:.0%} of the size, not half, because the shared word embeddings and the "
         "new cross-attention are counted in both.")

# %%
folded(share_report)

# %% [markdown]
# ## 3. Table 1: where the parameters come from
#
# The paper counts parameters for 12-layer, 768-wide BERT. We don't need bert-base's weights to count them:
# `meta_checkpoint` describes a checkpoint by its config alone, and `device="meta"` builds a model whose tensors
# have shapes but no memory. The *embeddings* column counts word-embedding parameters (one shared matrix);
# *from checkpoint* what warm-starting loaded; *random* the rest.

# %%
BERT_BASE = dict(model_type="bert", vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=3072, max_position_embeddings=512)
PAPER = pd.DataFrame({"paper total": [221, 221, 221, 221, 136], "paper init": [0, 109, 109, 195, 109],
                      "paper random": [221, 112, 112, 26, 26]}, index=SCHEMES[:5])  # Table 1, millions

bert_base = meta_checkpoint(BERT_BASE, "bert-base")
ours = pd.DataFrame([warm_start(s, bert_base, device="meta")[1].table1_row() for s in SCHEMES[:5]]).set_index("scheme")
minilm = pd.DataFrame([warm_start(s, ckpt, device="meta")[1].table1_row() for s in SCHEMES[:5]]).set_index("scheme")
ours.join(PAPER).join(minilm[["total", "from checkpoint"]].add_prefix("MiniLM "))

# %% [markdown]
# The bert-base rows land within 1% of the paper's totals and checkpoint columns. Our *random* column is 2.4M
# above the paper's for bert2bert and bertshare: it holds the whole cross-attention, 12 × 2.4M. At bert-base
# size bertshare is 136/221 = 62% of bert2bert in the paper; at MiniLM size the share is larger (the right-hand
# columns), because the embedding matrix is a bigger part of a smaller model. Without shared embeddings the count
# is transformers' bert2bert, which keeps two copies of the 23M matrix:

# %%
warm_start("bert2bert", bert_base, device="meta", share_embeddings=False)[1].table1_row()

# %% [markdown]
# ### All ten rows: RoBERTa and GPT-2
#
# The paper's Table 1 has ten rows: the five above, robertaShare, and four with **GPT-2** (124.4M counted here,
# 125M in the paper's Table 1; 12 layers of 768,
# a byte-level BPE vocabulary of 50,257): `gpt` is GPT-2 alone, reading the input as a prefix and writing the
# output after `<|endoftext|>`; `rnd2gpt`, `bert2gpt` and `roberta2gpt` put a random, BERT or RoBERTa encoder in
# front of a GPT-2 decoder whose cross-attention is new. `bertgen.experiments.table1` builds all ten on the meta
# device from the three base configs (also `bertgen table1` on the command line):

# %%
pd.DataFrame(table1()).set_index("scheme")

# %% [markdown]
# The GPT rows' totals sit within 1M of the paper's except bert2gpt's, 1.7M over, for the same reason as the BERT
# rows: the random column holds the whole cross-attention, 28.4M, where the paper says 26M. roberta2gpt's random
# column is 28.4M against 26M too, but its checkpoint column is 248.5M against the paper's 250M, and the two
# differences (+2.4M, -1.5M) mostly cancel in its total (+0.9M). The *embeddings* column shows the paper's
# vocabulary question. rnd2gpt's random encoder reads GPT-2's vocabulary through GPT-2's own matrix (39M, shared);
# bert2gpt reads WordPiece and writes byte-level BPE: two matrices (23M + 39M), two tokenizers (a
# `TokenizerPair` encodes with BERT's and decodes with GPT-2's). roberta2gpt also keeps two matrices, but RoBERTa
# and GPT-2 split text with the same byte-level BPE merges. The paper finds that pairing matters: on DiscoFuse
# roberta2gpt reaches SARI 89.9 and Exact 65.6 against bert2gpt's 88.4 and 61.5. The report of a GPT scheme reads
# like a BERT one, with GPT-2's names (`h.N`, `c_attn`, `wte`):

# %%
warm_start("bert2gpt", bert_base, decoder_checkpoint=meta_gpt2(), device="meta")[1]

# %% [markdown]
# ### The running example through the GPT-2 schemes
#
# What each GPT-2 scheme feeds its two sides for *He left early. She stayed late.* → *He left early, but she stayed
# late.*, and what its warm start loads. No GPT-2 or RoBERTa weights can be downloaded here, so this uses what the
# rest of the notebook uses: base-size configs on the meta device for the reports, and for the byte-level BPE side
# a 500-piece BPE trained on bertgen's sample corpus (as in notebook 03). Its pieces show the format (`Ġ` marks a
# leading space, capitals are kept); GPT-2's own 50,257 pieces would cut these common words far less. RoBERTa
# splits text with GPT-2's merges, so its encoder would see the same pieces under other ids. The WordPiece side is
# MiniLM's, which has BERT's uncased vocabulary.

# %%
bpe = ByteLevelBPETokenizer()
bpe.train([str(SAMPLE_CORPUS)], vocab_size=500, special_tokens=["<|endoftext|>"], show_progress=False)
EOT = "<|endoftext|>"  # GPT-2's one special token: separator, start of the output, end, padding
source, target = RUNNING_EXAMPLE
source_bpe, target_bpe = bpe.encode(source).tokens, bpe.encode(target).tokens
gpt2 = meta_gpt2()
gpt_runs = {"gpt": (gpt2, {}), "rnd2gpt": (gpt2, {}), "bert2gpt": (bert_base, dict(decoder_checkpoint=gpt2)),
            "roberta2gpt": (meta_checkpoint(ROBERTA_BASE, "roberta-base"), dict(decoder_checkpoint=gpt2))}
gpt_reports = {s: warm_start(s, c, device="meta", **o)[1] for s, (c, o) in gpt_runs.items()}
encoder_reads = {"gpt": "(no encoder)", "rnd2gpt": source_bpe, "bert2gpt": tok.tokenize(source),
                 "roberta2gpt": source_bpe}
with pd.option_context("display.max_colwidth", 120):
    display(pd.DataFrame({  # gpt: one causal sequence, the source as its prefix; the loss counts the target only
        "encoder reads": {s: " ".join(t) if isinstance(t, list) else t for s, t in encoder_reads.items()},
        "decoder reads (teacher forcing)": {s: " ".join([*source_bpe, EOT, *target_bpe] if s == "gpt"
                                                        else [EOT, *target_bpe]) for s in gpt_runs},
        "labels": {s: " ".join([*target_bpe, EOT]) for s in gpt_runs}}))
for scheme, report in gpt_reports.items():
    row = report.table1_row()
    print(f"{scheme}: encoder <- {report.encoder_source}; decoder <- {report.decoder_source}; "
          f"{row['from checkpoint']}M loaded, {row['random']}M new")
    for entry in report.initialized:
        size = f"{entry.params / 1e6:.1f}M" if entry.params >= 1e5 else f"{entry.params / 1e3:.1f}K"
        print(f"    new:    {entry.pattern} ({size})")
    for entry in report.shared:
        print(f"    shared: {entry.pattern} is {entry.detail}")

# %% [markdown]
# `gpt` has no encoder and nothing new: GPT-2 reads the source, `<|endoftext|>`, and writes the target after it,
# one causal sequence, so every output position can attend to the whole source. rnd2gpt's random encoder reads the
# same byte-level pieces through GPT-2's own word embeddings (one vocabulary, one shared matrix), and everything
# else in it is new. bert2gpt and roberta2gpt load both sides and start only the decoder's cross-attention at
# random; bert2gpt's encoder reads lower-cased WordPieces while its decoder writes byte-level pieces with capitals,
# so no id means the same thing on both sides, where roberta2gpt's two sides at least cut text the same way.

# %% [markdown]
# ## 4. Is the warm-started encoder still the pretrained encoder?
#
# BERT adds three vectors per input token: word, position and **segment**. For single-segment input the segment
# vector is the same row, `token_type_embeddings[0]`, at every position. BertGeneration has no segment table, and
# transformers simply drops it when warm-starting. The LayerNorm that follows does not undo a missing vector, so
# from the first layer on, the "warm-started BERT encoder" computes something BERT never computed.
#
# *Predict before you run:* if the segment vector is simply dropped, will the difference to the checkpoint's output
# be largest at the first layer or at the last, and at some positions more than others?
#
# bertgen **folds** the vector instead: it adds `token_type_embeddings[0]` into every row of the position table.
# Since `word + (position + segment) = (word + position) + segment`, the folded encoder computes exactly what BERT
# computes on single-segment input. `fold_token_type=False` reproduces transformers' drop.
#
# The yardstick is `reference_hidden_states`: the checkpoint's own forward pass, segment embeddings included,
# written with plain torch ops from the checkpoint's tensors. No bertgen module takes part. (The test suite
# checks it against transformers' `BertModel`.)

# %%
batch = tok(["The warm-started encoder is still the BERT encoder.", "Folding keeps segment A."],
            padding=True, return_tensors="pt")
dropped, _ = warm_start("bert2bert", ckpt, fold_token_type=False)
with torch.no_grad():
    reference = reference_hidden_states(ckpt, batch["input_ids"], batch["attention_mask"])
    states = {name: m.encoder(batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
              for name, m in [("folded (bertgen)", model), ("dropped (transformers)", dropped)]}
mask = batch["attention_mask"].bool()
difference = {name: (s - reference).abs().amax(-1)[0] for name, s in states.items()}  # per token, first sentence
pd.Series({name: (s - reference)[mask].abs().max().item() for name, s in states.items()},
          name="max |difference| to the checkpoint's hidden states")

# %% alt="Log-scale plot of the maximum difference between the warm-started encoder's output and the checkpoint's, per token position."
fig, ax = plt.subplots(figsize=(7, 3))
for name, d in difference.items():
    ax.semilogy(d.clamp_min(1e-8).numpy(), marker="o", label=name)
ax.set(xlabel="token position (first sentence)", ylabel="max |difference|", title="encoder output vs checkpoint")
ax.legend();

# %% [markdown]
# The reference gives the checkpoint's output only, after its last layer. To see where the error starts and how it
# grows, compare the dropped encoder with the folded one, which matches the checkpoint, layer by layer
# (`output_hidden_states=True`: the embeddings' output, then each layer's):

# %%
with torch.no_grad():
    folded_states, dropped_states = (m.encoder(batch["input_ids"], attention_mask=batch["attention_mask"],
                                               output_hidden_states=True).hidden_states for m in (model, dropped))
gaps = [d - f for f, d in zip(folded_states, dropped_states)]  # (B, S, H) each
per_layer = pd.DataFrame({"max |dropped - folded|": [g[mask].abs().max().item() for g in gaps],
                          "relative size (mean over tokens)": [(g.norm(dim=-1) / f.norm(dim=-1))[mask].mean().item()
                                                               for g, f in zip(gaps, folded_states)]},
                         index=["embeddings"] + [f"layer {i}" for i in range(1, len(gaps))])
display(per_layer.round(3).T)
relative = per_layer["relative size (mean over tokens)"]
grows = sum(later > earlier for earlier, later in zip(relative, relative[1:]))  # layers where it grew
Markdown(f"Relative to the hidden state it perturbs, the error is {relative.iloc[0]:.0%} after the embeddings, "
         f"{relative.iloc[1]:.0%} after the first layer and {relative.iloc[-1]:.0%} after the last; it is largest at "
         f"{relative.idxmax()}, and grows at {grows} of the {len(relative) - 1} layers"
         + (": no layer absorbs the missing vector, each one carries its effect forward and adds to it." if
            grows == len(relative) - 1 else "."))

# %% [markdown]
# Folded, the difference is float rounding (about 1e-6); dropped, it is of the order of the hidden states
# themselves. Fine-tuning can learn the missing vector back, but the point of warm-starting is to start from what
# pretraining learned, not from a perturbed copy of it.

# %% [markdown]
# ## 5. A few steps of fine-tuning
#
# A handful of sentence-fusion pairs in the style of DiscoFuse (two sentences in, one fused sentence out), and a
# plain AdamW loop. The inputs carry no special tokens; each target ends with `[SEP]`, and `[CLS]` is the decoder's
# start token, supplied by the model when it shifts the labels right. This is a toy: a training loss on eight
# pairs shows how quickly each starting point fits, not how well it generalizes (`experiments/` has real runs).

# %%
PAIRS = [
    RUNNING_EXAMPLE,  # ("He left early. She stayed late.", "He left early, but she stayed late.")
    ("The storm hit the coast. The town was flooded.", "The storm hit the coast, and the town was flooded."),
    ("She studied hard. She passed the exam.", "She studied hard, so she passed the exam."),
    ("The shop was closed. We went home.", "The shop was closed, so we went home."),
    ("The road was icy. The bus was late.", "Because the road was icy, the bus was late."),
    ("It rained all day. The game went on.", "Although it rained all day, the game went on."),
    ("The film was long. Nobody left early.", "The film was long, but nobody left early."),
    ("The river rose. The bridge was closed.", "The river rose, so the bridge was closed."),
]
sources = encode_sources(tok, [s for s, _ in PAIRS], max_length=64, return_tensors=None)["input_ids"]
labels = encode_targets(tok, [t for _, t in PAIRS], max_length=64)
train_batch = Seq2SeqCollator(tok.pad_token_id)([{"input_ids": s, "labels": t} for s, t in zip(sources, labels)])
{name: tuple(t.shape) for name, t in train_batch.items()}


# %% [markdown]
# Before any training, what does each scheme's warm start make of the running example? Below, the loss of its target
# (teacher-forced, nats per token) and what greedy search writes for its source. *Predict before you run:* which
# scheme's start gives the target the lowest loss, and will any of them write a sentence?

# %%
def on_running_example(model):  # (target loss, greedy output, mean p of repeating the token just given)
    first = {k: v[:1] for k, v in train_batch.items()}  # row 0: the running example
    given = model.prepare_decoder_input_ids_from_labels(first["labels"])  # (1, T): [CLS] + the target, shifted
    with torch.no_grad():
        out = model.eval()(**first)
        ids = model.generate(input_ids=first["input_ids"], attention_mask=first["attention_mask"], max_new_tokens=12)
    repeat = out.logits.softmax(-1).gather(-1, given[..., None])[..., 0][first["labels"] != -100].mean().item()
    return out.loss.item(), tok.decode(ids[0, 1:]), repeat  # special tokens kept: an untrained model writes them

torch.manual_seed(0)
at_start = pd.DataFrame({s: on_running_example(warm_start(s, ckpt)[0]) for s in SCHEMES[:5]},
                        index=["target loss at the start", "greedy output at the start", "p(token just given)"]).T
at_start = at_start.astype({"target loss at the start": float, "p(token just given)": float})
display(at_start.round(3))
uniform, start_loss = math.log(tok.vocab_size), at_start["target loss at the start"]
near = start_loss[(start_loss - uniform).abs() < 0.5]
far = start_loss.drop(near.index)
Markdown(f"A uniform guess over the {tok.vocab_size:,} word pieces has loss ln V = {uniform:.2f}. "
         f"{', '.join(near.index)} start within {(near - uniform).abs().max():.2f} nats of it (from {near.min():.2f} "
         f"to {near.max():.2f}): no start knows the task, and at this one example they are as good as a "
         "uniform guess. "
         + "".join(f"{name} starts far above it, at {value:.2f}, and gives "
                   f"{at_start.loc[name, 'p(token just given)']:.0%} of its probability to the token it was just "
                   "given. " for name, value in far.items())
         + "What the checkpoint gives is a starting point that fine-tuning moves faster from, not a lower first loss.")


# %%
def finetune(scheme, steps=STEPS, lr=2e-4):
    torch.manual_seed(0)  # the same random cross-attention (and random stacks) for every scheme
    model, _ = warm_start(scheme, ckpt)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc=scheme, unit="step", disable=PRESET == "tiny"):
        loss = model(**train_batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    at_start.loc[scheme, f"greedy output after {steps} steps"] = on_running_example(model)[1]
    return losses

curves = {scheme: finetune(scheme) for scheme in TRAINED}

# %% alt="Training loss per step for each warm-starting scheme on a few sentence pairs."
fig, ax = plt.subplots(figsize=(7, 3.5))
for scheme, losses in curves.items():
    ax.plot(range(1, len(losses) + 1), losses, marker="o", label=scheme)
ax.set(xlabel="step", ylabel="training loss (cross-entropy)", title=f"{len(PAIRS)} sentence pairs, MiniLM-L6")
ax.legend();
display(pd.DataFrame(curves).iloc[[0, -1]].rename(index=lambda i: f"loss at step {i + 1}"))
at_start.dropna().filter(like="greedy output")  # the running example, written before and after (it is a training pair)

# %% [markdown]
# The warm-started model does not start lower than `rnd2rnd`: both start at about the uniform loss (the table
# before training). It fits faster: the pretrained encoder already represents the input, and the pretrained decoder
# already knows which tokens follow which. (`PRESET = "full"` trains all five schemes for longer.) The paper finds
# the same at full scale, with the encoder mattering most.
#
# Before training, every scheme's decoder writes `[CLS]` again and again: the token it was just given is, to an
# untrained model, the likeliest next one. How *sure* it is of that explains bert2rnd's high start. Its encoder and
# decoder share one word-embedding matrix, BERT's, and the decoder's output layer is tied to it. A random decoder's
# output at a position is still mostly its input token's embedding (the residual connections carry it through
# layers that have learned nothing), and the tied output layer scores every word by its dot product with that
# output, so the token just given wins. With BERT's trained embeddings, larger and more distinct than a random
# start's, it wins by far: the start bets nearly everything on a repeat (the `p(token just given)` column) and pays
# for it at every target token that is not one. rnd2rnd's small random embeddings make the same bet weakly, and the
# schemes with a pretrained decoder have pretrained layers between input and output; both stay near uniform.
# After a few steps a model learns what is frequent in the targets (a common word, or ending at once) long before
# it learns to read its input.
#
# ## The paper's ablations, as options
#
# `warm_start` also takes the ablations of the paper's analysis section: initialize only the embeddings, drop the
# checkpoint's embeddings, take a subset of layers (`layers=k` for the first k, or a list), or take the decoder
# from another checkpoint (`decoder_checkpoint=`). Each one's report says exactly what it loaded:

# %%
ablations = {"embeddings only": dict(embeddings_only=True), "without embeddings": dict(drop_embeddings=True),
             "layers 0, 2, 4": dict(layers=[0, 2, 4])}
pd.DataFrame({name: warm_start("bertshare", ckpt, device="meta", **options)[1].table1_row()
              for name, options in ablations.items()}).T.drop(columns="scheme")

# %% [markdown]
# ## Beyond the paper: where cross-attention starts
#
# In every scheme the decoder's cross-attention is new: the paper (and transformers) start it at random. It is
# the one part that must learn to read the source, and until it has, the decoder is an unconditional language
# model. `cross_attention="self"` starts each decoder layer's cross-attention as a copy of that layer's
# pretrained self-attention instead: trained projections whose attention is not uniform and whose values are as
# large as self-attention's, so the input moves the output from the first step, though they do not yet attend
# where the task needs (notebook 03's maps: no more weight on the diagonal than a random start). Nothing else
# changes; the parameters it copies move from the "random" to the "from checkpoint" column. Notebook 03 measures
# how much more the decoder depends on its input at the start, and notebook 05 what it did to the workbench's runs.

# %%
starts = {"cross-attention at random (the paper)": {},
          "cross-attention from self-attention": dict(cross_attention="self")}
pd.DataFrame({name: warm_start("bert2bert", ckpt, device="meta", **options)[1].table1_row()
              for name, options in starts.items()}).T.drop(columns="scheme")

# %% [markdown]
# Notebook 05 (ablations) reads the workbench's runs of these schemes and puts them beside the paper's numbers.
#
# ## Summary
#
# > - `warm_start(scheme, checkpoint)` builds any of the paper's schemes and reports, tensor group by tensor group,
# >   what it loaded, initialized, shared, folded and dropped.
# > - The report's counts reproduce the paper's Table 1 columns without downloading BERT.
# > - BERT's token-type table is folded into the position table, so a warm-started encoder computes exactly what the
# >   checkpoint computed.
# > - A few fine-tuning steps on a handful of pairs show how differently the schemes start; they say nothing yet about
# >   where each ends.
#
# ## Exercises
#
# 1. Under `bertshare`, *predict* which parts of the decoder are the encoder's own tensors and which belong to the
#    decoder alone, and from the config alone (6 layers, hidden 384, vocabulary 30,522) how many parameters the
#    decoder owns. Then check: two parameters are one tensor exactly when they share storage, so compare the
#    `data_ptr()` of the decoder's parameters with the encoder's.
# 2. `bert2rnd` has a random decoder. *Predict* how many of its decoder's parameters come from the checkpoint, and
#    explain why the answer is not zero. Check by comparing every distinct decoder tensor with every checkpoint
#    tensor (`ckpt.state`), then predict and check what changes with `share_embeddings=False`.
# 3. At bert-base size, *predict* how many parameters `bert2bert` gains with `share_embeddings=False`, and in which
#    Table 1 columns (embeddings, from checkpoint, random) the difference lands. Why there and not under *random*?
#    Check with the reports, and find the tensor the extra parameters belong to.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: the decoder shares embeddings, self-attention and feed-forward; it owns cross-attention and lm_head.bias
import re

shared_model, _ = warm_start("bertshare", ckpt)
encoder_storage = {p.data_ptr() for p in shared_model.encoder.parameters()}
parts = {}
for name, p in shared_model.decoder.named_parameters():  # each distinct tensor once (tied aliases left out)
    part = ".".join(re.sub(r"^encoder\.layer\.\d+\.", "layer.", name.removeprefix("bert.")).split(".")[:2])
    row = parts.setdefault(part, {"tensors": 0, "parameters": 0, "of them the encoder's": 0})
    row["tensors"] += 1
    row["parameters"] += p.numel()
    row["of them the encoder's"] += p.data_ptr() in encoder_storage
sharing = pd.DataFrame(parts).T
display(sharing)
own = sharing.loc[sharing["of them the encoder's"] == 0, "parameters"].sum()
c = ckpt.config
h = c.hidden_size  # per layer, cross-attention: 4 projections (h x h + h) and a LayerNorm (2h); plus the output bias
predicted = c.num_hidden_layers * (4 * (h * h + h) + 2 * h) + c.vocab_size
print(f"the decoder owns {own:,} parameters; predicted from the config: {predicted:,}")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: the word embeddings. share_embeddings=True makes the decoder's matrix (and its tied output layer) the
# encoder's, which is loaded; with separate embeddings nothing in a random decoder comes from the checkpoint.
def decoder_from_checkpoint(model):
    distinct = {p.data_ptr(): (n, p) for n, p in model.decoder.named_parameters()}.values()
    return {n: p.numel() for n, p in distinct
            if any(t.shape == p.shape and torch.equal(t, p.detach()) for t in ckpt.state.values())}

for share in (True, False):
    model_share, _ = warm_start("bert2rnd", ckpt, share_embeddings=share)
    print(f"share_embeddings={share}:", decoder_from_checkpoint(model_share))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: + vocab x hidden (23.4M), in "embeddings" and "from checkpoint": the decoder gets its own copy of the
# matrix, and a copy of a checkpoint tensor is loaded, not random. The tied output layer follows the decoder's copy.
reports = {shared: warm_start("bert2bert", bert_base, device="meta", share_embeddings=shared)[1]
           for shared in (True, False)}
columns = {"total": "total", "embeddings": "embeddings", "from checkpoint": "from_checkpoint", "random": "random"}
display(pd.Series({column: getattr(reports[False], attr) - getattr(reports[True], attr)
                   for column, attr in columns.items()}, name="separate - shared (parameters)"))
print(f"vocab x hidden = {BERT_BASE['vocab_size'] * BERT_BASE['hidden_size']:,}")
print("\n".join(f"loaded: {e.pattern} <- {e.detail}" for e in reports[False].loaded if "word_embeddings" in e.pattern))
print("\n".join(f"shared: {e.pattern} is {e.detail}" for e in reports[False].shared
                 if "lm_head.decoder.weight" in e.pattern))
