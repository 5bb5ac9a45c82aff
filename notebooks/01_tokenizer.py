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
# # 01 · Tokenizers: from text to ids, and the tokens that start and stop a decoder
#
# **Paper:** Rothe, Narayan, Severyn (2020), [*Leveraging Pre-trained Checkpoints for Sequence Generation
# Tasks*](https://arxiv.org/abs/1907.12461), section *Models and Pre-trained Checkpoints* (one vocabulary shared by
# encoder and decoder; `[CLS]` starts and `[SEP]` ends the output; inputs carry no special tokens).
# **Code:** `bertgen/tokenization/bert_generation.py` (`BertGenerationTokenizer`, SentencePiece),
# `bertgen/tokenization/fast.py` (WordPiece and BPE through `tokenizers`), `bertgen/tokenization/base.py`,
# `bertgen/data/collate.py` (how targets become labels).
#
# **After this notebook you can**
# - train a SentencePiece vocabulary and compare it with BERT's WordPiece;
# - say which special tokens go on the input and on the target, and why;
# - build the decoder input and the labels of a target by hand (teacher forcing).
#
# A BertGeneration model reads ids, not text. Which ids depends on the checkpoint it was warm-started from:
# BERT brings its WordPiece vocabulary (`vocab.txt`), RoBERTa and GPT-2 their byte-level BPE (`vocab.json` +
# `merges.txt`), and the paper's own models a SentencePiece model (`spiece.model`). Encoder and decoder of
# one model share one vocabulary, so the tokenizer is chosen with the checkpoint.
#
# This notebook trains a small SentencePiece model, looks at what it learned, sets it beside BERT's
# WordPiece on the same sentences, and then turns to the part that matters for generation: which special
# tokens go where. Everything comes from `bertgen.tokenization`; `load_tokenizer(path)` picks the right
# tokenizer from the files in a checkpoint directory and all of them are called the same way.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": a 500-piece vocabulary; "full": 1,000 pieces (what this small corpus supports)

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bertgen.teaching import RUNNING_EXAMPLE
from bertgen.tokenization import SAMPLE_CORPUS, BertGenerationTokenizer, load_tokenizer

VOCAB_SIZE = {"tiny": 500, "full": 1000}[PRESET]
corpus = SAMPLE_CORPUS.read_text(encoding="utf-8").splitlines()
print(f"{len(corpus)} sentences, {sum(map(len, corpus)):,} characters; e.g.")
corpus[:3]

# %% [markdown]
# ## Training a SentencePiece model
#
# SentencePiece treats text as a plain sequence of characters, spaces included: a space becomes the
# visible mark `▁` at the start of the next piece, so decoding is just joining pieces. The *unigram* model
# (the kind the paper's vocabularies are) starts from a large set of candidate substrings and prunes the
# ones whose loss hurts the corpus likelihood least, until `vocab_size` remain. `model_type="bpe"` instead
# starts from characters and merges the most frequent neighbouring pair, again and again.
#
# `BertGenerationTokenizer.train` fixes where the special pieces go. The ids are not arbitrary:
# `BertGenerationConfig` defaults to `pad_token_id=0`, `eos_token_id=1`, `bos_token_id=2`, so a vocabulary
# trained here drops into a randomly initialized (rnd2rnd) model without touching its config.

# %%
sp = BertGenerationTokenizer.train([SAMPLE_CORPUS], vocab_size=VOCAB_SIZE)
print(sp)
pd.DataFrame({"piece": sp.convert_ids_to_tokens(list(range(12)))}).T

# %% [markdown]
# After the five special pieces come single characters and the most useful short pieces. The longest
# pieces show what the corpus repeats most: whole frequent words, with their leading `▁`.

# %%
pieces = sorted(sp.get_vocab(), key=len, reverse=True)
pieces[:20]

# %% [markdown]
# ## Looking at the pieces
#
# Frequent words stay whole; rarer ones are spelled from smaller pieces. Characters the corpus never showed (here
# the emoji, and the Chinese characters) still print as pieces, because `tokenize` shows the text SentencePiece cut,
# but they have no id of their own: as ids they become `<unk>` (the last line), and decoding cannot bring them
# back. Unigram and BPE vocabularies of the same size cut differently: BPE keeps every merge it made on the way, so
# it holds more short fragments.

# %%
SENTENCES = [
    "The lighthouse keeper rowed out alone to save four sailors.",
    "Unbelievably, the café on the corner sells out of rye bread before noon.",
    "Tokenizers split rare words into pieces.",
    "Der Hund schläft im Garten.",
    "Emoji 😀 and 中文 are outside this vocabulary.",
]
sp_bpe = BertGenerationTokenizer.train([SAMPLE_CORPUS], vocab_size=VOCAB_SIZE, model_type="bpe")
for text in SENTENCES[:3] + SENTENCES[4:]:
    print(f"{text}\n  unigram: {sp.tokenize(text)}\n  bpe:     {sp_bpe.tokenize(text)}")
unseen = sp(SENTENCES[4], add_special_tokens=False)["input_ids"]
print("unigram, as ids and back:", sp.convert_ids_to_tokens(unseen), "->", repr(sp.decode(unseen)))

# %% [markdown]
# ## Beside BERT's WordPiece
#
# `"minilm-l6"` names the MiniLM-L6 checkpoint installed as a package (a sentence-embedding fine-tune of
# MiniLM, with the uncased `bert-base` vocabulary of 30,522 WordPieces). WordPiece normalizes first
# (lower-case, strip accents, space around punctuation and each Chinese character), then splits each word
# greedily into the longest pieces in the vocabulary, marking word-inner pieces with `##`. Its vocabulary
# is tens of times larger than ours and was built on far more text, so it needs fewer pieces per sentence.
# Note also what it throws away: capitals and accents do not survive `decode`.

# %%
bert = load_tokenizer("minilm-l6")
rows = [{"text": t, "SentencePiece": " ".join(sp.tokenize(t)), "WordPiece": " ".join(bert.tokenize(t)),
         "decoded by WordPiece": bert.decode(bert.encode(t, add_special_tokens=False))} for t in SENTENCES]
with pd.option_context("display.max_colwidth", None):
    display(pd.DataFrame(rows).set_index("text"))
print("ids of the first sentence:", sp.encode(SENTENCES[0]), bert.encode(SENTENCES[0], add_special_tokens=False),
      sep="\n")


# %% [markdown]
# How many tokens a sentence costs matters twice: attention is quadratic in it, and a decoder takes one
# step per target token. Even on the corpus it was trained on, the small vocabulary needs clearly more
# pieces than BERT's.

# %% alt="Left: tokens per example sentence for SentencePiece and WordPiece. Right: histogram of tokens per corpus sentence for both tokenizers."
def lengths(tok, texts):
    return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]


fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))
per_sentence = pd.DataFrame({"SentencePiece": lengths(sp, SENTENCES), "WordPiece": lengths(bert, SENTENCES)},
                            index=[f"s{i}" for i in range(len(SENTENCES))])
per_sentence.plot.bar(ax=left, rot=0, title="tokens per example sentence")
right.hist([lengths(sp, corpus), lengths(bert, corpus)], bins=20, label=["SentencePiece", "WordPiece"])
means = [sum(lengths(tok, corpus)) / len(corpus) for tok in (sp, bert)]
right.set(title="tokens per corpus sentence (mean {:.1f} vs {:.1f})".format(*means), xlabel="tokens",
          ylabel="sentences")
right.legend();

# %% [markdown]
# ## Special tokens: none on the input, BOS and EOS around the target
#
# transformers' BERT tokenizer wraps every text in `[CLS] ... [SEP]` by default, because BERT was
# pre-trained that way for classification. The paper feeds the encoder bare text: the released bert2bert
# and roberta2roberta checkpoints are run with `add_special_tokens=False`, and `BertGenerationTokenizer`
# adds nothing at all (its `add_special_tokens` changes nothing).
#
# *Predict before you run:* for a target of *n* tokens, how long are the decoder input and the labels, and which
# special token does each hold that the other does not?

# %% [markdown]
# **The running example.** From here to notebook 06 the course follows one sentence-fusion pair, the task of the
# paper's DiscoFuse experiments: two sentences in, one sentence out, joined by a connective. Its input and its
# target, through both tokenizers:

# %%
source, target = RUNNING_EXAMPLE
text = source
print("BERT, default:        ", bert.convert_ids_to_tokens(bert.encode(text)))
print("BERT, as the paper:   ", bert.convert_ids_to_tokens(bert.encode(text, add_special_tokens=False)))
print("SentencePiece, either:", sp.tokenize(text), sp.encode(text) == sp.encode(text, add_special_tokens=False))


# %% [markdown]
# The decoder is where the special tokens live. It needs a token to start from (BOS, the *decoder start
# token*) and a token that says "done" (EOS), which it learns to predict after the last word. BERT has no
# tokens by those names, so the paper reuses the two it has: **[CLS] starts the decoder and [SEP] ends the
# target**. `load_tokenizer` says so through `bos_token_id` / `eos_token_id`; SentencePiece vocabularies
# have real `<s>` and `</s>`.
#
# Training then shifts by one: the labels are the target's ids followed by EOS, and the decoder's input is
# the same sequence moved one step right behind BOS. At every position the decoder sees the tokens so far
# and is scored on the next one.

# %%
def teacher_forcing(tok, target):
    labels = tok.encode(target, add_special_tokens=False) + [tok.eos_token_id]
    decoder_input = [tok.decoder_start_token_id] + labels[:-1]
    return pd.DataFrame({"decoder input": tok.convert_ids_to_tokens(decoder_input),
                         "label (next token)": tok.convert_ids_to_tokens(labels)}).T


print("BERT: bos", bert.bos_token_id, "= [CLS]", bert.cls_token_id, "; eos", bert.eos_token_id, "= [SEP]",
      bert.sep_token_id)
display(teacher_forcing(bert, target))
print("SentencePiece: bos <s> =", sp.bos_token_id, "; eos </s> =", sp.eos_token_id, "; pad <pad> =",
      sp.pad_token_id)
teacher_forcing(sp, target)

# %% [markdown]
# ## Batches
#
# Every tokenizer takes the same call. Padding fills each row to the longest (or to `max_length`) with the
# pad id, and the attention mask marks which positions are real; truncation cuts each text to
# `max_length` tokens. `batch_decode(..., skip_special_tokens=True)` drops padding and special tokens again.

# %%
batch = sp(SENTENCES[:3], padding=True, truncation=True, max_length=20, return_tensors="pt")
print(batch["input_ids"], batch["attention_mask"], sep="\n")
sp.batch_decode(batch["input_ids"], skip_special_tokens=True)

# %% [markdown]
# ## Save and reload
#
# `save_pretrained` writes `spiece.model`, `tokenizer_config.json` and `special_tokens_map.json`: the files
# transformers' `BertGenerationTokenizer` reads (the test suite checks it gives the same ids), and what
# `load_tokenizer` recognizes. Every file is written to a temporary name and then renamed, so an
# interrupted save never leaves half a vocabulary behind.

# %%
with tempfile.TemporaryDirectory() as directory:
    written = sp.save_pretrained(directory)
    print([Path(f).name for f in written])
    again = load_tokenizer(directory)
print(type(again).__name__, again.encode(SENTENCES[1]) == sp.encode(SENTENCES[1]))

# %% [markdown]
# Next, `02_encoder`: what the encoder does with these ids.

# %% [markdown]
# ## Summary
#
# > - A tokenizer maps text to ids from a fixed vocabulary: SentencePiece learns its pieces from a corpus, WordPiece
# >   is BERT's and must be kept to reuse BERT's embeddings.
# > - The input carries no special tokens; the target is wrapped in a start token (the decoder's first input) and an
# >   end token (the last label).
# > - Teacher forcing: the labels are the target's ids followed by the end token; the decoder input is the same
# >   sequence shifted one step right behind the start token.
#
# ## Exercises
#
# 1. A 300-piece and a 1,000-piece unigram vocabulary: predict which needs more pieces per corpus sentence, and what a
#    larger vocabulary costs the model (think of the embedding matrix and the tied output layer). Then train both.
# 2. Which of the example sentences changes when it goes through WordPiece and back (`decode(encode(...))`), and why?
# 3. Training cuts long targets: its labels come from `encode_targets(tok, targets, max_length)`
#    (`bertgen/data/collate.py`). For a target longer than `max_length`, *predict* how long its labels are, what
#    their last token is, and what the decoder is taught at that last position. What would it learn instead if the
#    end token were added first and the cut made after it? Check with the SentencePiece tokenizer and
#    `max_length=8` on the running example's target, both ways.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: the smaller vocabulary cuts words into more, shorter pieces (longer sequences, and attention's cost grows
# with their square); the larger one needs more rows in the embedding matrix, which is also the output layer, so
# every decoding step scores more candidates. At MiniLM's H = 384:
for size in (300, 1000):
    t = BertGenerationTokenizer.train([SAMPLE_CORPUS], vocab_size=size)
    print(f"{size} pieces: {sum(lengths(t, corpus)) / len(corpus):.1f} per sentence, "
          f"embedding matrix {size * 384:,} parameters")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: WordPiece lower-cases and strips accents, so capitals and "café" do not survive
[t for t in SENTENCES if bert.decode(bert.encode(t, add_special_tokens=False)) != t]

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: max_length labels, the first max_length - 1 pieces and then the end token, so the decoder is taught to
# stop in mid-sentence. Cut after the end token, the labels would hold no end token at all: a long target would
# never teach the model to stop, and long outputs would run on to the length limit.
# encode_targets keeps the end token, so every example teaches when to stop; choose max_length so few are cut.
from bertgen.data.collate import encode_targets

labels = encode_targets(sp, [target], max_length=8)[0]
cut_after = (sp.encode(target, add_special_tokens=False) + [sp.eos_token_id])[:8]
print(f"{len(sp.encode(target, add_special_tokens=False))} pieces in the target, max_length 8")
display(pd.DataFrame({"decoder input": sp.convert_ids_to_tokens([sp.decoder_start_token_id] + labels[:-1]),
                      "labels (encode_targets)": sp.convert_ids_to_tokens(labels),
                      "labels (end token, then the cut)": sp.convert_ids_to_tokens(cut_after)}).T)
print("ends with the end token:", labels[-1] == sp.eos_token_id, "(encode_targets)",
      cut_after[-1] == sp.eos_token_id, "(cut after it)")
