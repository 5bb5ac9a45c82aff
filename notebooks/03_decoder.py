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
# # 03 · The decoder: causal self-attention, cross-attention, a tied LM head, and a KV cache
#
# The decoder is the encoder's layer stack with three changes:
# 1. self-attention is **causal**: position *t* may read positions ≤ *t* only, so training can score every
#    next token in one pass;
# 2. each layer gets a **cross-attention** block that reads the encoder's output (new weights when
#    warm-starting: BERT has none);
# 3. an **LM head** turns hidden states into vocabulary logits; its weight *is* the word-embedding matrix.
#
# At generation time a **KV cache** keeps the keys and values of past positions, so each new token costs one
# position's work instead of the whole prefix. Shapes: **B** batch, **S** source, **T** target length, **L**
# cached + new length, **V** vocabulary.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": a handful of decoding steps; "full": longer timing runs

# %%
import time

import matplotlib.pyplot as plt
import torch

from bertgen import load_tokenizer, warm_start
from bertgen.modeling import causal_mask

torch.manual_seed(0)
STEPS = {"tiny": 24, "full": 96}[PRESET]
tokenizer = load_tokenizer("minilm-l6")
model, report = warm_start("bert2bert", "minilm-l6")
model.eval()
source = tokenizer(["The cat sat on the mat because it was warm."], add_special_tokens=False, return_tensors="pt")
target = tokenizer(["It was warm, so the cat sat on the mat."], add_special_tokens=False, return_tensors="pt")["input_ids"]
decoder_input_ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), target], dim=1)  # [CLS] + target
print("source", tuple(source["input_ids"].shape), "(B, S);  decoder input", tuple(decoder_input_ids.shape), "(B, T)")

# %% [markdown]
# ## The causal mask
# A boolean mask over (query, key) pairs: True on and below the diagonal, False above it (the future).
# Masked scores are left out of the softmax, so they get a weight of exactly zero.

# %%
T = decoder_input_ids.shape[1]
plt.figure(figsize=(4, 4))
plt.imshow(causal_mask(T, T, torch.device("cpu"))[0, 0], cmap="Greys_r")
plt.title("query t may attend to key s (white)")
plt.xlabel("key position s"); plt.ylabel("query position t");

# %% [markdown]
# **Proof by experiment:** change the last target token; the logits at every earlier position stay the same.

# %%
with torch.no_grad():
    logits = model(**source, decoder_input_ids=decoder_input_ids).logits  # (B, T, V)
    changed = decoder_input_ids.clone()
    changed[0, -1] = tokenizer.convert_tokens_to_ids("banana")
    logits_changed = model(**source, decoder_input_ids=changed).logits
print("earlier positions, max |diff| =", (logits - logits_changed)[:, :-1].abs().max().item())
print("last position,     max |diff| =", (logits - logits_changed)[:, -1].abs().max().item())

# %% [markdown]
# ## Cross-attention
# Every decoder position reads the encoder's states. After warm-starting these weights are random
# (normal, std 0.02), so the map below is nearly uniform: fine-tuning is what teaches the decoder where to
# look. Notebook 06 shows one after training.

# %%
with torch.no_grad():
    out = model(**source, decoder_input_ids=decoder_input_ids, output_attentions=True)
cross = out.cross_attentions[-1][0].mean(0)  # (T, S): averaged over heads
plt.figure(figsize=(7, 4))
plt.imshow(cross, cmap="viridis")
plt.xticks(range(cross.shape[1]), tokenizer.convert_ids_to_tokens(source["input_ids"][0].tolist()), rotation=90)
plt.yticks(range(T), tokenizer.convert_ids_to_tokens(decoder_input_ids[0].tolist()))
plt.colorbar()
plt.title("cross-attention, last layer (untrained)")
print(f"weights range {cross.min():.3f}..{cross.max():.3f}; uniform would be 1/S = {1 / cross.shape[1]:.3f}")

# %% [markdown]
# ## The LM head is the embedding matrix
# Tying reads and writes words with the same vectors and saves V x H parameters. With shared embeddings
# (the paper's default) the encoder uses that matrix too.

# %%
head = model.decoder.lm_head.decoder.weight
print("LM head is the decoder's word embeddings:", head is model.decoder.bert.embeddings.word_embeddings.weight)
print("... and the encoder's:", head is model.encoder.embeddings.word_embeddings.weight)
print(f"parameters saved by tying: {head.numel():,}")


# %% [markdown]
# ## The KV cache
# Greedy decoding, written out: each step feeds the last token; with the cache, earlier keys/values are
# reused (and cross-attention keys/values are computed once). First, the cache changes nothing:

# %%
def greedy(model, source, steps, use_cache):
    encoder_outputs = model.encoder(source["input_ids"], attention_mask=source["attention_mask"])
    ids, cache = torch.tensor([[tokenizer.bos_token_id]]), None
    for _ in range(steps):
        step_ids = ids[:, -1:] if use_cache else ids
        out = model(encoder_outputs=encoder_outputs, attention_mask=source["attention_mask"],
                    decoder_input_ids=step_ids, past_key_values=cache, use_cache=use_cache, logits_to_keep=1)
        cache = out.past_key_values
        ids = torch.cat([ids, out.logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids

with torch.inference_mode():
    same = torch.equal(greedy(model, source, STEPS, True), greedy(model, source, STEPS, False))
print(f"{STEPS} greedy tokens with cache == without cache:", same)

# %% [markdown]
# Then what it saves: without a cache step *t* recomputes all *t* positions (quadratic in length in total);
# with it each step computes one.

# %%
speed = {}
with torch.inference_mode():
    for use_cache in (False, True):
        greedy(model, source, 4, use_cache)  # warm-up
        start = time.perf_counter()
        greedy(model, source, STEPS, use_cache)
        speed[use_cache] = STEPS / (time.perf_counter() - start)
print(f"tokens/s without cache {speed[False]:.0f}, with cache {speed[True]:.0f} "
      f"({speed[True] / speed[False]:.1f}x)")
