"""The DiscoFuse-style rules, each on hand-written sentences tagged as Brown tags them: where it fires (the
input it makes; the target is always the sentence itself), and sentences it must skip."""
import pytest

from bertgen.data.corpora import brown

from bertgen.data.fusion import clauses, rules as fusion_rules
from bertgen.data.fusion.rules import Fusion


def sent(tagged: str) -> brown.Sentence:
    return brown.parse_sentence(tagged)[0]


@pytest.mark.parametrize("tagged, clause", [
    ("the/at old/jj man/nn left/vbd", True),
    ("he/pps could/md go/vb", True),
    ("I'll/ppss+md go/vb", True),
    ("there/ex was/bedz rain/nn", True),
    ("in/in Paris/np", False),
    ("running/vbg fast/rb", False),
    ("the/at man/nn running/vbg home/nr", False),  # no finite verb
    ("did/dod he/pps come/vb", False),  # a question, not subject first
])
def test_is_clause(tagged, clause):
    assert clauses.is_clause(sent(tagged)) is clause


# (sentence, expected input, rule, connective): the target is always the sentence itself.
SINGLE = [
    ("He/pps left/vbd early/rb ,/, but/cc she/pps stayed/vbd late/rb ./.",
     "He left early. She stayed late.", "SINGLE_S_COORD", "but"),
    ("The/at sun/nn rose/vbd ,/, and/cc the/at birds/nns began/vbd to/to sing/vb ./.",
     "The sun rose. The birds began to sing.", "SINGLE_S_COORD", "and"),
    ("The/at game/nn was/bedz cancelled/vbn because/cs the/at field/nn was/bedz wet/jj ./.",
     "The game was cancelled. The field was wet.", "SINGLE_CONN_INNER", "because"),
    ("It/pps was/bedz cold/jj ,/, although/cs the/at sun/nn was/bedz out/rp ./.",
     "It was cold. The sun was out.", "SINGLE_CONN_INNER", "although"),
    ("Although/cs it/pps was/bedz raining/vbg ,/, we/ppss went/vbd out/rp ./.",
     "It was raining. We went out.", "SINGLE_CONN_START", "although"),
    ("When/wrb the/at bell/nn rang/vbd ,/, the/at children/nns ran/vbd home/nr ./.",
     "The bell rang. The children ran home.", "SINGLE_CONN_START", "when"),
    ("She/pps opened/vbd the/at door/nn and/cc walked/vbd in/rp ./.",
     "She opened the door. She walked in.", "SINGLE_VP_COORD", "and"),
    ("Phil/np followed/vbd Eddie/np into/in the/at office/nn and/cc shut/vbd the/at door/nn ./.",
     "Phil followed Eddie into the office. Phil shut the door.", "SINGLE_VP_COORD", "and"),
    ("He/pps arrived/vbd at/in nine/cd p.m./rb and/cc went/vbd to/in bed/nn ./.",
     "He arrived at nine p.m. He went to bed.", "SINGLE_VP_COORD", "and"),
]


@pytest.mark.parametrize("tagged, source, rule, connective", SINGLE)
def test_single_sentence_rules(tagged, source, rule, connective):
    tokens = sent(tagged)
    assert fusion_rules.fuse(tokens) == Fusion(source, brown.text(tokens), rule, connective)


SKIPPED = [
    "We/ppss bought/vbd apples/nns ,/, pears/nns ,/, and/cc plums/nns ./.",  # a list, not two clauses
    "He/pps said/vbd the/at mayor/nn ,/, aides/nns ,/, and/cc members/nns of/in his/pp$ staff/nn were/bed "
    "working/vbg ./.",  # a list whose last item is followed by its verb
    "He/pps acted/vbd as/cs though/cs nothing/pn had/hvd happened/vbn ./.",  # "as though"
    "He/pps stayed/vbd home/nr because/rb of/in the/at rain/nn ./.",  # "because of" + noun
    "Many/ap years/nns have/hv passed/vbn since/cs he/pps came/vbd ./.",  # temporal "since"
    "He/pps left/vbd while/cs she/pps slept/vbd ,/, and/cc came/vbd back/rb ./.",  # the main clause resumes
    "While/cs in/in Paris/np ,/, he/pps met/vbd her/ppo ./.",  # no clause after "While"
    "He/pps said/vbd he/pps came/vbd and/cc went/vbd ./.",  # VP coordination inside a reported clause
    "``/`` I/ppss left/vbd ,/, but/cc he/pps stayed/vbd ''/'' ./.",  # quotation
    "He/pps left/vbd ;/. but/cc she/pps stayed/vbd ./.",  # a semicolon, not a comma, before the coordinator
    "He/pps lost/vbd it/ppo ;/. but/cc did/dod he/pps look/vb ,/, or/cc the/at woman/nn look/vb there/rn ?/.",  # or?
    "Although/cs it/pps rained/vbd ;/. we/ppss stayed/vbd ,/, we/ppss left/vbd ./.",  # which ends the clause?
    "He/pps left/vbd ,/, but/cc she/pps stayed/vbd",  # no final punctuation
    "So/rb it/pps was/bedz ,/, and/cc so/rb it/pps is/bez ./.",  # halves too short
]


@pytest.mark.parametrize("tagged", SKIPPED)
def test_rules_skip(tagged):
    assert fusion_rules.fuse(sent(tagged)) is None


@pytest.mark.parametrize("first, second, source, connective", [
    ("The/at plan/nn was/bedz simple/jj ./.", "However/rb ,/, nobody/pn liked/vbd it/ppo ./.",
     "The plan was simple. Nobody liked it.", "however"),
    ("He/pps tried/vbd hard/rb ./.", "But/cc he/pps failed/vbd again/rb ./.", "He tried hard. He failed again.", "but"),
    ("Prices/nns rose/vbd again/rb ./.", "As/cs a/at result/nn ,/, sales/nns fell/vbd sharply/rb ./.",
     "Prices rose again. Sales fell sharply.", "as a result"),
])
def test_pair_rule(first, second, source, connective):
    a, b = sent(first), sent(second)
    assert fusion_rules.fuse_pair(a, b) == Fusion(source, brown.text(a) + " " + brown.text(b), "PAIR_CONN", connective)


@pytest.mark.parametrize("second", [
    "However/wrb hard/jj he/pps tried/vbd ,/, he/pps failed/vbd ./.",  # "however" + adjective: no comma
    "Instead/rb ,/, to/to the/at park/nn ./.",  # no clause after the adverbial
    "But/cc ,/, he/pps said/vbd ,/, no/rb ./.",
])
def test_pair_rule_skips(second):
    assert fusion_rules.fuse_pair(sent("He/pps left/vbd early/rb ./."), sent(second)) is None


def test_fusions_of_a_document_in_order():
    doc = brown.Document("cz01", "test", [sent("The/at plan/nn was/bedz simple/jj ./."),
                                          sent("However/rb ,/, nobody/pn liked/vbd it/ppo ./."),
                                          sent("It/pps failed/vbd badly/rb ,/, and/cc the/at team/nn quit/vbd ./.")])
    made = list(fusion_rules.fusions(doc))
    assert [(f.rule, f.source) for f in made] == [
        ("PAIR_CONN", "The plan was simple. Nobody liked it."),
        ("SINGLE_S_COORD", "It failed badly. The team quit."),
    ]


# The rules added for DiscoFuse's other phenomena: (sentence, expected input, rule, connective).
MORE_SINGLE = [
    ("John/np ran/vbd home/nr ,/, but/cc he/pps fell/vbd down/rp ./.",
     "John ran home. John fell down.", "SINGLE_S_COORD_ANAPHORA", "but"),
    ("Mary/np stayed/vbd home/nr because/cs she/pps was/bedz sick/jj ./.",
     "Mary stayed home. Mary was sick.", "SINGLE_CONN_INNER_ANAPHORA", "because"),
    ("The/at game/nn went/vbd on/rp until/cs the/at sun/nn set/vbd ./.",
     "The game went on. The sun set.", "SINGLE_CONN_INNER", "until"),
    ("We/ppss kept/vbd going/vbg even/rb though/cs the/at road/nn was/bedz bad/jj ./.",
     "We kept going. The road was bad.", "SINGLE_CONN_INNER", "even though"),
    ("If/cs the/at rain/nn stops/vbz ,/, we/ppss will/md go/vb out/rp ./.",
     "The rain stops. We will go out.", "SINGLE_CONN_START", "if"),
    ("When/wrb he/pps came/vbd home/nr ,/, John/np sat/vbd down/rp ./.",
     "John came home. John sat down.", "SINGLE_CATAPHORA", "when"),
    ("He/pps met/vbd John/np Smith/np ,/, who/wps was/bedz a/at lawyer/nn ./.",
     "He met John Smith. John Smith was a lawyer.", "SINGLE_RELATIVE", "who"),
    ("The/at old/jj house/nn ,/, which/wdt stood/vbd on/in a/at hill/nn ,/, fell/vbd down/rp ./.",
     "The old house fell down. The old house stood on a hill.", "SINGLE_RELATIVE", "which"),
    ("John/np ,/, who/wps was/bedz tired/jj ,/, went/vbd to/in bed/nn ./.",
     "John went to bed. John was tired.", "SINGLE_RELATIVE", "who"),
    ("Miss/np Burke/np ,/, a/at graduate/nn of/in Vassar/np ,/, stayed/vbd on/rp in/in Florence/np ./.",
     "Miss Burke was a graduate of Vassar. Miss Burke stayed on in Florence.", "SINGLE_APPOSITION", ""),
    ("Smith/np ,/, the/at new/jj coach/nn ,/, says/vbz the/at team/nn is/bez ready/jj ./.",
     "Smith is the new coach. Smith says the team is ready.", "SINGLE_APPOSITION", ""),
    # a semicolon elsewhere in the sentence does not stop a rule
    ("He/pps came/vbd home/nr ;/. she/pps left/vbd ,/, but/cc he/pps stayed/vbd there/rn ./.",
     "He came home; she left. He stayed there.", "SINGLE_S_COORD", "but"),
]


@pytest.mark.parametrize("tagged, source, rule, connective", MORE_SINGLE)
def test_more_single_sentence_rules(tagged, source, rule, connective):
    tokens = sent(tagged)
    assert fusion_rules.fuse(tokens) == Fusion(source, brown.text(tokens), rule, connective)


MORE_SKIPPED = [
    # the pronoun could mean Bill as well as John: plain SINGLE_S_COORD, the pronoun kept
    ("John/np met/vbd Bill/np ,/, and/cc he/pps smiled/vbd at/in him/ppo ./.", "SINGLE_S_COORD"),
    # "Mrs." is never "he": no cataphora, the plain SINGLE_CONN_START
    ("When/wrb he/pps looked/vbd in/rp ,/, Mrs./np Parker/np was/bedz reading/vbg ./.", "SINGLE_CONN_START"),
    # "if" inside a sentence is mostly "whether": not split
    ("He/pps asked/vbd if/cs she/pps was/bedz ready/jj ./.", None),
    # "of the weather, which": the clause may describe the estimate or the weather
    ("He/pps gave/vbd his/pp$ estimate/nn of/in the/at weather/nn ,/, which/wdt was/bedz poor/jj ./.", None),
    # "who lift" does not agree with "God": the clause is about "those"
    ("Those/dts are/ber likely/jj to/to prevail/vb with/in God/np ,/, who/wps lift/vb up/rp their/pp$ hearts/nns ./.",
     None),
    # a final ", which" may describe the whole clause
    ("Emma/np was/bedz not/* thinking/vbg of/in it/ppo at/in the/at moment/nn ,/, which/wdt made/vbd it/ppo "
     "easy/jj ./.", None),
    # an object relative ("which he bought") would need the clause reordered
    ("They/ppss sold/vbd the/at house/nn ,/, which/wdt he/pps bought/vbd ./.", None),
    # an apposition without an article, or followed by a list, is not taken
    ("Smith/np ,/, coach/nn ,/, left/vbd early/rb ./.", None),
    ("John/np ,/, a/at lawyer/nn ,/, and/cc Mary/np left/vbd ./.", None),
    # "--" before the connective would leave a dangling dash
    ("He/pps stayed/vbd for/in one/cd reason/nn --/-- because/cs he/pps was/bedz tired/jj ./.", None),
]


@pytest.mark.parametrize("tagged, rule", MORE_SKIPPED)
def test_more_rules_skip_what_is_ambiguous(tagged, rule):
    made = fusion_rules.fuse(sent(tagged))
    assert (made and made.rule) == rule


@pytest.mark.parametrize("first, second, source, rule, connective", [
    ("John/np Smith/np left/vbd early/rb ./.", "He/pps was/bedz tired/jj ./.",
     "John Smith left early. John Smith was tired.", "PAIR_ANAPHORA", ""),
    ("The/at old/jj machine/nn stopped/vbd again/rb ./.", "It/pps needed/vbd oil/nn ./.",
     "The old machine stopped again. The old machine needed oil.", "PAIR_ANAPHORA", ""),
    ("Lucy/np was/bedz lively/jj ./.", "Moreover/rb ,/, she/pps had/hvd vigor/nn ./.",
     "Lucy was lively. Lucy had vigor.", "PAIR_CONN_ANAPHORA", "moreover"),
    ("The/at king/nn rose/vbd ./.", "Then/rb the/at people/nns sat/vbd down/rp ./.",
     "The king rose. The people sat down.", "PAIR_CONN", "then"),
    ("Praise/vb the/at Lord/np ./.", "For/cs his/pp$ mercy/nn endures/vbz forever/rb ./.",
     "Praise the Lord. His mercy endures forever.", "PAIR_CONN", "for"),
    # quotations and colons are no obstacle to the pair rules, which only touch the start of the second
    ("He/pps said/vbd ,/, ``/`` Go/vb home/nr ./. ''/''", "But/cc she/pps stayed/vbd :/: it/pps rained/vbd ./.",
     'He said, "Go home." She stayed: it rained.', "PAIR_CONN", "but"),
])
def test_more_pair_rules(first, second, source, rule, connective):
    a, b = sent(first), sent(second)
    assert fusion_rules.fuse_pair(a, b) == Fusion(source, brown.text(a) + " " + brown.text(b), rule, connective)


@pytest.mark.parametrize("first, second", [
    ("John/np met/vbd Mary/np ./.", "She/pps smiled/vbd ./."),  # two names: "she" may be either
    ("The/at box/nn was/bedz on/in the/at table/nn ./.", "It/pps fell/vbd off/rp ./."),  # box or table?
    ("The/at storm/nn passed/vbd quickly/rb ./.", "It/pps was/bedz late/jj ./."),  # the empty "it" of "it was late"
    ("Mrs./np Reese/np entered/vbd the/at contest/nn ./.", "He/pps won/vbd easily/rb ./."),  # Mrs. is not "he"
    ("He/pps said/vbd ,/, ``/`` Go/vb home/nr ./.", "But/cc she/pps stayed/vbd ./."),  # a quotation left open
])
def test_pair_anaphora_skips(first, second):
    assert fusion_rules.fuse_pair(sent(first), sent(second)) is None


def test_every_rule_name_is_a_discofuse_discourse_type():
    made = [fusion_rules.fuse(sent(t)) for t, *_ in SINGLE + MORE_SINGLE]
    assert {m.rule for m in made} <= set(fusion_rules.DISCOURSE_TYPES)
