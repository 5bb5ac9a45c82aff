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
# # 02 · The encoder: what BertGeneration computes, and why each piece is there
#
# **Paper:** Rothe, Narayan, Severyn (2020), [*Leveraging Pre-trained Checkpoints for Sequence Generation
# Tasks*](https://arxiv.org/abs/1907.12461), section *Models and Pre-trained Checkpoints*: "a Transformer
# encoder-decoder compatible with BERT", whose encoder is BERT's. The Transformer itself is Vaswani et al.
# (2017), *Attention Is All You Need*.
# **Code:** `bertgen/modeling/bert_generation.py` (`BertGenerationEmbeddings`, `BertGenerationSelfAttention`,
# `BertGenerationLayer`, `BertGenerationEncoder`), `bertgen/config/bert.py` (`BertGenerationConfig`),
# `bertgen/teaching/figures.py` (the diagrams).
#
# **After this notebook you can**
# - write down the equations of one encoder layer (embeddings, scaled dot-product attention, heads, residual and
#   LayerNorm, feed-forward) and recompute the module's output by hand;
# - explain why the scores are divided by $\sqrt{d_h}$, why there are several heads, and why every block is
#   wrapped in a residual connection and a LayerNorm;
# - show that padding is invisible to the real tokens, and read an encoder attention map.
#
# ## Why the encoder comes first
#
# The paper's whole idea rests on one observation: the encoder of a Transformer encoder-decoder and BERT are the
# *same network*. BERT was pretrained as a stack of Transformer encoder layers reading a sentence in both
# directions; a sequence-to-sequence model needs exactly such a stack to read its input. So the encoder can be
# taken from a BERT checkpoint unchanged, every weight in its place, and it starts fine-tuning already able to
# represent English. That is why the paper's `bert2rnd` (pretrained encoder, random decoder) comes close to
# `bert2bert` on most tasks: the encoder is where most of the pretrained knowledge lands. Before we can talk about
# warm-starting (notebook 04), we need to know what that stack computes; this notebook takes it apart.
#
# BertGeneration's encoder *is* BERT's Transformer encoder without the token-type (segment) table: word and
# position embeddings, then a stack of **post-LayerNorm** layers, each a **self-attention** block followed by a
# **feed-forward** block, each wrapped in a residual connection and a LayerNorm. We build one from the embedded
# MiniLM checkpoint (6 layers, hidden 384, 12 heads; a sentence-embedding fine-tune of MiniLM, not a raw
# masked-LM checkpoint) and recompute it by hand. Shapes, as in the code: **B** batch, **S** source length,
# **H** hidden size, **nh** heads, **hs** = H / nh the head size (written $d_h$ in equations).

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": two sentences; "full": four (both run in seconds)

# %%
import math

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from IPython.display import Markdown

from bertgen import load_tokenizer, warm_start
from bertgen.teaching import RUNNING_EXAMPLE, attention_explorer, draw_data_flow, draw_layer, plot_attention

torch.manual_seed(0)
tokenizer = load_tokenizer("minilm-l6")
model, report = warm_start("bert2bert", "minilm-l6")
encoder = model.encoder.eval()
config = encoder.config
Markdown(f"The encoder: hidden size H = {config.hidden_size}, nh = {config.num_attention_heads} heads of "
         f"hs = {config.head_size}, {config.num_hidden_layers} layers, a vocabulary of {config.vocab_size:,} WordPieces.")

# %% [markdown]
# Here is one layer as a picture. Data flows upwards; the grey arrows are the residual paths that carry each
# block's input around it, to be added to its output.

# %% alt="Diagram of one encoder layer, bottom to top: self-attention, add and LayerNorm, feed-forward, add and LayerNorm, with residual paths around each block."
draw_layer(decoder=False);

# %% [markdown]
# ## Inputs: ids, no special tokens
#
# In the paper's setup inputs carry **no** `[CLS]`/`[SEP]` (`add_special_tokens=False`): just the word pieces.
# BERT was pretrained with `[CLS]` at the front because classification read its vector; a generation model
# reads every position through the decoder's cross-attention, so the extra token buys nothing (notebook 01).

# %%
sentences = [RUNNING_EXAMPLE[0], "Plants create energy through photosynthesis."]  # the course's running example first
if PRESET == "full":
    sentences += ["However, the committee did not agree.", "He left early, so he missed the train."]
batch = tokenizer(sentences, padding=True, add_special_tokens=False, return_tensors="pt")
input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
print("input_ids", tuple(input_ids.shape), "(B, S)")
print(tokenizer.convert_ids_to_tokens(input_ids[0].tolist()))

# %% [markdown]
# ## Embeddings: what a token is, and where it is
#
# Attention, as we will see, is a weighted average over positions, and an average does not care about order:
# shuffle the inputs and the same vectors come out, shuffled. So order has to be written into the vectors
# themselves. BERT does it with a learned **position embedding**, one vector per position, added to the
# **word embedding** of the token there:
#
# $$x_i = \operatorname{LayerNorm}\big(E_{\text{word}}[w_i] + E_{\text{pos}}[i]\big) \in \mathbb{R}^H .$$
#
# BERT also adds a segment vector (sentence A or B). BertGeneration has no segment table; warm-starting *folds*
# segment A's vector into every row of the position table, so the sum is exactly BERT's for single-segment input
# (notebook 04 measures what dropping it would cost). In training, dropout follows.

# %%
emb = encoder.embeddings
S = input_ids.shape[1]
by_hand = emb.LayerNorm(emb.word_embeddings(input_ids) + emb.position_embeddings(torch.arange(S)))  # (B, S, H)
with torch.no_grad():
    print("embeddings", tuple(by_hand.shape), "max |by hand - module| =",
          (by_hand - emb(input_ids)).abs().max().item())

# %% [markdown]
# ## Scaled dot-product attention: each position reads from every other
#
# Self-attention lets every position build its new vector from the vectors of all positions. Each position is
# projected three ways: a **query** $q_i = x_i W_Q$ (what am I looking for?), a **key** $k_j = x_j W_K$ (what do I
# offer?), and a **value** $v_j = x_j W_V$ (what do I hand over if chosen?). The query of position $i$ scores the
# key of every position $j$ by a dot product; a softmax turns the scores into weights that sum to one; the output
# is the weighted sum of the values:
#
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{Q K^\top}{\sqrt{d_h}} + M\Big) V ,$$
#
# where $M$ is 0 for real keys and $-\infty$ for padding, so padded positions get a weight of exactly zero.
#
# **Why divide by $\sqrt{d_h}$?** If the components of $q$ and $k$ have unit variance and are independent, their
# dot product is a sum of $d_h$ terms and has variance $d_h$. With $d_h = 64$ the raw scores spread over about
# ±8, and a softmax of such scores puts nearly all weight on one key: the attention is *saturated*, its gradient
# close to zero, and it learns slowly. Dividing by $\sqrt{d_h}$ brings the variance back to 1 whatever the head
# size. The plot measures it: the entropy of the attention weights over 32 keys, with and without the scaling, as
# the head size grows (the maximum, a uniform distribution, is $\ln 32 \approx 3.47$).

# %% alt="Entropy of attention weights against head size: unscaled scores collapse towards zero entropy as the head grows, scaled scores stay near the uniform entropy."
g = torch.Generator().manual_seed(0)
sizes = sorted({4, 16, 64, 256, 1024, config.head_size})
entropy = {"scaled by 1/sqrt(hs)": [], "unscaled": []}
for hs in sizes:
    q, k = torch.randn(256, 1, hs, generator=g), torch.randn(256, 32, hs, generator=g)
    scores = (q * k).sum(-1)  # (256 queries, 32 keys)
    for name, s in (("scaled by 1/sqrt(hs)", scores / math.sqrt(hs)), ("unscaled", scores)):
        p = s.softmax(-1)
        entropy[name].append(-(p * p.clamp_min(1e-12).log()).sum(-1).mean().item())
fig, ax = plt.subplots(figsize=(6, 3))
for name, values in entropy.items():
    ax.plot(sizes, values, marker="o", label=name)
ax.axhline(math.log(32), ls=":", c="grey", label="uniform over 32 keys")
ax.set(xscale="log", xlabel="head size hs", ylabel="entropy of the weights (nats)", title="why scale the scores")
ax.legend(fontsize=8);
Markdown(f"At the head size of this model (hs = {config.head_size}) the unscaled softmax keeps an entropy of "
         f"{entropy['unscaled'][sizes.index(config.head_size)]:.2f} nats against {entropy['scaled by 1/sqrt(hs)'][sizes.index(config.head_size)]:.2f} "
         "scaled: without the scaling a random start is already nearly one-hot.")

# %% [markdown]
# ## Multiple heads: several questions at once
#
# One softmax gives each position *one* weighted average. But a word needs several things from its context at
# once: its syntactic head, the noun a pronoun refers to, the word right before it. **Multi-head attention** splits
# the $H$ dimensions into $n_h$ heads of $d_h = H / n_h$ and runs the attention above in each, with its own
# projections, in parallel:
#
# $$\operatorname{head}_h = \operatorname{Attention}(X W_Q^{(h)}, X W_K^{(h)}, X W_V^{(h)}), \qquad
# \operatorname{MultiHead}(X) = [\operatorname{head}_1; \dots; \operatorname{head}_{n_h}]\, W_O .$$
#
# It costs the same as one big head (the projections are the same size, just reshaped), and each head can learn a
# different pattern. In the code the split is a reshape: `split_heads` turns (B, S, H) into (B, nh, S, hs).
#
# ## Residual connections and LayerNorm: how 12 (or 24) layers stay trainable
#
# Each block's output is *added* to its input, and the sum is normalized:
#
# $$h = \operatorname{LayerNorm}\big(x + \operatorname{MultiHead}(x)\big), \qquad
# y = \operatorname{LayerNorm}\big(h + \operatorname{FFN}(h)\big), \qquad
# \operatorname{LayerNorm}(z) = \gamma \odot \frac{z - \mu(z)}{\sigma(z)} + \beta .$$
#
# The residual path means a block only has to learn a *correction* to its input, and gradients reach the lower
# layers unattenuated along the identity path. LayerNorm keeps each position's vector at a fixed scale, so the next
# layer's softmax sees scores of a predictable size. BERT puts the LayerNorm *after* the addition ("post-LN"); many
# later models put it before. A warm-started model must keep the checkpoint's order, or its weights mean something
# else.
#
# ## The feed-forward block: per-position computation
#
# Attention mixes information *across* positions; the feed-forward block then transforms each position on its own,
# with the same two-layer network everywhere: $\operatorname{FFN}(h) = \operatorname{GELU}(h W_1 + b_1) W_2 + b_2$,
# widening from $H$ to $4H$ (here 1,536) and back. Two-thirds of a layer's parameters sit here.
#
# ## One layer, step by step
#
# Everything above, written out and compared with the module. Only the real tokens are compared (the rows of padded
# positions are never read by anything).

# %%
layer = encoder.encoder.layer[0]
attn = layer.attention.self
with torch.no_grad():
    x = emb(input_ids)  # (B, S, H)
    q, k, v = (attn.split_heads(proj(x)) for proj in (attn.query, attn.key, attn.value))  # (B, nh, S, hs)
    scores = q @ k.transpose(-2, -1) / math.sqrt(config.head_size)  # (B, nh, S, S)
    scores = scores.masked_fill(attention_mask[:, None, None, :] == 0, float("-inf"))  # M: padding keys
    weights = scores.softmax(dim=-1)
    context = (weights @ v).transpose(1, 2).reshape(x.shape)  # (B, S, H): heads side by side
    h = layer.attention.output.LayerNorm(layer.attention.output.dense(context) + x)  # residual, LayerNorm
    y = layer.output.LayerNorm(layer.output.dense(F.gelu(layer.intermediate.dense(h))) + h)  # FFN, residual, LN
    module_y = layer(x, self_mask=attention_mask[:, None, None, :].bool())[0]
real = attention_mask.bool()
print("layer 0 output", tuple(y.shape), "max |by hand - module| on real tokens =",
      (y - module_y)[real].abs().max().item())

# %% [markdown]
# ## Attention as a picture
#
# The weights of the first sentence for two heads of the last layer: row *i* is how much token *i* reads from each
# token; rows sum to one. The colour scale is fixed at 0..1 for every map in this course, so that a diffuse head
# looks diffuse. This is a pretrained encoder, so the heads have structure: some look at the next or previous
# word, some at the punctuation, some spread out.

# %% alt="Two self-attention maps of the first sentence, last layer, heads 0 and 5: rows are queries, columns keys, darker blue is more weight."
with torch.no_grad():
    out = encoder(input_ids, attention_mask=attention_mask, output_attentions=True)
n = int(attention_mask[0].sum())
tokens = tokenizer.convert_ids_to_tokens(input_ids[0, :n].tolist())
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for ax, head in zip(axes, (0, 5)):
    plot_attention(out.attentions[-1][0, head, :n, :n], tokens, tokens, ax=ax, title=f"last layer, head {head}")
plt.tight_layout()
distance = torch.stack([(a[0, :, :n, :n] * (torch.arange(n)[None, :] - torch.arange(n)[:, None]).abs()).sum(-1).mean(-1)
                        for a in out.attentions])  # (layers, nh): mean distance between a query and what it reads
Markdown(f"Rows sum to {out.attentions[-1][0, 0, :n].sum(-1).mean():.4f}. How far heads look differs: averaged over "
         f"queries, the nearest-looking head reads {distance.min():.1f} tokens away, the farthest "
         f"{distance.max():.1f} (the sentence has {n} tokens).")

# %% [markdown]
# **Live:** pick any layer and head (in JupyterLab; a rendered page shows the default).

# %% alt="The self-attention map of the explorer's default view: last layer, heads averaged."
attention_explorer(out.attentions, tokens, tokens, title="self-attention");

# %% [markdown]
# ## Padding changes nothing
#
# A sentence encoded alone and inside a padded batch gives the same states on its real tokens: padded keys get zero
# weight through $M$, so the mask is all that separates sentences of different lengths in one batch.
#
# *Predict before you run:* the difference will be exactly zero, or small but not zero? Why might it not be zero?

# %%
with torch.no_grad():
    alone = encoder(tokenizer([sentences[1]], add_special_tokens=False, return_tensors="pt")["input_ids"]).last_hidden_state[0]
    in_batch = out.last_hidden_state[1, : alone.shape[0]]
print("padded vs alone, max |diff| =", (alone - in_batch).abs().max().item())

# %% [markdown]
# ## Bidirectional: why this stack cannot write text as it stands
#
# Look again at the attention equation: nothing stops position $i$ from reading position $j > i$. Every position
# sees the whole sentence, left and right, and BERT was pretrained that way, by filling in masked words from both
# sides of them. That is exactly what an encoder should do: to represent *bank* in "the bank of the river" it helps
# to read *river*. But it is exactly what a text *generator* must not do. A decoder writes one token at a time; at
# training time it is shown the whole target at once (teacher forcing) and must predict token $t$ from tokens
# before $t$ only. If its attention could look ahead, it would learn to copy the next token from its input instead
# of predicting it, and would have nothing to copy at generation time. The decoder therefore runs the very same
# layer with a mask that hides the future. Notebook 03 shows that this mask is the *only* change needed to run a
# bidirectional BERT layer causally, and what it costs: the pretrained weights were never trained to work without
# the right-hand context, which is one reason the paper finds a pretrained decoder less useful than a pretrained
# encoder.
#
# ## What to take to the decoder
#
# The encoder maps $S$ word pieces to $S$ vectors of size $H$, each a mixture of its own token and its context,
# computed by layers whose weights came straight from BERT. The decoder (notebook 03) is built from the *same*
# layer, with two changes: a mask that hides the future, and a second attention block that reads these $S$
# vectors. Because the layer is the same, the decoder can be warm-started from the same checkpoint, which is the
# paper's `bert2bert`.
#
# Here is the whole model the next notebooks complete, with the shape of every tensor for the running example:
# its source as encoded above, its target *He left early, but she stayed late.* behind the start token.

# %% alt="Data flow of the whole encoder-decoder with tensor shapes for the running example: source ids through embeddings and encoder layers to the encoder output, which feeds the cross-attention of every decoder layer; decoder input ids through embeddings, decoder layers and the tied LM head to logits over the vocabulary."
flow = {"B": 1, "S": n, "T": len(tokenizer.encode(RUNNING_EXAMPLE[1], add_special_tokens=False)) + 1,
        "H": config.hidden_size, "V": config.vocab_size, "L": config.num_hidden_layers}
draw_data_flow(flow);

# %% [markdown]
# ## Summary
#
# > - An encoder layer is self-attention, $\operatorname{softmax}(QK^\top/\sqrt{d_h} + M)V$ over several heads, then a
# >   per-position feed-forward block, each wrapped in a residual connection and a post-LayerNorm.
# > - The $\sqrt{d_h}$ keeps the weights from collapsing onto one key as heads grow; the padding mask $M$ makes a
# >   padded batch compute what each sentence computes alone.
# > - Heads specialise: some read a fixed neighbour (positional), others read by content.
# > - The encoder is BERT's stack unchanged, which is why a BERT checkpoint warm-starts it weight for weight.
#
# ## Exercises
#
# 1. Remove the $\sqrt{d_h}$ scaling in the hand-computed layer above. How large is the difference to the module
#    now, and how does the entropy of layer 0's attention weights change?
# 2. Count the parameters of one encoder layer from the equations ($W_Q, W_K, W_V, W_O$ with biases, the two FFN
#    matrices with biases, two LayerNorms) and check your formula against the module.
# 3. Which heads of layer 0 are *positional*, attending to a fixed offset (the previous word, the next) whatever
#    the words are, and how do you know? Design a test: shuffle the words of the first sentence while keeping the
#    position ids, and decide whether a positional head's map should then change when compared position by position,
#    or token by token. Check your test against a direct measure of positional attention.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: without the scaling the scores are sqrt(hs) = 5.7x larger, the weights sharper, the output wrong
def entropy_of(w):
    return -(w * w.clamp_min(1e-12).log()).sum(-1)[real[:, None, :].expand(-1, w.shape[1], -1)].mean().item()

with torch.no_grad():
    unscaled = (q @ k.transpose(-2, -1)).masked_fill(attention_mask[:, None, None, :] == 0, float("-inf")).softmax(-1)
    context_u = (unscaled @ v).transpose(1, 2).reshape(x.shape)  # the rest of the layer as above
    h_u = layer.attention.output.LayerNorm(layer.attention.output.dense(context_u) + x)
    y_u = layer.output.LayerNorm(layer.output.dense(F.gelu(layer.intermediate.dense(h_u))) + h_u)
print(f"max |by hand - module| on real tokens: with the scaling {(y - module_y)[real].abs().max():.1e}, "
      f"without {(y_u - module_y)[real].abs().max():.2f} (outputs have unit scale after the LayerNorm)")
print(f"entropy of layer 0's weights: scaled {entropy_of(weights):.2f} nats, unscaled {entropy_of(unscaled):.2f} nats")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: 4 (H^2 + H) for attention, 2 H*4H + 4H + H for the FFN, 2 * 2H for the LayerNorms
H = config.hidden_size
formula = 4 * (H * H + H) + (H * config.intermediate_size + config.intermediate_size) \
    + (config.intermediate_size * H + H) + 2 * 2 * H
print(formula, sum(p.numel() for p in layer.parameters()), formula == sum(p.numel() for p in layer.parameters()))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: a positional head reads the key at a fixed offset from its query, whatever the words. Shuffle the words
# and keep the positions: its map, compared position by position, stays the same; compared token by token (the
# original map reordered with the words), it changes most, since each word now has other neighbours. Direct measure:
# the largest mean weight a head puts on one offset (-2..2); 1.0 means always the same neighbour.
perm = torch.randperm(n, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    shuffled = encoder(input_ids[:1, :n][:, perm], output_attentions=True).attentions[0][0]  # (nh, n, n), layer 0
original = out.attentions[0][0, :, :n, :n]
offset = torch.arange(n)[None, :] - torch.arange(n)[:, None]  # (n, n): key position - query position
heads = pd.DataFrame({
    "weight on one offset": torch.stack([original[:, offset == d].mean(-1) for d in range(-2, 3)]).amax(0),
    "change, same positions": (shuffled - original).abs().sum(-1).mean(-1),  # mean L1 change of a row
    "change, same tokens": (shuffled - original[:, perm][:, :, perm]).abs().sum(-1).mean(-1),
}).rename_axis("layer 0 head").round(2)
display(heads.sort_values("weight on one offset", ascending=False).head(4))
print("most positional head:", heads["weight on one offset"].idxmax(),
      "; least changed position by position:", heads["change, same positions"].idxmin())
