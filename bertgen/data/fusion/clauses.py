"""Clauses and pronouns in Brown-tagged sentences: what the fusion rules (bertgen/data/fusion/rules.py) check
before they touch a sentence.

`is_clause`: a subject noun phrase followed by a finite verb. `resolve_anaphora`: a clause whose subject is a
pronoun, with that pronoun replaced by the previous clause's subject, only where nothing else could be meant
(see the rules module's docstring). Tags are the Brown tagset's base forms (bertgen/data/corpora/brown.py).
"""
from __future__ import annotations

from bertgen.data.corpora.brown import Sentence

# --------------------------------------------------------------------------------- clause detection

# Tags that can start a subject noun phrase, and tags allowed inside it before its verb.
_SUBJECT_START = {"pps", "ppss", "np", "nps", "at", "dt", "dts", "dti", "dtx", "ap", "cd", "pp$", "nn", "nns",
                  "ex", "pn", "abn", "np$", "nn$", "nns$", "nps$", "nr", "jj", "od"}
_IN_SUBJECT = _SUBJECT_START | {"jjr", "jjs", "jjt", "ppl", "ppls", "pp$$", "pn$", "abx", "ql", "rb", "cc", "in",
                                "nr$", "nrs", "vbg", "vbn", "*"}
_FINITE = {"vbd", "vbz", "vb", "md", "bed", "bedz", "bem", "ber", "bez", "hvd", "hvz", "hv", "dod", "doz", "do"}
PAST = {"vbd", "bed", "bedz", "hvd", "dod"}
PRESENT = {"vbz", "bez", "hvz", "doz"}
_MAX_SUBJECT = 8


def verbish(tag: str) -> bool:
    return tag.startswith(("vb", "be", "hv", "do", "md"))


def finite(tag: str) -> bool:
    return tag.rstrip("*") in _FINITE


def is_clause(tokens: Sentence) -> bool:
    """Does this stretch start with a subject followed by a finite verb (`the old man / left`)?

    Contractions of a subject pronoun and a verb (`I'll` ppss+md, `it's` pps+bez) count as both.
    """
    if len(tokens) < 2:
        return False
    first = tokens[0][1]
    if "+" in first:
        return first.split("+")[0] in {"pps", "ppss", "ex", "dt", "np", "nn"}
    if first not in _SUBJECT_START:
        return False
    for i, (_, tag) in enumerate(tokens[1:], start=1):
        if i > _MAX_SUBJECT:
            return False
        if "+" in tag:  # "the man's" (nn+bez) ends the subject with a finite verb
            return finite(tag.split("+")[1])
        if verbish(tag) and tag not in {"vbg", "vbn"}:
            return finite(tag)
        if tag not in _IN_SUBJECT:
            return False
    return False


# ---------------------------------------------------------------------------- pronouns and their nouns

PERSON_WORDS = {"he", "she", "him", "her", "his", "hers", "himself", "herself"}
TITLES = {"mr.": {"he"}, "mrs.": {"she"}, "miss": {"she"}, "ms.": {"she"}}  # the only genders the tags show
NAME_TAGS = {"np", "nps", "np$", "nps$"}
_NOUN_TAGS = {"nn", "nns", "nn$", "nns$", "np", "nps", "np$", "nps$", "pn", "ppo", "pps", "ppss"}
NP_INSIDE = {"jj", "nn", "od", "cd"}  # between "the" and the head noun
# "It" before these is mostly the empty "it" of "it seems", "it took a week": not a reference.
_EMPTY_IT_VERBS = {"seem", "seems", "seemed", "appear", "appears", "appeared", "take", "takes", "took", "happen",
                   "happens", "happened", "follow", "follows", "followed", "remain", "remains", "remained",
                   "matter", "matters", "mattered", "rained", "rains", "snowed"}


def name_length(tokens: Sentence) -> int:
    """How many `np` words a clause starts with (a proper name: `John`, `Mr. John Smith`)."""
    n = 0
    while n < len(tokens) and tokens[n][1] == "np":
        n += 1
    return n


def _antecedent(clause: Sentence) -> tuple[Sentence, set[str]] | None:
    """The subject noun phrase of `clause` and the subject pronouns that can only point at it, if any."""
    n = name_length(clause)
    if 1 <= n <= 3 and n < len(clause) and finite(clause[n][1]):
        rest = clause[n:]
        if any(t in NAME_TAGS or w.lower() in PERSON_WORDS for w, t in rest):
            return None
        return clause[:n], TITLES.get(clause[0][0].lower(), {"he", "she"})
    if clause[0][0].lower() != "the" or clause[0][1] != "at":
        return None
    k = 1
    while k < len(clause) and clause[k][1] in NP_INSIDE:
        k += 1
    if k < len(clause) and clause[k][1] == "nns":
        k += 1
    if k < 2 or k >= len(clause) or not finite(clause[k][1]) or clause[k - 1][1] not in {"nn", "nns"}:
        return None
    if any(t in _NOUN_TAGS for _, t in clause[k:]):
        return None
    return clause[:k], {"it"} if clause[k - 1][1] == "nn" else {"they"}


def pronoun_subject(clause: Sentence) -> str | None:
    """`he`/`she`/`it`/`they` if `clause` starts with it as a subject, followed by a finite verb."""
    if len(clause) < 3:
        return None
    (word, tag), (verb, verb_tag) = clause[0], clause[1]
    pronoun = word.lower()
    if not ((pronoun in {"he", "she", "it"} and tag == "pps") or (pronoun == "they" and tag == "ppss")):
        return None
    if not finite(verb_tag) or "+" in verb_tag:
        return None
    if pronoun == "it" and (verb_tag.startswith("be") or verb.lower() in _EMPTY_IT_VERBS):
        return None
    return pronoun


def resolve_anaphora(previous: Sentence, clause: Sentence) -> Sentence | None:
    """`clause` with its subject pronoun replaced by the subject of `previous`, where that is safe."""
    pronoun = pronoun_subject(clause)
    found = _antecedent(previous) if pronoun else None
    if found is None or pronoun not in found[1]:
        return None
    return list(found[0]) + clause[1:]
