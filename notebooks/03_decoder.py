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
# # 03 · The decoder: a bidirectional BERT run causally, cross-attention, warm-starting, a KV cache
#
# **Paper:** Rothe, Narayan, Severyn (2020), [*Leveraging Pre-trained Checkpoints for Sequence Generation
# Tasks*](https://arxiv.org/abs/1907.12461), sections *Models and Pre-trained Checkpoints* (the decoder, its
# cross-attention, BERTShare) and *Investigated Model Variants* (the schemes of Table 1).
# **Code:** `bertgen/modeling/bert_generation.py` (`causal_mask`, the `crossattention` block of
# `BertGenerationLayer`, `BertGenerationDecoder` and its tied `lm_head`), `bertgen/modeling/encoder_decoder.py`
# (`EncoderDecoderModel`, BERTShare's `tie_encoder_decoder`), `bertgen/warmstart/plan.py` and
# `bertgen/modeling/warm_start.py` (what each scheme loads), `bertgen/cache.py` (the KV cache),
# `bertgen/teaching/__init__.py` (the trained model), `bertgen/teaching/figures.py` (the diagrams and attention maps).
#
# **After this notebook you can**
# - explain how a layer pretrained to read in both directions becomes a left-to-right decoder, and prove it;
# - write cross-attention's equation and say where its queries, keys and values come from;
# - say, scheme by scheme, what warm-starting takes from the checkpoint and what it leaves random, and what
#   BERTShare shares;
# - explain why a random cross-attention is the hard part of fine-tuning, and recognise its failure (an output
#   that ignores the input);
# - explain what the tied output layer and the KV cache save.
#
# The decoder is the encoder's layer stack (notebook 02) with three changes:
# 1. self-attention is **causal**: position *t* may read positions ≤ *t* only;
# 2. each layer gets a **cross-attention** block that reads the encoder's output (BERT has none: new weights);
# 3. an **LM head** turns hidden states into vocabulary logits; its weight *is* the word-embedding matrix.
#
# Shapes: **B** batch, **S** source, **T** target length, **H** hidden, **nh** heads, **V** vocabulary.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": 48 decoding steps, timed 3 times; "full": 128, timed 5 times

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown

from tokenizers import ByteLevelBPETokenizer

from bertgen import GPT2Config, GPT2LMHeadModel, load_tokenizer, warm_start
from bertgen.modeling import causal_mask
from bertgen.tokenization import SAMPLE_CORPUS
from bertgen.teaching import (RUNNING_EXAMPLE, diagonality, draw_data_flow, draw_layer, draw_scheme, median_seconds, plot_attention, scheme_legend,
                              starting_point, teaching_model)

torch.manual_seed(0)
STEPS, REPEATS = {"tiny": (48, 3), "full": (128, 5)}[PRESET]
tokenizer = load_tokenizer("minilm-l6")
model, report = warm_start("bert2bert", "minilm-l6")  # the paper's recipe: cross-attention random
model.eval()
source = tokenizer([RUNNING_EXAMPLE[0]], add_special_tokens=False, return_tensors="pt")  # the running example
target = tokenizer([RUNNING_EXAMPLE[1]], add_special_tokens=False, return_tensors="pt")["input_ids"]
decoder_input_ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), target], dim=1)  # [CLS] + target
print("source", tuple(source["input_ids"].shape), "(B, S);  decoder input", tuple(decoder_input_ids.shape), "(B, T)")

# %% alt="Diagram of one decoder layer, bottom to top: causal self-attention, cross-attention reading the encoder output, feed-forward, each followed by add and LayerNorm, with residual paths."
draw_layer(decoder=True);

# %% [markdown]
# The running example again (notebooks 01, 02): source *He left early. She stayed late.*, target *He left early, but
# she stayed late.* Notebook 02 followed it up the left-hand column of the model; this notebook opens the right-hand
# one, with the shapes it has here.

# %% alt="Data flow of the whole encoder-decoder with the running example's tensor shapes; this notebook covers the decoder column on the right and the cross-attention arrow from the encoder output."
draw_data_flow({"B": 1, "S": source["input_ids"].shape[1], "T": decoder_input_ids.shape[1],
                "H": model.config.encoder.hidden_size, "V": model.config.encoder.vocab_size,
                "L": model.config.encoder.num_hidden_layers});

# %% [markdown]
# ## From a bidirectional BERT to a left-to-right decoder
#
# A decoder models a sentence one token at a time: $p(y \mid x) = \prod_t p(y_t \mid y_{<t}, x)$. Training shows it
# the whole target at once (*teacher forcing*: the input is the target shifted right behind the start token
# `[CLS]`), and scores every position's prediction of the next token in one pass. That only works if position $t$
# cannot see positions after $t$; otherwise the answer is in its input. BERT's layers were pretrained the other way,
# every position reading every other. The paper's decoder keeps BERT's weights and changes one thing, the mask:
#
# $$\operatorname{CausalAttention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{QK^\top}{\sqrt{d_h}} + M^{\text{causal}}\Big)V,
# \qquad M^{\text{causal}}_{ts} = \begin{cases} 0 & s \le t \\ -\infty & s > t. \end{cases}$$
#
# Nothing in the weights says "bidirectional": a query, a key, a value projection are the same matrices whether or not
# some scores are masked. So a BERT layer *runs* causally without any change to its parameters. What changes is the
# input distribution it sees: at position $t$ it used to have the right-hand context and now never does. That is a
# real mismatch the fine-tuning has to absorb, and one reason the paper finds a pretrained decoder worth less than a
# pretrained encoder (`rnd2bert` gains less over `rnd2rnd` than `bert2rnd` does).
#
# Below, the mask (white: may attend), and a proof by experiment on the full model: change the last target token and
# the logits at every earlier position stay the same.

# %% alt="The causal mask: a lower-triangular matrix in which query t may attend to keys at positions up to t."
T = decoder_input_ids.shape[1]
plt.figure(figsize=(3.5, 3.5))
plt.imshow(causal_mask(T, T, torch.device("cpu"))[0, 0], cmap="Greys_r")
plt.title("query t may attend to key s (white)")
plt.xlabel("key position s"); plt.ylabel("query position t");

# %%
with torch.no_grad():
    logits = model(**source, decoder_input_ids=decoder_input_ids).logits  # (B, T, V)
    changed = decoder_input_ids.clone()
    changed[0, -1] = tokenizer.convert_tokens_to_ids("banana")
    logits_changed = model(**source, decoder_input_ids=changed).logits
print("earlier positions, max |diff| =", (logits - logits_changed)[:, :-1].abs().max().item())
print("last position,     max |diff| =", (logits - logits_changed)[:, -1].abs().max().item())

# %% [markdown]
# The same point from the other side: one *pretrained encoder layer*, run on the same vectors with and without the
# causal mask. The last position sees everything either way, so its output is the same; every earlier position loses
# its right-hand context, so its output changes. Same weights, two behaviours, chosen by the mask alone.

# %%
layer = model.encoder.encoder.layer[0]
with torch.no_grad():
    x = model.encoder.embeddings(source["input_ids"])  # (1, S, H)
    both_ways = layer(x)[0]
    causally = layer(x, is_causal=True)[0]
change = (both_ways - causally).norm(dim=-1)[0] / both_ways.norm(dim=-1)[0]  # (S,) relative change per position
Markdown(f"Relative change of each position's output when the mask is added: {change[:-1].mean():.0%} on average "
         f"over the earlier positions (at most {change[:-1].max():.0%}), {change[-1]:.1e} at the last position.")

# %% [markdown]
# ## Cross-attention: where the decoder reads its input
#
# Cross-attention is the same attention with a different source for each of its three inputs. The **queries** come
# from the decoder (the hidden state $h_t$ of the token being written, after causal self-attention); the **keys and
# values** come from the encoder's output $E \in \mathbb{R}^{S \times H}$, the same for every decoder position and
# every layer:
#
# $$\operatorname{CrossAttention}(h, E) = \operatorname{softmax}\!\Big(\frac{(h W_Q)(E W_K)^\top}{\sqrt{d_h}} + M^{\text{pad}}\Big)(E W_V) .$$
#
# The weights form a $T \times S$ map: for every output position a distribution over the source tokens. No causal
# mask here: the whole source is known before decoding starts. Because $E$ does not change while decoding, its keys
# and values are computed once per layer and cached (the KV cache, at the end).
#
# BERT has no such block, so every scheme of the paper starts it **at random** (normal, std 0.02). Below, one model
# on one sentence at three moments: the teaching model of notebook 06 (a small bert2bert fine-tuned to copy
# sentences; its description is under the plot), reading the running example's source while it writes its own
# output (a copy, which is what it was trained to write). Left, its architecture with the paper's random cross-attention; middle, the start it was actually
# fine-tuned from, cross-attention copied from self-attention (an option this course uses to train in minutes);
# right, after fine-tuning. Last layer, heads averaged; the colour scale is fixed at 0..1, so flat looks flat.
#
# *Predict before you run:* which of the three maps will be flat, and which diagonal?

# %% alt="Three cross-attention maps of the same model on the same sentence: a random start (flat), a start copied from self-attention, and after fine-tuning (a clear diagonal)."
teaching = teaching_model()
example = teaching.encode([RUNNING_EXAMPLE[0]])  # as the model was trained to read it (the copy model: [CLS] ... [SEP])
written = teaching.model.generate(**example, max_new_tokens=32)  # (1, T): the trained model's own output
moments = {"random start (the paper)": starting_point(teaching, cross_attention="random"),
           "copied from self-attention": starting_point(teaching, cross_attention="self"),
           "after fine-tuning": teaching.model}
maps = {}
with torch.no_grad():
    for name, m in moments.items():  # (T, S) each: last layer, heads averaged
        maps[name] = m(**example, decoder_input_ids=written, output_attentions=True).cross_attentions[-1][0].mean(0)
fig, axes = plt.subplots(1, 3, figsize=(18, 4.5))
for ax, (name, weights) in zip(axes, maps.items()):
    plot_attention(weights, teaching.tokenizer.convert_ids_to_tokens(example["input_ids"][0].tolist()),
                   teaching.tokenizer.convert_ids_to_tokens(written[0].tolist()), ax=ax, title=name)
plt.tight_layout()
untrained = maps["random start (the paper)"]
copied = maps["copied from self-attention"]
Markdown(f"The model: {teaching.description}. Random start: weights from {untrained.min():.3f} to "
         f"{untrained.max():.3f}, where uniform is 1/S = {1 / untrained.shape[1]:.3f}; copied from self-attention: "
         f"from {copied.min():.3f} to {copied.max():.3f}. Share of each row's weight on "
         "the source word at the position being written (the diagonal): "
         + ", ".join(f"{name} {diagonality(w, offset=int(teaching.source_special_tokens)):.0%}" for name, w in maps.items())
         + ". Fine-tuning turns whatever it starts from into an alignment of output words with input words.")

# %% [markdown]
# ## Warm-starting, scheme by scheme
#
# Now we can say precisely what "warm-starting a decoder from BERT" sets. A decoder layer has causal self-attention,
# cross-attention and a feed-forward block; BERT has weights for the first and the last, none for the middle one. The
# paper's schemes (Table 1) choose, for each stack, the checkpoint or a random start. The diagrams below are drawn
# from `warm_start`'s own report (`bertgen/warmstart/report.py`), part by part, not by hand: blue parts come from the
# checkpoint, orange parts start random. Hatched parts are not tensors of their own but another part's (tied to the
# word embeddings, or BERTShare's encoder layers); their colour is where that tensor came from.

# %% alt="Five scheme diagrams, rnd2rnd to bertshare: encoder and decoder parts coloured blue when taken from the checkpoint, orange when random, hatched when they are another part's tensors."
schemes = ["rnd2rnd", "bert2rnd", "rnd2bert", "bert2bert", "bertshare"]
reports = {s: warm_start(s, "minilm-l6", device="meta")[1] for s in schemes}  # shapes only: no memory, no copy
fig, axes = plt.subplots(1, len(schemes), figsize=(18, 4.4))
for ax, scheme in zip(axes, schemes):
    draw_scheme(reports[scheme], ax=ax)
scheme_legend(fig)
plt.tight_layout(rect=(0, 0.07, 1, 1))
pd.DataFrame([r.table1_row() for r in reports.values()]).set_index("scheme")

# %% [markdown]
# Read the diagrams column by column:
# - **rnd2rnd** is an ordinary Transformer trained from scratch, the baseline every table compares against. Its
#   decoder's word embeddings and LM head are hatched orange: the encoder's random matrix, tied.
# - **bert2rnd** takes the encoder from BERT and starts the decoder's layers at random, its position table and
#   LayerNorm too; its word embeddings (and so its LM head) are still BERT's, because one matrix is shared by
#   encoder, decoder and output layer.
# - **rnd2bert** does the opposite: a random encoder feeding a pretrained decoder. The encoder's word embeddings are
#   BERT's all the same, for the same reason: the decoder's matrix is the encoder's.
# - **bert2bert** takes both stacks from the checkpoint, as two independent copies that fine-tuning moves apart.
# - **bertShare** takes both from the checkpoint and *keeps them one*: the decoder's self-attention and feed-forward
#   blocks are the encoder's modules.
#
# In every scheme the cross-attention is orange. However much of the model comes from BERT, the part that connects
# the two stacks never does.
#
# ## BERTShare: one set of weights, run both ways
#
# In `bertshare` each layer's self-attention and feed-forward weights serve twice: once bidirectionally over the
# source in the encoder, once causally over the target in the decoder. This is the mask argument above taken to its
# end: if the mask is the only difference between an encoder layer and a decoder's self-attention, one set of weights
# can be both. Only the cross-attention (and the output bias) belong to the decoder alone. The parameter count falls
# from bert2bert's to about that of BERT plus the cross-attention (221M to 136M at BERT-base size in the paper), and
# the paper finds it as good or better on fusion, splitting and summarization, not on translation, where source and
# target are different languages.

# %%
share, _ = warm_start("bertshare", "minilm-l6", device="meta")
enc_layer, dec_layer = share.encoder.encoder.layer[0], share.decoder.bert.encoder.layer[0]
print("decoder self-attention is the encoder's:", dec_layer.attention is enc_layer.attention)
print("decoder feed-forward is the encoder's:  ", dec_layer.intermediate is enc_layer.intermediate)
print("cross-attention belongs to the decoder: ", not any(dec_layer.crossattention is m for m in enc_layer.modules()))
Markdown(f"bertShare holds {reports['bertshare'].total / reports['bert2bert'].total:.0%} of bert2bert's parameters "
         f"at MiniLM size, against {136 / 221:.0%} at BERT-base size in the paper (136M of 221M): MiniLM's embedding "
         "matrix, which both schemes count once, is a larger part of a smaller model.")

# %% [markdown]
# ## Why a random cross-attention is the hard part
#
# Follow a decoder layer's computation at the start of fine-tuning. Its causal self-attention and feed-forward blocks
# are BERT's: they already model English. Its cross-attention is random with std 0.02: the keys it computes from the
# encoder output are tiny and nearly alike, so every decoder position averages the source almost uniformly (the flat
# map above), and the value it returns, projected by another random matrix, is small next to the residual stream it
# is added to. The decoder is, in effect, an unconditional language model: the loss falls quickly by learning which
# words follow which, *without reading the input at all*. The gradient that would teach the cross-attention to read
# arrives through that small, nearly uniform block, and it is weak.
#
# That is measurable at the start. Below, for two different sources and the same decoder input, how much do the
# decoder's next-token distributions differ? With the random start, barely: whatever the input, the decoder would say
# the same. With `cross_attention="self"` (each layer's cross-attention copied from its pretrained self-attention;
# an option beyond the paper), the block starts with trained projections: its attention is not uniform, and the
# values it returns are as large as self-attention's, so the input already moves the output. It does not yet read
# the right place: the middle map above puts no more of its weight on the diagonal than the random start (the shares
# under the maps); aligning output words with input words is what fine-tuning adds.

# %%
def input_dependence(model):  # mean total-variation distance between the next-token distributions for two sources
    other = tokenizer(["Plants create energy through photosynthesis in their leaves."], add_special_tokens=False,
                      return_tensors="pt")
    with torch.no_grad():
        p, q = (model(**s, decoder_input_ids=decoder_input_ids).logits.softmax(-1) for s in (source, other))
    return 0.5 * (p - q).abs().sum(-1).mean().item()

copied, _ = warm_start("bert2bert", "minilm-l6", cross_attention="self")
start = {"random (the paper)": input_dependence(model), "copied from self-attention": input_dependence(copied.eval())}
Markdown("Input dependence at the start of fine-tuning (total-variation distance between the outputs for two "
         "different sources; 0 = the input is ignored, 1 = disjoint): "
         + ", ".join(f"cross-attention {k}: **{v:.3f}**" for k, v in start.items()) + ".")

# %% [markdown]
# The reproduction shows what this costs. At the paper's scale (300k steps of batch 256) the cross-attention has time
# to learn to read. At the workbench's first scale (1,000 pairs, 300 steps on a CPU) it did not: four of the five
# paper schemes *collapsed* to writing much the same sentence for every input, and the fifth, bertshare, wrote
# different sentences that were hardly closer to their own input than to the others (notebook 05, section 3:
# 92% distinct outputs, input dependence 0.09 against 0.90 for copying the input). Notebook 05 shows the collapse
# with two diagnostics:
# the **distinct-output share** (how many different outputs a model writes for its different inputs; 1 is healthy)
# and **input dependence** (whether an output shares more words with its own input than with someone else's). A
# teacher-forced loss can still fall during a collapse, which is why the diagnostics are needed.
#
# ## The LM head is the embedding matrix
#
# The last layer's hidden state $h_t$ becomes logits over the vocabulary through a linear map,
# $\operatorname{logits}_t = h_t E_{\text{word}}^\top + b$, whose weight is the word-embedding matrix itself. Tying
# reads and writes words with the same vectors, and saves $V \times H$ parameters. With shared embeddings (the paper's
# default) the encoder uses that matrix too.

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
# with it each step computes one. *Predict before you run:* is the cache worth more for 8 tokens or for 48?
#
# Each timing is the median of several runs: one run on a shared CPU is noise.

# %%
lengths = [8, STEPS]
seconds = pd.DataFrame(index=pd.Index(lengths, name="tokens written"))
with torch.inference_mode():
    for use_cache in (False, True):
        seconds["with cache (s)" if use_cache else "without cache (s)"] = [
            median_seconds(lambda: greedy(model, source, n, use_cache), repeats=REPEATS) for n in lengths]
seconds["speed-up"] = seconds["without cache (s)"] / seconds["with cache (s)"]
display(seconds.round(3))
short, long = seconds["speed-up"]
Markdown(f"Writing {STEPS} tokens, the cache is **{long:.1f}x** as fast (median of {REPEATS} runs); writing 8, "
         f"{short:.1f}x" + (": at that length its bookkeeping costs about what it saves. " if short < 1.2 else ". ")
         + ("The saving grows with length, as the quadratic cost says." if long > 1.2 * short else
            "At these lengths the measurement cannot separate the two; try the full preset."))

# %% [markdown]
# ## GPT-2: a decoder from birth
#
# The paper's other decoder is GPT-2 (`bertgen/modeling/gpt2.py`). BERT had to be *made* causal; GPT-2 was
# pretrained causal, as a left-to-right language model, so a warm-started GPT-2 decoder changes nothing it learned
# except what cross-attention adds. Three more differences show in its parameters: no segment embeddings (`wte`,
# `wpe` only), LayerNorm *before* each block (`ln_1`, `ln_2`, and `ln_cross_attn` before the new cross-attention)
# instead of after, and `Conv1D` projections whose weight is stored (in, out), the transpose of BERT's `nn.Linear`.
# A tiny GPT-2 with cross-attention, layer 0 beside the BERT decoder's:

# %%
gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=0,
                                  eos_token_id=0, add_cross_attention=True, is_decoder=True)).eval()
layers = {"GPT-2 block 0": gpt2.transformer.h[0], "BERT decoder layer 0": model.decoder.bert.encoder.layer[0]}
pd.concat({name: pd.Series([f"{n} {tuple(p.shape)}" for n, p in layer.named_parameters()])
           for name, layer in layers.items()}, axis=1).fillna("")

# %% [markdown]
# Causal from birth: changing a later token leaves every earlier position's output as it was, with no mask passed.

# %%
ids = torch.randint(1, 300, (1, 8), generator=torch.Generator().manual_seed(0))
changed = ids.clone()
changed[0, 5] = (changed[0, 5] + 1) % 300
with torch.no_grad():
    before, after = gpt2.transformer(ids).last_hidden_state, gpt2.transformer(changed).last_hidden_state
print("max change at positions 0-4:", f"{(before - after)[0, :5].abs().max():.1e};",
      "at 5-7:", f"{(before - after)[0, 5:].abs().max():.2f}")

# %% [markdown]
# Its vocabulary is byte-level BPE: text is split into bytes and merged into frequent pieces, so any string has a
# spelling (no `[UNK]`), capitals and spaces survive (a piece carries its leading space, shown as `Ġ`), and
# `<|endoftext|>` is its one special token: start, end and padding at once. Its pieces are printed through GPT-2's
# byte-to-unicode table, which gives every byte a printable character: the space byte prints as `Ġ`, and a byte
# that is printable Latin-1 as itself, so the two UTF-8 bytes of `é` (0xC3 0xA9) show as `Ã` and `©` wherever no
# merge joined them, and a byte that is not printable as a stand-in from further up Unicode (`à`'s second byte,
# 0xA0, shows as `ł`); decoding maps them all back to the text. A BPE trained here on bertgen's sample corpus shows the
# pieces beside the WordPiece of MiniLM:

# %%
bpe = ByteLevelBPETokenizer()
bpe.train([str(SAMPLE_CORPUS)], vocab_size=500, special_tokens=["<|endoftext|>"], show_progress=False)
sentence = "The cat sat on the mat, Déjà vu!"
print("byte-level BPE:", bpe.encode(sentence).tokens)
print("WordPiece:     ", tokenizer.tokenize(sentence))

# %% [markdown]
# ## Summary
#
# > - A decoder layer is the encoder's layer run with a causal mask, plus a cross-attention block whose queries come
# >   from the decoder and whose keys and values come from the encoder's output.
# > - The mask is the only change that turns a bidirectional BERT layer into a left-to-right one: the weights stay the
# >   same.
# > - Every scheme starts the cross-attention at random: the part that connects the two stacks never comes from BERT,
# >   and at the start it barely reads the input.
# > - Warm-starting takes parts, not stacks: bert2rnd's decoder layers are random, but its word embeddings (and tied
# >   LM head) are BERT's; bertShare runs one set of weights both ways.
# > - The KV cache changes the cost of decoding, never its tokens; the saving grows with length.
# > - GPT-2 is a decoder from birth: causal without a mask, no segment embeddings, LayerNorm before each block,
# >   and a byte-level vocabulary with one special token.
#
# ## Exercises
#
# 1. Run the decoder *without* the causal mask: feed `decoder_input_ids` through `model.decoder` with a full
#    attention mask and compare the logits at the first position with the causal ones. Why may the model never be
#    trained this way?
# 2. Count the parameters the cross-attention adds per layer at MiniLM size and at BERT-base size (H = 768, 12
#    layers), and compare with the random column of the paper's Table 1 for bert2bert (26M).
# 3. Compute `input_dependence` for `bert2rnd` and `rnd2bert`. Which scheme's decoder reads its input least at the
#    start, and why?

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: the decoder's layers by hand, with and without the causal mask
with torch.no_grad():
    enc = model.encoder(**source).last_hidden_state  # (1, S, H)
    masked = unmasked = model.decoder.bert.embeddings(decoder_input_ids)  # (1, T, H)
    for block in model.decoder.bert.encoder.layer:
        masked = block(masked, is_causal=True, encoder_hidden_states=enc)[0]
        unmasked = block(unmasked, is_causal=False, encoder_hidden_states=enc)[0]
    difference = (model.decoder.lm_head(masked) - model.decoder.lm_head(unmasked))[0].abs().amax(-1)  # (T,)
print("max |logit difference| per position:", difference.round(decimals=2).tolist())
print("every position changes: from the second layer on, even the last position reads earlier states that now saw "
      "the future. A model trained without the mask would read the token it must predict from its input, and have "
      "nothing to read when generating")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: 4 (H^2 + H) for Q, K, V, O, plus a LayerNorm (2H), per layer
per_layer = lambda H: 4 * (H * H + H) + 2 * H  # noqa: E731
print(f"MiniLM: {per_layer(384):,} x 6 = {6 * per_layer(384) / 1e6:.1f}M;  BERT-base: {per_layer(768):,} x 12 = "
      f"{12 * per_layer(768) / 1e6:.1f}M (the paper's random column says 26M; notebook 04 discusses the difference)")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: bert2rnd's decoder reads its input least. In both schemes the cross-attention is random and its output
# small; bert2rnd's random decoder layers pass that small signal on as weak as they get it, while rnd2bert's
# pretrained layers (like bert2bert's above) respond to it more strongly, though its encoder's output is random.
for scheme in ("bert2rnd", "rnd2bert"):
    torch.manual_seed(0)
    print(scheme, round(input_dependence(warm_start(scheme, "minilm-l6")[0].eval()), 3))
