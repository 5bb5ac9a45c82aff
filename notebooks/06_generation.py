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
# # 06 · Generation: greedy, beam search, sampling
#
# A trained encoder-decoder gives, for a source and the tokens written so far, a distribution over the next token.
# *Decoding* turns those distributions into one output sentence. This notebook walks through what
# `model.generate(...)` does with transformers' arguments, and what each knob changes:
#
# 1. greedy search, beam search and sampling side by side,
# 2. what the length penalty and n-gram blocking change (a table, and output length against the penalty),
# 3. a cross-attention map of a generated sentence: which source tokens each output token read,
# 4. the key/value cache, and how much time it saves.
#
# Everything here is `bertgen.generation`, tested token for token against transformers' `generate`
# (`tests/test_generation.py`); `benchmarks/RESULTS.md` has its speed.
#
# > **The model.** Sections 1, 3 and 4 use the warm-started MiniLM bert2bert of notebook 04, *before
# > fine-tuning*. Its encoder is pretrained, its cross-attention is random, and its decoder is BERT, which
# > without a `[MASK]` predicts the token it is reading: after the start token `[CLS]` it writes `[CLS]`, and
# > then again. So its outputs are junk; what matters here is the machinery. Section 2 needs a model whose
# > choices *vary*, so it uses a tiny random one with sharp distributions.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": a few sentences, seconds on a laptop CPU; "full": more inputs, longer outputs

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch

from bertgen import BertGenerationConfig, EncoderDecoderConfig, EncoderDecoderModel, load_tokenizer, warm_start
from bertgen.generation import length_penalty

NEW_TOKENS = {"tiny": 24, "full": 64}[PRESET]
TOY_INPUTS = {"tiny": 16, "full": 256}[PRESET]
torch.set_num_threads(1)  # small batches gain little from a second core; one keeps the timings steady
torch.manual_seed(0)
tok = load_tokenizer("minilm-l6")
model, _ = warm_start("bert2bert", "minilm-l6")
model.eval()
sentences = ["The storm hit the coast. The town was flooded.", "She studied hard. She passed the exam."]
# sources without special tokens, as bertgen trains (and as the paper's released checkpoints expect)
batch = tok(sentences, add_special_tokens=False, padding=True, return_tensors="pt")
print("input_ids", tuple(batch["input_ids"].shape), "(B, S)")

# %% [markdown]
# ## 1. Greedy, beam search, sampling
#
# * **Greedy** takes the most likely token at every step. Fast, but a locally best token can lead into a worse
#   sentence.
# * **Beam search** keeps the `num_beams` best partial sentences (by summed log-probability). At each step every
#   beam proposes its continuations, the best `num_beams` survive; a beam that writes `[SEP]` (the end token)
#   joins the finished hypotheses. `num_return_sequences` returns several of them.
# * **Sampling** draws the next token from the distribution, reshaped by `temperature` (sharper below 1),
#   `top_k` (only the k best tokens) and `top_p` (the smallest set holding probability p). A seeded
#   `torch.Generator` makes it reproducible. As in transformers, `top_k=50` applies unless you pass `top_k=0`.
#
# All three run the encoder once, then the decoder one token per step against a cache (section 4).

# %%
settings = {"greedy": dict(), "beam search (4)": dict(num_beams=4),
            "sampling (top-p 0.9)": dict(do_sample=True, top_k=0, top_p=0.9, generator=torch.Generator().manual_seed(0))}
outputs = {name: model.generate(**batch, max_new_tokens=NEW_TOKENS, **kw) for name, kw in settings.items()}
pd.DataFrame({name: tok.batch_decode(ids[:, :8]) for name, ids in outputs.items()}, index=sentences)

# %% [markdown]
# As announced, junk. Greedy and beam search write `[CLS] [CLS] ...` (decoded here with special tokens; without
# them the outputs are empty strings), and sampling writes random word pieces. The first step's distribution
# says why: the token just read, `[CLS]`, is the single most likely one, yet it holds only a few percent; the
# rest is spread thinly over 30,000 pieces. The searches follow the peak, sampling draws from the spread.
# (With transformers' default `top_k=50`, sampling would mostly write `[CLS]` too.) Fine-tuning
# (`bertgen train`, `experiments/`) is what gives the decoder something to say.

# %%
with torch.no_grad():
    first = model(**batch, decoder_input_ids=outputs["greedy"][:, :1]).logits[0, -1].softmax(-1)  # (V,)
top = first.topk(8)
pd.Series(top.values.numpy(), index=tok.convert_ids_to_tokens(top.indices.tolist()), name="p(first token)").round(4)

# %% [markdown]
# ## 2. Length penalty and n-gram blocking
#
# Beam search compares finished hypotheses of different lengths by their summed log-probability, which only
# goes down as a sentence grows: left alone it prefers short outputs. transformers divides the sum by
# `length ** alpha` (`length_penalty=alpha`; `length` = generated tokens including the end token): alpha > 0
# favours longer hypotheses, alpha < 0 shorter ones. Wu et al. (2016), whose form the paper's translation
# results used, divide by `((5 + length) / 6) ** alpha` instead (`length_penalty_style="gnmt"`), a gentler
# penalty:

# %%
for alpha in (0.6, 1.0, 2.0):
    print(f"alpha {alpha}: divisor at length 10 = {length_penalty(10, alpha, 'hf'):6.2f} (hf), "
          f"{length_penalty(10, alpha, 'gnmt'):5.2f} (gnmt)")


# %% [markdown]
# The untrained MiniLM model cannot show the effect (every hypothesis is `[CLS]` repeated), so here is a tiny
# random model with large weights: its next-token distributions are sharp and differ from input to input, and
# the end token gets a small bonus so that hypotheses end at different lengths. Meaningless as language, but
# the search acts on the distributions alone.

# %%
def toy_model(seed=0, vocab=40, eos=1):
    # a tiny random bert2bert whose choices vary: no biases, large weights, untied output layer
    side = BertGenerationConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37, max_position_embeddings=128, tie_word_embeddings=False)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(side, side, decoder_start_token_id=2,
                                                               eos_token_id=eos, pad_token_id=3)
    torch.manual_seed(seed)
    toy = EncoderDecoderModel(config).eval()
    with torch.no_grad():
        for name, p in toy.named_parameters():
            if p.dim() == 1 and "LayerNorm" not in name:
                p.zero_()
            elif p.dim() == 2:
                p.normal_(0, 0.5 if "lm_head" in name else 0.15)
        toy.decoder.lm_head.bias[eos] = 1.5
    return toy

toy = toy_model()
sources = torch.randint(5, 40, (TOY_INPUTS, 12), generator=torch.Generator().manual_seed(0))

def generated_length(ids):  # mean tokens after the start token, padding (id 3) not counted
    return ((ids != 3).sum(1) - 1).float().mean().item()

toy_settings = {"greedy": dict(), "beam 4": dict(num_beams=4), "beam 4, alpha 2": dict(num_beams=4, length_penalty=2.0),
                "beam 4, no_repeat_ngram 2": dict(num_beams=4, no_repeat_ngram_size=2)}
toy_outputs = {name: toy.generate(sources, max_new_tokens=24, **kw) for name, kw in toy_settings.items()}
width = max(ids.shape[1] for ids in toy_outputs.values())
padded = {name: torch.nn.functional.pad(ids, (0, width - ids.shape[1]), value=3) for name, ids in toy_outputs.items()}
pd.DataFrame({"mean length": [generated_length(ids) for ids in toy_outputs.values()],
              "outputs unlike greedy's": [(ids != padded["greedy"]).any(1).sum().item() for ids in padded.values()]},
             index=list(toy_outputs))

# %% [markdown]
# Now the length penalty over a range of alphas, both forms, `num_beams=4`, up to 32 new tokens, and n-gram
# blocking: `no_repeat_ngram_size=n` forbids any token that would repeat an n-gram already in the output. The
# table counts outputs with a repeated bigram:

# %%
alphas = [-1.0, 0.0, 0.6, 1.0, 2.0, 4.0]
curve = pd.DataFrame({style: [generated_length(toy.generate(sources, num_beams=4, max_new_tokens=32, length_penalty=a,
                                                            length_penalty_style=style)) for a in alphas]
                      for style in ("hf", "gnmt")}, index=pd.Index(alphas, name="alpha"))
fig, ax = plt.subplots(figsize=(6, 3))
curve.plot(ax=ax, marker="o", xlabel="length_penalty (alpha)", ylabel="mean generated tokens",
           title=f"beam search (4 beams) on {TOY_INPUTS} inputs")
curve.round(1).T


# %%
def repeats_a_bigram(ids):  # within the generated tokens, before the end token (1) or padding (3)
    ids = [t for t in ids[:next((i for i, t in enumerate(ids) if t in (1, 3)), len(ids))]]
    pairs = list(zip(ids[:-1], ids[1:]))
    return len(pairs) != len(set(pairs))

blocking = {n: toy.generate(sources, num_beams=4, max_new_tokens=24, no_repeat_ngram_size=n) for n in (0, 2, 3)}
pd.DataFrame({"outputs repeating a bigram": [sum(repeats_a_bigram(row[1:].tolist()) for row in ids)
                                             for ids in blocking.values()],
              "mean length": [generated_length(ids) for ids in blocking.values()]},
             index=pd.Index(blocking, name="no_repeat_ngram_size"))

# %% [markdown]
# Longer outputs as alpha grows: transformers' form reacts already at small alpha, GNMT's only later, and both
# run into the length limit at large alpha. At alpha 0 both are the raw sum, so they agree, and a negative alpha
# gives nothing shorter here: the raw sum already ends each hypothesis at its first likely end token. Bigram
# blocking removes every repeated bigram by construction; trigram blocking still allows repeated pairs,
# just not repeated triples. Blocking also changes lengths: a model that wants to repeat must find another way
# to continue, or end.
#
# ## 3. Cross-attention: which source tokens did each output token read?
#
# Each decoder layer's cross-attention holds, for every output position, a distribution over the source
# tokens. `output_attentions=True` returns them (`cross_attentions`: one (B, nh, T, S) tensor per layer).
# Here, for the greedy output of the first sentence, the last layer's map averaged over its 12 heads:

# %%
generated = outputs["greedy"][:1]  # (1, 1 + new tokens)
with torch.no_grad():
    out = model(input_ids=batch["input_ids"][:1], attention_mask=batch["attention_mask"][:1],
                decoder_input_ids=generated, output_attentions=True)
attention = out.cross_attentions[-1][0].mean(0)  # (T, S): last layer, heads averaged
print(f"weights from {attention.min():.3f} to {attention.max():.3f}; uniform would be 1/{attention.shape[1]} = "
      f"{1 / attention.shape[1]:.3f}")
fig, ax = plt.subplots(figsize=(8, 4))
fig.colorbar(ax.imshow(attention.numpy(), aspect="auto", cmap="viridis", vmin=0), ax=ax)
ax.set_xticks(range(attention.shape[1]), tok.convert_ids_to_tokens(batch["input_ids"][0].tolist()), rotation=60)
ax.set_yticks(range(attention.shape[0]), tok.convert_ids_to_tokens(generated[0].tolist()))
ax.set(xlabel="source token", ylabel="decoder input (generated)", title="cross-attention, last layer");


# %% [markdown]
# Close to flat (the colour scale starts at 0): the cross-attention weights are new (random, std 0.02), so every
# query scores every source key about the same, and the rows are alike because every decoder input is `[CLS]`.
# After fine-tuning this map sharpens (in translation, towards a word alignment). What it shows already is the
# shape of the computation: one row per output position, one column per source token, each row summing to one.
#
# ## 4. The key/value cache
#
# At step t the decoder's self-attention needs the keys and values of all t previous tokens, and its
# cross-attention those of the whole source. Recomputing them every step costs O(t) layers' worth of work
# per step, O(T²) for the sentence. The cache keeps them: each step computes one new position, and the
# source's keys/values are computed at the first step only. bertgen preallocates the cache for the whole
# output, and drops inputs (and their cache rows) as soon as they are finished.

# %%
def seconds(**kw):
    start = time.perf_counter()
    ids = model.generate(**batch, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **kw)
    return time.perf_counter() - start, ids

timings = {}
for beams in (1, 4):
    (cached, a), (uncached, b) = seconds(num_beams=beams), seconds(num_beams=beams, use_cache=False)
    assert torch.equal(a, b)  # the cache changes the cost, never the tokens
    timings[f"{beams} beam(s)"] = {"with cache (s)": cached, "without (s)": uncached, "speed-up": uncached / cached}
pd.DataFrame(timings).T.round(2)

# %% [markdown]
# The saving grows with the output length (the recomputation is quadratic), and with beams, since every beam
# would recompute its own prefix. The same outputs either way: the test suite checks cache on = cache off for
# every decoding mode.
#
# ## From here
#
# * `bertgen generate --model DIR --num-beams 4 < inputs.txt` (or transformers' spelling,
#   `bertgen run --task text2text-generation --model DIR`) writes one output line per input line.
# * `pipeline("text2text-generation", model=DIR, num_beams=4)("...")` returns `[{"generated_text": ...}]`.
# * `quantize="int8"` (pipeline, CLI, or `bertgen.generation.quantization.quantize`) roughly halves CPU decoding time for
#   a few percent of changed choices; `benchmarks/RESULTS.md` has the numbers.
