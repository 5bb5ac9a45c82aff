"""Brown: the reader on a fixture in the NLTK format, the detokenizer, and each fusion rule on hand-picked
sentences (tagged as Brown tags them), including sentences the rules must skip."""
import pytest

from bertgen.data import brown, load_task, registry
from bertgen.data.brown import Fusion


def sent(tagged: str) -> brown.Sentence:
    return brown.parse_sentence(tagged)[0]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))


def test_reader_reads_documents_genres_and_drops_headlines(tmp_path):
    root = tmp_path / "brown"
    root.mkdir()
    (root / "ca01").write_text(
        "\n\n\tThe/at jury/nn said/vbd it/pps did/dod find/vb ./.\n\n\n"
        "\tFulton/np-tl Jury/nn-tl Report/nn-hl\n"
        "\tIt/pps was/bedz late/jj ./.\n\tWe/ppss left/vbd ./.\n\n")
    (root / "cr09").write_text("\n\n\tHa/uh !/.\n")
    (root / "notes.txt").write_text("not a Brown file")
    (root / "cats.txt").write_text("ca01 news\ncr09 humor\n")
    docs = list(brown.read_corpus(root))
    assert [(d.id, d.genre) for d in docs] == [("ca01", "news"), ("cr09", "humor")]
    assert [brown.text(s) for s in docs[0].sentences] == ["The jury said it did find.", "It was late.", "We left."]
    assert docs[0].sentences[0][:2] == [("The", "at"), ("jury", "nn")]


def test_reader_errors_name_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Brown files.*bertgen data fetch brown"):
        list(brown.read_corpus(tmp_path))
    (tmp_path / "ca01").write_text("\tbroken ./.\n")
    with pytest.raises(ValueError, match="'broken' is not word/tag"):
        list(brown.read_corpus(tmp_path))


@pytest.mark.parametrize("tag, base", [("nn-tl-hl", "nn"), ("fw-jj", "jj"), ("---hl", "--"), ("pps+bez", "pps+bez"),
                                       ("md*", "md*"), (".-hl", ".")])
def test_base_tag(tag, base):
    assert brown.base_tag(tag) == base


@pytest.mark.parametrize("words, text", [
    (["``", "Hello", ",", "''", "he", "said", "."], '"Hello," he said.'),
    (["(", "see", "above", ")", "and", "`", "this", "'", "--", "ok", "?"], "(see above) and 'this' -- ok?"),
    (["Brevard", ",", "N.", "C.", "."], "Brevard, N. C."),
    (["It", "rose", "5", "%", ";", "prices", ":", "$", "3", "!"], "It rose 5%; prices: $3!"),
])
def test_detokenize(words, text):
    assert brown.detokenize(words) == text


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
    assert brown.is_clause(sent(tagged)) is clause


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
    assert brown.fuse(tokens) == Fusion(source, brown.text(tokens), rule, connective)


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
    "He/pps left/vbd ;/. but/cc she/pps stayed/vbd ./.",  # semicolon
    "He/pps left/vbd ,/, but/cc she/pps stayed/vbd",  # no final punctuation
    "So/rb it/pps was/bedz ,/, and/cc so/rb it/pps is/bez ./.",  # halves too short
]


@pytest.mark.parametrize("tagged", SKIPPED)
def test_rules_skip(tagged):
    assert brown.fuse(sent(tagged)) is None


@pytest.mark.parametrize("first, second, source, connective", [
    ("The/at plan/nn was/bedz simple/jj ./.", "However/rb ,/, nobody/pn liked/vbd it/ppo ./.",
     "The plan was simple. Nobody liked it.", "however"),
    ("He/pps tried/vbd hard/rb ./.", "But/cc he/pps failed/vbd again/rb ./.", "He tried hard. He failed again.", "but"),
    ("Prices/nns rose/vbd again/rb ./.", "As/cs a/at result/nn ,/, sales/nns fell/vbd sharply/rb ./.",
     "Prices rose again. Sales fell sharply.", "as a result"),
])
def test_pair_rule(first, second, source, connective):
    a, b = sent(first), sent(second)
    assert brown.fuse_pair(a, b) == Fusion(source, brown.text(a) + " " + brown.text(b), "PAIR_CONN", connective)


@pytest.mark.parametrize("second", [
    "However/wrb hard/jj he/pps tried/vbd ,/, he/pps failed/vbd ./.",  # "however" + adjective: no comma
    "Instead/rb ,/, to/to the/at park/nn ./.",  # no clause after the adverbial
    "But/cc ,/, he/pps said/vbd ,/, no/rb ./.",
])
def test_pair_rule_skips(second):
    assert brown.fuse_pair(sent("He/pps left/vbd early/rb ./."), sent(second)) is None


def test_fusions_of_a_document_in_order():
    doc = brown.Document("cz01", "test", [sent("The/at plan/nn was/bedz simple/jj ./."),
                                          sent("However/rb ,/, nobody/pn liked/vbd it/ppo ./."),
                                          sent("It/pps failed/vbd badly/rb ,/, and/cc the/at team/nn quit/vbd ./.")])
    made = list(brown.fusions(doc))
    assert [(f.rule, f.source) for f in made] == [
        ("PAIR_CONN", "The plan was simple. Nobody liked it."),
        ("SINGLE_S_COORD", "It failed badly. The team quit."),
    ]


def test_brown_tasks_from_the_shipped_sample():
    fusion = load_task("brown-fusion", data_dir=brown.SAMPLE_DIR)
    split = load_task("brown-split", data_dir=brown.SAMPLE_DIR)
    assert fusion["train"].column_names == ["source", "target", "rule", "connective", "doc"]
    rules = set().union(*(ds["rule"] for ds in fusion.values()))
    assert rules == {"PAIR_CONN", "SINGLE_S_COORD", "SINGLE_CONN_INNER", "SINGLE_CONN_START", "SINGLE_VP_COORD"}
    # every document lies wholly in the split its id hashes to
    for name, ds in fusion.items():
        assert {registry.split_of(d) for d in ds["doc"]} <= {name}
    # brown-split is the single-sentence fusions reversed
    singles = {(r["target"], r["source"]) for ds in fusion.values() for r in ds if r["rule"] != "PAIR_CONN"}
    assert {(r["source"], r["target"]) for ds in split.values() for r in ds} == singles
    # targets are real sentences: each target of a single rule occurs verbatim in the detokenized sample
    text = {brown.text(s) for d in brown.read_corpus(brown.SAMPLE_DIR) for s in d.sentences}
    assert set(split["train"]["source"]) <= text
