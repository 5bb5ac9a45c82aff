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
# # 02 · The encoder: what BertGeneration computes
#
# BertGeneration's encoder *is* BERT's Transformer encoder without the token-type (segment) embeddings:
# word and position embeddings, then a stack of post-LayerNorm layers, each **self-attention** followed by a
# **feed-forward** block, each wrapped in a residual connection and a LayerNorm. This notebook builds one
# from the embedded MiniLM checkpoint (6 layers, hidden 384, 12 heads; a sentence-embedding fine-tune of
# MiniLM, not a raw MLM checkpoint) and recomputes it by hand, one step at a time.
#
# Shapes, as in the code: **B** batch, **S** source length, **H** hidden size, **nh** heads, **hs** = H / nh.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": a few sentences, runs in seconds on a laptop CPU; "full": more sentences and timing runs

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from bertgen import load_tokenizer, warm_start

torch.manual_seed(0)
tokenizer = load_tokenizer("minilm-l6")
model, report = warm_start("bert2bert", "minilm-l6")
encoder = model.encoder.eval()
config = encoder.config
print(f"hidden H={config.hidden_size}, heads nh={config.num_attention_heads}, "
      f"head size hs={config.head_size}, layers={config.num_hidden_layers}, vocab={config.vocab_size}")

# %% [markdown]
# ## Inputs: ids, no special tokens
# In the paper's setup inputs carry **no** [CLS]/[SEP] (`add_special_tokens=False`): just the word pieces.

# %%
sentences = ["The cat sat on the mat because it was warm.", "Plants create energy through photosynthesis."]
if PRESET == "full":
    sentences += ["However, the committee did not agree.", "He left early, so he missed the train."]
batch = tokenizer(sentences, padding=True, add_special_tokens=False, return_tensors="pt")
input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
print("input_ids", tuple(input_ids.shape), "(B, S)")
print(tokenizer.convert_ids_to_tokens(input_ids[0].tolist()))

# %% [markdown]
# ## Embeddings
# Each id picks a row of the word-embedding table, each position a row of the position table; their sum
# is normalized and (in training) dropped out. BERT also adds a segment vector here: warm-starting folds
# segment A's vector into the position table, so the sum is the same without a third table
# (notebook 04 measures what that buys).

# %%
emb = encoder.embeddings
S = input_ids.shape[1]
by_hand = emb.LayerNorm(emb.word_embeddings(input_ids) + emb.position_embeddings(torch.arange(S)))  # (B, S, H)
with torch.no_grad():
    print("embeddings", tuple(by_hand.shape), "max |by hand - module| =",
          (by_hand - emb(input_ids)).abs().max().item())

# %% [markdown]
# ## One layer, step by step
# Self-attention projects every position to a query, a key and a value, split into `nh` heads of size
# `hs`. Each query scores every key (`q·k / sqrt(hs)`), padding keys get `-inf`, a softmax turns the
# scores into weights, and the output is the weighted sum of values. Then: output projection, residual,
# LayerNorm; a GELU feed-forward of width 4H; residual, LayerNorm.

# %%
layer = encoder.encoder.layer[0]
attn = layer.attention.self
with torch.no_grad():
    x = emb(input_ids)  # (B, S, H)
    q, k, v = (attn.split_heads(proj(x)) for proj in (attn.query, attn.key, attn.value))  # (B, nh, S, hs)
    scores = q @ k.transpose(-2, -1) / math.sqrt(config.head_size)  # (B, nh, S, S)
    scores = scores.masked_fill(attention_mask[:, None, None, :] == 0, float("-inf"))
    weights = scores.softmax(dim=-1)
    context = (weights @ v).transpose(1, 2).reshape(x.shape)  # (B, S, H): heads side by side
    h = layer.attention.output.LayerNorm(layer.attention.output.dense(context) + x)
    y = layer.output.LayerNorm(layer.output.dense(F.gelu(layer.intermediate.dense(h))) + h)
    module_y = layer(x, self_mask=attention_mask[:, None, None, :].bool())[0]
real = attention_mask.bool()
print("layer 0 output", tuple(y.shape), "max |by hand - module| on real tokens =",
      (y - module_y)[real].abs().max().item())

# %% [markdown]
# ## Attention as a picture
# The same weights for the first sentence, one head of the last layer: row *i* is how much token *i*
# reads from each token. Rows sum to one.

# %%
with torch.no_grad():
    out = encoder(input_ids, attention_mask=attention_mask, output_attentions=True)
n = int(attention_mask[0].sum())
tokens = tokenizer.convert_ids_to_tokens(input_ids[0, :n].tolist())
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, head in zip(axes, (0, 5)):
    ax.imshow(out.attentions[-1][0, head, :n, :n], cmap="viridis")
    ax.set_xticks(range(n), tokens, rotation=90)
    ax.set_yticks(range(n), tokens)
    ax.set_title(f"last layer, head {head}")
plt.tight_layout()
print("rows sum to", out.attentions[-1][0, 0, :n].sum(-1)[:3].tolist())

# %% [markdown]
# ## Padding changes nothing
# A sentence encoded alone and inside a padded batch gives the same states on its real tokens: padded keys
# get zero weight, so the mask is all that separates sentences of different lengths.

# %%
with torch.no_grad():
    alone = encoder(tokenizer([sentences[1]], add_special_tokens=False, return_tensors="pt")["input_ids"]).last_hidden_state[0]
    in_batch = out.last_hidden_state[1, : alone.shape[0]]
print("padded vs alone, max |diff| =", (alone - in_batch).abs().max().item())
