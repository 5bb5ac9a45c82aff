"""DiscoFuse-style sentence-fusion rules over Brown-tagged sentences.

Fusion examples are made the way DiscoFuse (Geva et al. 2019) made theirs: start from a real, coherent
text and undo one discourse phenomenon to get the incoherent input. The target is always the real text;
only the input is constructed. Rule names are DiscoFuse's `discourse_type` values, so results can be
broken down by phenomenon and compared:

  PAIR_CONN            "S1. However, s2."          <- "S1. S2."   (sentence-initial adverbial, or And/But/Yet/Or/For)
  PAIR_CONN_ANAPHORA   "John left. But he came."   <- "John left. John came."
  PAIR_ANAPHORA        "John left. He was tired."  <- "John left. John was tired."
  SINGLE_S_COORD       "X, but y."                 <- "X. Y."     (clause coordination: and, but, or, so, yet, for)
  SINGLE_S_COORD_ANAPHORA  "John ran, but he fell."  <- "John ran. John fell."
  SINGLE_CONN_INNER    "X because y."              <- "X. Y."     (because, although, unless, until, ...)
  SINGLE_CONN_INNER_ANAPHORA  "John ran because he was late."  <- "John ran. John was late."
  SINGLE_CONN_START    "Although x, y."            <- "X. Y."     (the inner ones, plus when and if)
  SINGLE_CATAPHORA     "When he came, John sat."   <- "John came. John sat."
  SINGLE_VP_COORD      "He came and saw it."       <- "He came. He saw it."  (verb phrases sharing a subject)
  SINGLE_RELATIVE      "He met John, who was ill." <- "He met John. John was ill."
  SINGLE_APPOSITION    "John, a lawyer, left."     <- "John was a lawyer. John left."

Rules only fire where the tags show a full clause (a subject followed by a finite verb) on both sides, and
the single-sentence rules skip sentences with quotations, brackets, headlines or colons (and, where a
semicolon could close the clause instead of the comma the rule reads, semicolons): a skipped sentence costs
an example, a wrong one teaches the model garbage. The pair rules, which only touch the start of the second
sentence, take any whole sentences (quotations and brackets closed). The anaphora rules are the riskiest (a
pronoun may point anywhere), so they only replace a subject pronoun by the previous clause's subject where
nothing else in that clause could be meant: `he`/`she` for a proper name (1-3 `np` words) in a clause with
no other name and no other he/she/him/her; `it`/`they` for `the` + a singular/plural noun in a clause with
no other noun; and never `it` before a form of `be` or `seem`, `take`, ... (`It was raining` points at
nothing).

Tags used (the Brown tagset, base forms): np proper noun, nn/nns noun singular/plural, at article,
jj adjective, pp$ possessive determiner, pps he/she/it, ppss they/we/I/you, cs subordinating conjunction,
cc coordinating conjunction, wps who, wdt which, vbd past verb, vbz/bez/hvz present 3rd person,
be* forms of be, md modal; a `*` suffix is a negation (`didn't` dod*), `+` joins a contraction. What counts
as a clause and which noun a pronoun stands for are in bertgen/data/clauses.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bertgen.data.corpora.brown import Document, Sentence, detokenize, text
from bertgen.data.fusion.clauses import (NAME_TAGS, NP_INSIDE, PAST, PERSON_WORDS, PRESENT, TITLES, finite, is_clause,
                                     name_length, pronoun_subject, resolve_anaphora, verbish)

DISCOURSE_TYPES = ("PAIR_CONN", "PAIR_CONN_ANAPHORA", "PAIR_ANAPHORA", "SINGLE_S_COORD", "SINGLE_S_COORD_ANAPHORA",
                   "SINGLE_CONN_INNER", "SINGLE_CONN_INNER_ANAPHORA", "SINGLE_CONN_START", "SINGLE_CATAPHORA",
                   "SINGLE_VP_COORD", "SINGLE_RELATIVE", "SINGLE_APPOSITION")  # every `rule` these rules give

# -------------------------------------------------------------------------------------- connectives

PAIR_ADVERBIALS = [
    "however", "therefore", "thus", "instead", "moreover", "furthermore", "nevertheless", "nonetheless",
    "consequently", "meanwhile", "otherwise", "hence", "besides", "indeed", "accordingly", "likewise",
    "similarly", "still", "later", "then", "afterwards", "in addition", "as a result", "for example",
    "for instance", "on the other hand", "in fact", "in contrast", "on the contrary", "after all",
    "of course", "at the same time", "in other words", "in any case", "as a matter of fact",
    "also", "finally", "eventually", "subsequently", "thereafter", "in the meantime", "even so", "by contrast",
    "in short", "in particular", "for this reason", "in turn", "so", "now", "again", "at first", "at last",
    "in the end", "first", "second", "unfortunately", "fortunately", "naturally", "surely", "certainly",
    "above all", "in general", "in the same way", "on the whole", "at least", "at any rate",
]
# Adverbials that open a clause without a comma as often as with one ("Then he left.", "So the king said").
PAIR_BARE_ADVERBIALS = {"then", "so", "therefore", "thus", "later", "still", "now", "also", "finally"}
PAIR_COORDINATORS = {"and": "cc", "but": "cc", "yet": "cc", "or": "cc", "for": "cs"}  # word: its tag here
COORDINATORS = {"and", "but", "or", "so", "yet", "for"}
INNER_SUBORDINATORS = {"because", "although", "though", "since", "while", "whereas", "unless", "until", "before",
                       "after", "once"}
START_SUBORDINATORS = INNER_SUBORDINATORS | {"when", "if"}
# Words that make the connective part of a larger one ("as though", "not because", "long before"):
# the left half would end in a dangling word. "even though" / "even if" are connectives of their own.
_BOUND_BEFORE = {"as", "not", "only", "just", "except", "simply", "partly", "mainly", "largely", "merely",
                 "precisely", "especially", "particularly", "chiefly", "probably", "perhaps", "ever", "long", "and",
                 "but", "or", "soon", "shortly", "right", "immediately", "years", "days", "weeks", "months", "even",
                 "--"}
_EVEN = {"though", "if"}
_FUNCTION_TAGS = {"cs", "in", "at", "cc", "wdt", "wps", "wrb", "to", "*", "ql", "dt", "pp$"}
_FORBIDDEN = {"``", "''", "`", "'", "(", ")", "[", "]", ":"}
_ENDS = {".", "?", "!"}
_MIN_PART = 3  # words in each half; shorter halves are fragments like "So it was."


@dataclass
class Fusion:
    """One example: `target` is the real text, `source` the incoherent version made by `rule`."""
    source: str
    target: str
    rule: str
    connective: str


# Each single-sentence rule returns (input, connective, rule) or None; the rule is returned because an
# anaphora variant (X_ANAPHORA) is decided inside.
Made = tuple[str, str, str]


def _eligible(tokens: Sentence) -> bool:
    return (4 <= len(tokens) <= 60 and tokens[-1][0] in _ENDS and tokens[-1][1] == "."
            and not any(w in _FORBIDDEN for w, _ in tokens))


def _pair_eligible(tokens: Sentence) -> bool:
    """Pair rules only touch the start of the second sentence, so quotations and colons elsewhere in either
    are harmless; the sentence must only be whole: every quotation and bracket closed, and an end mark
    (possibly inside a closing quote)."""
    words = [w for w, _ in tokens]
    end = words[-2] if words[-1] == "''" and len(words) > 1 else words[-1]
    return (4 <= len(words) <= 60 and end in _ENDS and words.count("``") == words.count("''")
            and words.count("`") == words.count("'") and words.count("(") == words.count(")"))


def _cap(tokens: Sentence) -> Sentence:
    word, tag = tokens[0]
    return [(word[:1].upper() + word[1:], tag)] + tokens[1:]


def _sentence(tokens: Sentence, end: str = ".") -> str:
    """Close a half with `end`, unless it already ends in an abbreviation's period (`Jr.`)."""
    words = [w for w, _ in tokens]
    if words[-1] == ",":
        words = words[:-1]
    return detokenize(words if words[-1].endswith(".") else words + [end])


def _two_sentences(left: Sentence, right: Sentence, end: str) -> str | None:
    if len(left) < _MIN_PART or len(right) < _MIN_PART:
        return None
    return _sentence(_cap(left)) + " " + _sentence(_cap(right), end)


def _with_anaphora(left: Sentence, right: Sentence, end: str, connective: str, rule: str) -> Made | None:
    """"X. Y." as the input, or "X. Y'." with Y's subject pronoun replaced by X's subject (rule_ANAPHORA)."""
    resolved = resolve_anaphora(left, right)
    source = _two_sentences(left, resolved or right, end)
    return (source, connective, rule + "_ANAPHORA" if resolved else rule) if source else None


def _ends_in_list_item(left: Sentence) -> bool:
    """"... Kennedy, advisers" : the stretch after the last comma has no verb, so the ", and" that follows
    continues a list of noun phrases, not a clause."""
    commas = [i for i, (w, _) in enumerate(left) if w == ","]
    return bool(commas) and not any(verbish(t) for _, t in left[commas[-1] + 1:])


# -------------------------------------------------------------------------------- single-sentence rules

def single_s_coord(tokens: Sentence) -> Made | None:
    """"X, and y." -> "X. Y." at the first ", and|but|or|so|yet|for" with a clause on both sides."""
    body, end = tokens[:-1], tokens[-1][0]
    if not is_clause(body):
        return None
    for i in range(1, len(body) - 1):
        word, tag = body[i + 1]
        if (body[i][0] == "," and word.lower() in COORDINATORS and tag in {"cc", "cs"}
                and not (word.lower() == "or" and end == "?")  # "did x, or y?": y is inverted, not a clause
                and not _ends_in_list_item(body[:i]) and is_clause(body[i + 2:])):
            made = _with_anaphora(body[:i], body[i + 2:], end, word.lower(), "SINGLE_S_COORD")
            if made:
                return made
    return None


def single_conn_inner(tokens: Sentence) -> Made | None:
    """"X because y." -> "X. Y." (also with a comma before the connective, and "even though|if"). A "since"
    without a comma before it is mostly temporal ("years have passed since ..."), where splitting changes
    the meaning."""
    body, end = tokens[:-1], tokens[-1][0]
    if not is_clause(body):
        return None
    for i in range(2, len(body) - 1):
        word, tag = body[i]
        even = word.lower() in _EVEN and body[i - 1][0].lower() == "even"
        if (word.lower() in INNER_SUBORDINATORS or even) and tag == "cs" and is_clause(body[i + 1:]):
            start = i - 1 if even else i  # where the connective starts
            before, before_tag = body[start - 1]
            comma = before == ","
            if (before.lower() in _BOUND_BEFORE or before_tag in _FUNCTION_TAGS
                    or (word.lower() == "since" and not comma)):
                return None
            right = body[i + 1:]
            if "," in (w for w, _ in right):  # "x, and ..." may return to the main clause: skip
                return None
            left = body[:start - 1] if comma else body[:start]
            if "," in (w for w, _ in left):  # the connective may belong to an inner clause: skip
                return None
            connective = "even " + word.lower() if even else word.lower()
            return _with_anaphora(left, right, end, connective, "SINGLE_CONN_INNER")
    return None


def _opening_clause(body: Sentence) -> tuple[str, int, int] | None:
    """For "Although x, y": (connective, where x starts, where its closing comma is), if x and y are clauses."""
    word, tag = body[0]
    connective, start = word.lower(), 1
    if connective == "even" and len(body) > 1 and body[1][0].lower() in _EVEN:
        connective, start, tag = f"even {body[1][0].lower()}", 2, body[1][1]
    elif connective not in START_SUBORDINATORS:
        return None
    if tag not in {"cs", "wrb"} or any(w == ";" for w, _ in body):  # a semicolon may close the clause instead
        return None
    commas = [i for i, (w, _) in enumerate(body) if w == ","]
    if not commas or not (is_clause(body[start:commas[0]]) and is_clause(body[commas[0] + 1:])):
        return None
    return connective, start, commas[0]


def single_conn_start(tokens: Sentence) -> Made | None:
    """"Although x, y." -> "X. Y." where the first comma closes the subordinate clause."""
    body, end = tokens[:-1], tokens[-1][0]
    found = _opening_clause(body)
    if not found:
        return None
    connective, start, j = found
    source = _two_sentences(body[start:j], body[j + 1:], end)
    return (source, connective, "SINGLE_CONN_START") if source else None


def single_cataphora(tokens: Sentence) -> Made | None:
    """"When he came, John sat." -> "John came. John sat.": the pronoun subject of an opening subordinate
    clause points forward at the name that is the main clause's subject (and at nothing else there)."""
    body, end = tokens[:-1], tokens[-1][0]
    found = _opening_clause(body)
    if not found:
        return None
    connective, start, j = found
    left, right = body[start:j], body[j + 1:]
    n = name_length(right)
    if not (1 <= n <= 3 and n < len(right) and finite(right[n][1])):
        return None
    if pronoun_subject(left) not in TITLES.get(right[0][0].lower(), {"he", "she"}):
        return None
    if any(t in NAME_TAGS or w.lower() in PERSON_WORDS for w, t in left[1:]):
        return None
    source = _two_sentences(right[:n] + left[1:], right, end)
    return (source, connective, "SINGLE_CATAPHORA") if source else None


def single_vp_coord(tokens: Sentence) -> Made | None:
    """"He came and saw it." -> "He came. He saw it.": a one- or two-word subject, a past verb, no other
    verb or clause boundary before "and|but" + a second past verb."""
    body, end = tokens[:-1], tokens[-1][0]
    if body[0][1] in {"pps", "ppss"}:
        n_subject = 1
    elif body[0][1] == "np":
        n_subject = 2 if len(body) > 1 and body[1][1] == "np" else 1
    else:
        return None
    if len(body) <= n_subject or body[n_subject][1] != "vbd":
        return None
    for i in range(n_subject + 1, len(body) - 1):
        word, tag = body[i]
        if tag == "cc":
            if word.lower() in {"and", "but"} and body[i + 1][1] == "vbd":
                subject = [(w if t == "np" or w == "I" else w.lower(), t) for w, t in body[:n_subject]]
                source = _two_sentences(body[:i], subject + body[i + 1:], end)
                return (source, word.lower(), "SINGLE_VP_COORD") if source else None
            return None
        if verbish(tag) or tag in {"cs", "wdt", "wps", "wpo", "wrb", "to", ","} or word == ";":
            return None
    return None


def _noun_phrase_before(tokens: Sentence, i: int) -> int | None:
    """Where the noun phrase that ends just before position i starts: a name (1-3 `np`), or `the`/a
    possessive + adjectives and nouns + a noun (`the old stone house`, `his brother`)."""
    j = i
    if j > 0 and tokens[j - 1][1] == "np":
        while j > 0 and tokens[j - 1][1] == "np":
            j -= 1
        return j if i - j <= 3 and (j == 0 or tokens[j - 1][1] not in {"np$", "nn$", "at", "jj"}
                                    and tokens[j - 1][0].lower() != "of") else None
    if j == 0 or tokens[j - 1][1] not in {"nn", "nns"}:
        return None
    j -= 1
    while j > 0 and tokens[j - 1][1] in NP_INSIDE:
        j -= 1
    if j > 0 and (tokens[j - 1][1] == "pp$" or (tokens[j - 1][0].lower() == "the" and tokens[j - 1][1] == "at")):
        j -= 1
    else:
        return None
    # "the estimate of the weather, which ...": the clause may describe either noun; skip
    return None if j > 0 and tokens[j - 1][0].lower() == "of" else j


_PLURAL_VERBS, _SINGULAR_VERBS = {"vb", "ber", "hv", "do"}, {"vbz", "bez", "hvz", "doz"}


def _relative_verb(clause: Sentence, head: str) -> bool:
    """Does the relative clause open with its finite verb (`who was`, `which never ends`): a subject relative,
    whose verb agrees with the head noun (tag `head`)? "Those ... with God, who lift up" is about "those"."""
    k = 1 if clause and clause[0][1] == "rb" else 0
    if len(clause) <= k + 1 or not finite(clause[k][1]) or "+" in clause[k][1] or any(w == ";" for w, _ in clause):
        return False
    verb = clause[k][1].rstrip("*")
    return verb not in (_SINGULAR_VERBS if head == "nns" else _PLURAL_VERBS)


def single_relative(tokens: Sentence) -> Made | None:
    """", who|which ..." -> a second sentence on the noun phrase it describes:
    "He met John, who was ill." -> "He met John. John was ill." (at the end: "who" only), and
    "The house, which was old, fell." -> "The house fell. The house was old." (after the subject)."""
    body, end = tokens[:-1], tokens[-1][0]
    for i in range(1, len(body) - 2):
        word, tag = body[i + 1]
        if body[i][0] != "," or (word.lower(), tag) not in {("who", "wps"), ("which", "wdt")}:
            continue
        start = _noun_phrase_before(body, i)
        if start is None:
            return None
        noun_phrase, after = body[start:i], body[i + 2:]
        commas = [k for k, (w, _) in enumerate(after) if w == ","]
        head = body[i - 1][1]
        # a ", which" at the end may describe the whole clause ("... at the moment, which made it easier"):
        # only "who" there; after the subject either is safe
        final = start > 0 and word.lower() == "who" and not commas
        if final and is_clause(body[:i]) and _relative_verb(after, head):
            source = _two_sentences(body[:i], _cap(noun_phrase) + after, end)
        elif start == 0 and len(commas) == 1 and _relative_verb(after[:commas[0]], head):
            main = noun_phrase + after[commas[0] + 1:]
            source = _two_sentences(main, noun_phrase + after[:commas[0]], end) if is_clause(main) else None
        else:
            return None
        return (source, word.lower(), "SINGLE_RELATIVE") if source else None
    return None


def single_apposition(tokens: Sentence) -> Made | None:
    """"John Smith, a lawyer, left." -> "John Smith was a lawyer. John Smith left.": a name, then a noun
    phrase between commas that starts with an article or possessive, then the main verb, whose tense
    gives the new sentence's verb (was / is)."""
    body, end = tokens[:-1], tokens[-1][0]
    n = name_length(body)
    if not 1 <= n <= 3 or len(body) < n + 4 or body[n][0] != ",":
        return None
    commas = [k for k, (w, _) in enumerate(body) if w == ","]
    if len(commas) < 2 or commas[0] != n or any(w == ";" for w, _ in body):
        return None
    apposition, rest = body[n + 1:commas[1]], body[commas[1] + 1:]
    if (not apposition or apposition[0][1] not in {"at", "pp$"} or apposition[-1][1] not in {"nn", "nns", "np"}
            or not all(t in NP_INSIDE | {"at", "pp$", "nns", "np", "in", "nn$", "np$"} for _, t in apposition)):
        return None
    if not rest or rest[0][1] not in PAST | PRESENT:
        return None
    verb = ("was" if rest[0][1] in PAST else "is", "bedz" if rest[0][1] in PAST else "bez")
    name = body[:n]
    source = _two_sentences(name + [verb] + apposition, name + rest, end)
    return (source, "", "SINGLE_APPOSITION") if source else None


SINGLE_RULES = (single_cataphora, single_conn_start, single_conn_inner, single_s_coord, single_vp_coord,
                single_relative, single_apposition)


# ----------------------------------------------------------------------------------------- pair rules

def pair_conn(first: Sentence, second: Sentence) -> Made | None:
    """"S1. However, s2." -> "S1. S2." for a sentence-initial adverbial + comma (some also without the
    comma: "Then he left."), or And/But/Yet + clause; PAIR_CONN_ANAPHORA when s2's subject pronoun is also
    replaced by S1's subject."""
    lowered = [w.lower() for w, _ in second]
    rest = None
    for adverbial in PAIR_ADVERBIALS:
        n = adverbial.count(" ") + 1
        if lowered[:n] == adverbial.split():
            if lowered[n:n + 1] == [","]:
                rest = second[n + 1:]
            elif adverbial in PAIR_BARE_ADVERBIALS and second[0][1] == "rb":
                rest = second[n:]
            if rest is not None:
                break
    else:
        if PAIR_COORDINATORS.get(lowered[0]) == second[0][1] and lowered[1] != ",":
            adverbial, rest = lowered[0], second[1:]
    if rest is None or len(rest) <= _MIN_PART or not is_clause(rest[:-1]):
        return None
    resolved = resolve_anaphora(first[:-1], rest)
    rule = "PAIR_CONN_ANAPHORA" if resolved else "PAIR_CONN"
    return text(first) + " " + text(_cap(resolved or rest)), adverbial, rule


def pair_anaphora(first: Sentence, second: Sentence) -> Made | None:
    """"John left. He was tired." -> "John left. John was tired."."""
    resolved = resolve_anaphora(first[:-1], second)
    if resolved is None or not is_clause(second[:-1]):
        return None
    return text(first) + " " + text(_cap(resolved)), "", "PAIR_ANAPHORA"


PAIR_RULES = (pair_conn, pair_anaphora)


def fuse(tokens: Sentence) -> Fusion | None:
    """The first single-sentence rule that applies to this sentence, if any."""
    if not _eligible(tokens):
        return None
    for apply in SINGLE_RULES:
        made = apply(tokens)
        if made:
            return Fusion(made[0], text(tokens), made[2], made[1])
    return None


def fuse_pair(first: Sentence, second: Sentence) -> Fusion | None:
    """The first two-sentence rule that applies to these adjacent sentences, if any."""
    if not (_pair_eligible(first) and _pair_eligible(second)):
        return None
    for apply in PAIR_RULES:
        made = apply(first, second)
        if made:
            return Fusion(made[0], text(first) + " " + text(second), made[2], made[1])
    return None


def fusions(document: Document) -> Iterator[Fusion]:
    """Every example a document yields: each sentence at most once by a single-sentence rule, and each
    pair of adjacent sentences at most once by a pair rule, in document order."""
    previous = None
    for sentence in document.sentences:
        if previous is not None:
            pair = fuse_pair(previous, sentence)
            if pair:
                yield pair
        single = fuse(sentence)
        if single:
            yield single
        previous = sentence
