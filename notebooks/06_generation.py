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
# # 06 · Generation: greedy, beam search, sampling, and what a trained model attends to
#
# **Paper:** Rothe, Narayan, Severyn (2020), [*Leveraging Pre-trained Checkpoints for Sequence Generation
# Tasks*](https://arxiv.org/abs/1907.12461), the experimental setup of *Experiments and Results* (beam search
# with 4 beams and length penalty α = 0.6 for translation) and the decoding of every table.
# **Code:** `bertgen/generation/search.py` (greedy, beam, sampling), `bertgen/generation/processors.py`
# (length penalty, n-gram blocking), `bertgen/cache.py` (the KV cache), `bertgen/teaching/__init__.py` (the model taught
# on).
#
# **After this notebook you can**
# - say what greedy search, beam search and sampling each do with the decoder's next-token distributions;
# - compare greedy and beam search by the sequence log-probability of what they write, and say why beam search's
#   likelier output need not be the more correct one;
# - read a cross-attention map and see the alignment between output and input words a trained model learns;
# - choose `num_beams`, `length_penalty` and `no_repeat_ngram_size`, and explain what the KV cache saves.
#
# A trained encoder-decoder gives, for a source and the tokens written so far, a distribution over the next
# token, $p(y_t \mid y_{<t}, x)$. *Decoding* turns those distributions into one output, ideally the
# $y^\star = \arg\max_y \sum_t \log p(y_t \mid y_{<t}, x)$, which no search can afford to find exactly: there are
# $V^T$ candidate outputs. Greedy and beam search are two approximations, sampling a different goal altogether.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": 24 new tokens, timings of 3 runs; "full": 64 new tokens, 256 toy inputs, 5 runs

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown

from bertgen import BertGenerationConfig, EncoderDecoderConfig, EncoderDecoderModel
from bertgen.generation import length_penalty
from bertgen.data.collate import encode_sources
from bertgen.teaching import (RUNNING_EXAMPLE, attention_explorer, compare_decoding, decoding_explorer, diagonality,
                              median_seconds, plot_attention, random_words, starting_point, teaching_model,
                              whole_words, words_in_order)

NEW_TOKENS = {"tiny": 24, "full": 64}[PRESET]
HARD_TOKENS = 40  # section 1's harder inputs are 30 words long
TOY_INPUTS = {"tiny": 16, "full": 256}[PRESET]
REPEATS = {"tiny": 3, "full": 5}[PRESET]
torch.set_num_threads(1)  # small batches gain little from a second core; one keeps the timings steady
teaching = teaching_model()  # a few-minute fine-tune, cached in $BERTGEN_HOME (use_demo=True: the `make demo` model)
model, tok = teaching.model, teaching.tokenizer
Markdown(f"**The model on this page** is {teaching.description}. Greedy search copies its held-out sentences; "
         "where the search methods differ shows in the log-probabilities they find and in what sampling writes.")

# %% [markdown]
# ## 1. Greedy, beam search, sampling
#
# * **Greedy** takes the most likely token at every step, $y_t = \arg\max_v p(v \mid y_{<t}, x)$. Fast, but a
#   locally best token can lead into a worse sentence, and it never takes a step back.
# * **Beam search** keeps the `num_beams` best partial outputs by summed log-probability. At each step every beam
#   proposes its continuations and the best `num_beams` survive; a beam that writes the end token (`[SEP]` for a
#   BERT vocabulary) joins the finished hypotheses. It can keep a token that looked second-best at step $t$ if
#   it leads to a better whole sentence.
# * **Sampling** draws $y_t \sim p(\cdot \mid y_{<t}, x)$, reshaped by `temperature` (sharper below 1), `top_k`
#   (only the k best tokens) and `top_p` (the smallest set holding probability p). It trades likelihood for
#   variety; a seeded `torch.Generator` makes it reproducible.
#
# All three run the encoder once, then the decoder one token per step against a cache (section 4).
#
# The first row is the running example, *He left early. She stayed late.* This model was trained to copy, so the
# right output here is the source itself; a fusion model (notebook 05's runs) would write *..., but she stayed late.*

# %%
sources = [RUNNING_EXAMPLE[0]] + [source for source, _ in teaching.examples]  # the running example, then held-out
batch = teaching.encode(sources)  # as the model was trained to read its input (see the note below the table)
settings = {"greedy": dict(), "beam search (4)": dict(num_beams=4),
            "sampling (top-p 0.9)": dict(do_sample=True, top_k=0, top_p=0.9, generator=torch.Generator().manual_seed(0))}
outputs = {name: model.generate(**batch, max_new_tokens=NEW_TOKENS, **kw) for name, kw in settings.items()}
with pd.option_context("display.max_colwidth", 70):
    display(pd.DataFrame({name: tok.batch_decode(ids, skip_special_tokens=True) for name, ids in outputs.items()},
                         index=sources).head(4))

# %% [markdown]
# ### How the teaching model was made to copy
#
# Two choices in `train_copy_model` (`bertgen/teaching/__init__.py`) make its greedy copies right and its samples
# clean, and each says something about the checkpoint:
#
# - **It reads its input as `[CLS] ... [SEP]`**, where the paper feeds bare text (notebook 01). Pretraining always
#   put `[CLS]` at position 0, and MiniLM's first layers (the two this model keeps) give that position one output
#   whatever token stands there. Fed bare text, the first *word* sits there and its identity is lost: a copy model
#   trained that way wrote its likeliest first word ("the") for every input. The cell below measures it on the warm
#   start (all 6 layers soften it without removing it: try `warm_start("bert2bert", "minilm-l6")`).
# - **It never writes BERT's ~1,000 `[unusedNN]` tokens** (nor `[CLS]`, `[PAD]`, `[MASK]`, `[UNK]`). Those vocabulary
#   rows were never trained, so their logits are noise that sampling picks up (an earlier teaching model sampled
#   `[unused80]`). Their output bias is set to $-10^4$ in the weights before fine-tuning: the effect of transformers'
#   `suppress_tokens`, stored in the checkpoint, so every `generate` call (here or in transformers) honours it.
#
# Its task mix does the rest (`COPY` gives the shares): some rows are two sentences joined, so that it copies past a
# full stop (the running example), and many are strings of random words from the whole vocabulary, so that it copies
# any word in any order. Trained on its ~100 sentences alone, it wrote a word it had seen for a similar one it had not
# ("tuesday" for "sunday").
#
# *Predict before you run:* how alike are the encoder's outputs for the first word of different inputs, with and
# without `[CLS]` in front?

# %%
warm = starting_point(teaching).encoder  # MiniLM's encoder, as the fine-tune started from it
similarity = {}
for name, special, position in (("bare text (the paper)", False, 0), ("after [CLS]", True, 1)):
    with torch.no_grad():
        first = warm(**dict(encode_sources(tok, sources, 64, special))).last_hidden_state[:, position]  # (B, H)
    first = torch.nn.functional.normalize(first, dim=-1)
    similarity[name] = ((first @ first.T).sum().item() - len(sources)) / (len(sources) * (len(sources) - 1))
pd.Series(similarity, name="first word's encoder output: mean cosine similarity between inputs").round(3).to_frame()

# %% [markdown]
# ### What beam search finds: likelier outputs, not necessarily better ones
#
# Score every output by its summed log-probability under the model, $\log p(y \mid x) = \sum_t \log p(y_t \mid
# y_{<t}, x)$, and count how many reference words it reproduces in order. Where beam search finds an output the
# model itself rates as more likely, greedy search made a mistake *by the model's own standard*: it committed to
# a token whose continuation turned out worse. Whether the likelier output is also more *correct* is a different
# question, which only the reference answers.
#
# On inputs like those it was trained on, the copy model is sure of every step and greedy is already right (the
# table above). Search matters where a model is unsure, so the inputs here are harder: strings of 30 random words,
# twice as long as any random string it trained on, which no language model can guess (the `make demo` model keeps
# its own held-out verses).

# %%
hard = ([(s, s) for s in random_words(whole_words(tok), 8, 30, torch.Generator().manual_seed(1))]
        if teaching.name == "copy" else teaching.examples)
table = compare_decoding(teaching, num_beams=4, max_new_tokens=HARD_TOKENS, examples=hard)
table["beam gains"] = table["log p beam"] - table["log p greedy"]
with pd.option_context("display.max_colwidth", 60):
    display(table[["greedy", "beam", "log p greedy", "log p beam", "words right greedy", "words right beam"]].round(2))

# %%
changed = table[table["greedy"] != table["beam"]]
counts = {"likelier under the model": int((changed["beam gains"] > 0).sum()),
          "more reference words right": int((changed["words right beam"] > changed["words right greedy"]).sum()),
          "fewer reference words right": int((changed["words right beam"] < changed["words right greedy"]).sum())}
best = (changed if len(changed) else table).sort_values("beam gains").iloc[-1]  # the largest change in log p
gain = best["beam gains"]
Markdown(f"Beam search changes {len(changed)} of {len(table)} outputs. Of those, its output is "
         + ", ".join(f"{name} on {n}" for name, n in counts.items())
         + (". The change with the largest gain in log-probability:" if len(changed) else
            ". Where the two differ least badly in log-probability:")
         + f"\n\n- input: *{best['source']}*\n- greedy: *{best['greedy']}* (log p {best['log p greedy']:.2f}, "
         f"{best['words right greedy']} words right)\n- beam: *{best['beam']}* (log p {best['log p beam']:.2f}, "
         f"{best['words right beam']} words right)\n\n"
         f"Beam search's output is {abs(gain):.2f} nats {'more' if gain >= 0 else 'less'} likely, i.e. "
         f"{torch.tensor(gain).exp().item():.2f}× as probable under the model.")

# %% [markdown]
# Beam search answers the model's question, *which output is likeliest?*, better than greedy does; it does not
# answer the reader's, *which output is right?* Where the two searches part, they part at one token: greedy took the
# most likely word at that step, beam search kept the runner-up alive as a second hypothesis, and the runner-up's
# continuation scored better as a whole. If the model's preference there is wrong (a rare word it copies badly),
# beam search follows the preference more faithfully and can trade a right word for a wrong one: count the rows
# above where it writes fewer reference words. A model sure of every step (as a copy model is on most inputs)
# leaves it nothing to change: greedy's output is then the likeliest too. (By default beam search ranks finished
# hypotheses by log p divided by length, section 2, so its pick can even be less likely by the raw sum.) Beam
# search finds the model's own best guess more reliably; it does not correct the model.
#
# **Live:** drag the sliders to rerun the search on one input (in JupyterLab; a rendered page shows the
# default).

# %%
decoding_explorer(teaching, best["source"], max_new_tokens=HARD_TOKENS);

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
# To see the penalty act over a wide range, the search needs next-token distributions that differ from input to
# input and end at many different lengths. The teaching model's copies end where their input ends, so here is a
# deliberately artificial one: a tiny random bert2bert with large weights (sharp distributions) and a small bonus
# on the end token. Meaningless as language, but beam search acts on the distributions alone; the slider above
# shows the same knob on the trained model.
#
# *Predict before you run:* will beam search's outputs be longer or shorter than greedy's, and what will
# `length_penalty=2.0` do to them?

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
toy_sources = torch.randint(5, 40, (TOY_INPUTS, 12), generator=torch.Generator().manual_seed(0))

def generated_length(ids):  # mean tokens after the start token, padding (id 3) not counted
    return ((ids != 3).sum(1) - 1).float().mean().item()

toy_settings = {"greedy": dict(), "beam 4": dict(num_beams=4), "beam 4, alpha 2": dict(num_beams=4, length_penalty=2.0),
                "beam 4, no_repeat_ngram 2": dict(num_beams=4, no_repeat_ngram_size=2)}
toy_outputs = {name: toy.generate(toy_sources, max_new_tokens=24, **kw) for name, kw in toy_settings.items()}
width = max(ids.shape[1] for ids in toy_outputs.values())
padded = {name: torch.nn.functional.pad(ids, (0, width - ids.shape[1]), value=3) for name, ids in toy_outputs.items()}
pd.DataFrame({"mean length": [generated_length(ids) for ids in toy_outputs.values()],
              "outputs unlike greedy's": [(ids != padded["greedy"]).any(1).sum().item() for ids in padded.values()]},
             index=list(toy_outputs))

# %% [markdown]
# Now the length penalty over a range of alphas, both forms, `num_beams=4`, up to 32 new tokens, and n-gram
# blocking: `no_repeat_ngram_size=n` forbids any token that would repeat an n-gram already in the output. The
# table counts outputs with a repeated bigram:

# %% alt="Mean generated length against length penalty alpha, for transformers' and GNMT's forms of the penalty."
alphas = [-1.0, 0.0, 0.6, 1.0, 2.0, 4.0]
curve = pd.DataFrame({style: [generated_length(toy.generate(toy_sources, num_beams=4, max_new_tokens=32, length_penalty=a,
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

blocking = {n: toy.generate(toy_sources, num_beams=4, max_new_tokens=24, no_repeat_ngram_size=n) for n in (0, 2, 3)}
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
# ## 3. Cross-attention: which source words did each output word read?
#
# Each decoder layer's cross-attention holds, for every output position $t$, a distribution over the source
# tokens: $\alpha_{t,s} = \operatorname{softmax}_s\big(q_t \cdot k_s / \sqrt{d_h}\big)$, with the query from the
# decoder and keys and values from the encoder's output (notebook 03 derives it). `output_attentions=True`
# returns them (`cross_attentions`: one (B, nh, T, S) tensor per layer). Here, for the greedy output of the running
# example (the first row above), the last layer's map averaged over its heads; the colour scale is fixed at 0..1, so a flat map
# would look flat.

# %% alt="Cross-attention map of the trained model, last layer, heads averaged: weight concentrated on the diagonal, each output word reading the source word it copies."
generated = outputs["greedy"][:1]  # (1, 1 + new tokens), padded after [SEP] to the batch's longest
generated = generated[:, : int((generated[0] != tok.pad_token_id).sum())]
one = {k: v[:1, : int(batch["attention_mask"][0].sum())] for k, v in batch.items()}
with torch.no_grad():
    out = model(**one, decoder_input_ids=generated, output_attentions=True)
source_tokens = tok.convert_ids_to_tokens(one["input_ids"][0].tolist())
output_tokens = tok.convert_ids_to_tokens(generated[0].tolist())
attention = out.cross_attentions[-1][0].mean(0)  # (T, S): last layer, heads averaged
plot_attention(attention, source_tokens, output_tokens, title="cross-attention, last layer, heads averaged")
plt.xlabel("source token (key)"); plt.ylabel("decoder input (query)");
shift = int(teaching.source_special_tokens)  # a source that starts with [CLS] moves the diagonal one key right
per_head = [diagonality(weights, shift) for weights in out.cross_attentions[-1][0]]  # one (T, S) map per head
Markdown(f"Averaged over heads, {diagonality(attention, shift):.0%} of each row's weight sits on the diagonal (the "
         "source "
         f"word at the position being written; a uniform map would put 1/{attention.shape[1]} = "
         f"{1 / attention.shape[1]:.0%} there). The most diagonal head puts {max(per_head):.0%} there, the least "
         f"{min(per_head):.0%}: some heads align, others look at the sentence as a whole.")

# %% [markdown]
# The row for the decoder input at position $t$ is the query that writes output word $t$, and its weight falls on
# the source word it is about to write: the decoder *reads its input* at the right place. This is the alignment a
# translation model learns between the two languages' words, here for a copy task, where it is the diagonal. (On
# the `make demo` model, which rewrites King James verses in modern English, look for where the diagonal bends: the
# words it inserts, drops or reorders.) Notebook 03 shows this model's map at its start, cross-attention copied from
# self-attention (its middle map), and the paper's random start, which is flat. Where the source
# starts with `[CLS]` (the copy model's input), the diagonal sits one key to the right of the square's, and the
# `[CLS]` column collects the weight of heads with nothing to read there: an *attention sink*, the same habit that
# empties position 0 of meaning (section 1).
#
# **Live:** pick a layer and a head.

# %% alt="The cross-attention map of the explorer's default view: last layer, heads averaged."
attention_explorer(out.cross_attentions, source_tokens, output_tokens, title="cross-attention");

# %% [markdown]
# ## 4. The key/value cache
#
# At step t the decoder's self-attention needs the keys and values of all t previous tokens, and its
# cross-attention those of the whole source. Recomputing them every step costs O(t) layers' worth of work
# per step, O(T²) for the sentence. The cache keeps them: each step computes one new position, and the
# source's keys/values are computed at the first step only. bertgen preallocates the cache for the whole
# output, and drops inputs (and their cache rows) as soon as they are finished.

# %%
def run(num_beams, use_cache):
    return model.generate(**batch, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, num_beams=num_beams,
                          use_cache=use_cache)

timings = {}
for beams in (1, 4):
    assert torch.equal(run(beams, True), run(beams, False))  # the cache changes the cost, never the tokens
    cached, uncached = (median_seconds(lambda: run(beams, c), repeats=REPEATS, warmup=0) for c in (True, False))
    timings[f"{beams} beam(s)"] = {"with cache (s)": cached, "without (s)": uncached, "speed-up": uncached / cached}
pd.DataFrame(timings).T.round(2)  # medians of REPEATS runs each

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
# * `quantize="int8"` (pipeline, CLI, or `bertgen.generation.quantization.quantize`) makes CPU decoding faster at
#   the price of a small share of changed next-token choices; `benchmarks/RESULTS.md` has the measured speed-ups.

# %% [markdown]
# ## Summary
#
# > - Greedy search takes the likeliest token at each step; beam search keeps several partial outputs and finds
# >   outputs the model rates likelier, which are not always more correct; sampling trades likelihood for variety.
# > - Beam search ranks by summed log-probability, in which every token costs: left alone it favours shorter
# >   outputs, and the length penalty and `min_new_tokens` correct for it.
# > - A trained model's cross-attention aligns each output word with the source word it reads.
# > - The KV cache makes each step compute one position instead of all of them.
#
# ## Exercises
#
# 1. Find the harder input where greedy and beam search differ most in log-probability, and print the
#    greedy and beam outputs token by token with each token's log-probability. At which step do they part?
# 2. Does a wider beam always find a more likely output? Compute the log-probability of the best output for
#    `num_beams` 1, 2, 4 and 8 on the harder inputs, ranking by the raw sum (`compare_decoding(teaching,
#    num_beams=k, length_penalty=0.0, examples=hard)`). Before you run it, predict: what will the likeliest outputs
#    look like?
# 3. Sampling at `temperature=0.2` and at `1.5`: how many distinct outputs do 5 samples of the first input give?
#    Is the number of distinct samples a good measure of what temperature does? Find a better one.
#
# The solutions are below (collapsed in JupyterLab: click the dots to open).

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: per-token log-probabilities of both outputs, side by side
row = table["beam gains"].abs().idxmax()
enc = teaching.encode([table.loc[row, "source"]])
for name, beams in (("greedy", 1), ("beam", 4)):
    ids = model.generate(**enc, num_beams=beams, max_new_tokens=HARD_TOKENS)
    with torch.no_grad():
        logp = model(**enc, decoder_input_ids=ids[:, :-1]).logits.log_softmax(-1)[0].gather(-1, ids[0, 1:, None])[:, 0]
    print(name, [f"{t}:{p:.1f}" for t, p in zip(tok.convert_ids_to_tokens(ids[0, 1:].tolist()), logp.tolist())])

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: length_penalty=0 ranks finished hypotheses by the raw sum of log-probabilities, and each token adds
# a negative term, so shorter outputs are favoured. The extreme case, the empty output (the end token at once)
# winning, needs a model that gives the end token real probability at the first step; the copy model, sure of its
# task, gives it almost none (printed below), so none of its outputs is empty and all are about as long as greedy's.
# Nor is a wider beam guaranteed to do better: it keeps different hypotheses alive, and can finish a worse one
# first; the last line counts the inputs where that happened.
found = {k: compare_decoding(teaching, num_beams=k, max_new_tokens=HARD_TOKENS, length_penalty=0.0, examples=hard)
         for k in (1, 2, 4, 8)}
display(pd.DataFrame({f"log p, {k} beams": t["log p beam"] for k, t in found.items()}).round(2))
start = torch.full((len(hard), 1), model.config.decoder_start_token_id)
with torch.no_grad():  # p(end token | start token, x) for each hard input
    p_end = model(**teaching.encode([s for s, _ in hard]), decoder_input_ids=start).logits[:, 0].softmax(-1)
print(f"the end token's probability at the first step: at most {p_end[:, model.config.eos_token_id].max():.1e}")
print("empty outputs:", {f"{k} beams": int((t["beam"] == "").sum()) for k, t in found.items()}, "of", len(hard))
print("mean words written:", {f"{k} beams": t["beam"].str.split().str.len().mean() for k, t in found.items()})
print("inputs where a wider beam found a less likely output than the next narrower one:",
      {f"{a} -> {b} beams": int((found[b]["log p beam"] < found[a]["log p beam"] - 1e-4).sum())
       for a, b in ((1, 2), (2, 4), (4, 8))})

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: the count of distinct samples depends on the sentence more than on the temperature: one changed word
# among a dozen makes a sample distinct, so a longer input can give 5 distinct samples even at 0.2. Temperature
# shows in how far the samples stray from the greedy output, the likeliest step by step: at 0.2 they keep (nearly)
# all of its words in order, at 1.5 hardly any.
first = {k: v[:1] for k, v in one.items()}
greedy_words = tok.decode(model.generate(**first, max_new_tokens=NEW_TOKENS)[0], skip_special_tokens=True).split()
for temperature in (0.2, 1.5):
    samples = [tok.decode(model.generate(**first, do_sample=True, top_k=0, temperature=temperature, max_new_tokens=NEW_TOKENS,
                                         generator=torch.Generator().manual_seed(seed))[0], skip_special_tokens=True)
               for seed in range(5)]
    kept = sum(words_in_order(s, " ".join(greedy_words)) for s in samples) / (5 * len(greedy_words))
    print(f"temperature {temperature}: {len(set(samples))} distinct of 5, {kept:.0%} of the greedy output's words kept")
