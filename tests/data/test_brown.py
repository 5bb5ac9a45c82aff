"""Brown: the reader on a fixture in the NLTK format, the detokenizer, and the Brown tasks built from the
shipped sample (the rules themselves: test_data_fusion_rules.py)."""
import pytest

from bertgen.data import load_task, registry

from bertgen.data.corpora import brown

from bertgen.data.fusion import rules as fusion_rules


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


def test_brown_tasks_from_the_shipped_sample():
    fusion = load_task("brown-fusion", data_dir=brown.SAMPLE_DIR)
    split = load_task("brown-split", data_dir=brown.SAMPLE_DIR)
    assert fusion["train"].column_names == ["source", "target", "rule", "connective", "doc"]
    rules = set().union(*(ds["rule"] for ds in fusion.values()))
    assert {"PAIR_CONN", "SINGLE_S_COORD", "SINGLE_CONN_INNER", "SINGLE_CONN_START", "SINGLE_VP_COORD"} <= rules
    assert rules <= set(fusion_rules.DISCOURSE_TYPES)
    # every document lies wholly in the split its id hashes to
    for name, ds in fusion.items():
        assert {registry.split_of(d) for d in ds["doc"]} <= {name}
    # brown-split is the single-sentence fusions reversed
    singles = {(r["target"], r["source"]) for ds in fusion.values() for r in ds if r["rule"].startswith("SINGLE_")}
    assert {(r["source"], r["target"]) for ds in split.values() for r in ds} == singles
    # targets are real sentences: each target of a single rule occurs verbatim in the detokenized sample
    text = {brown.text(s) for d in brown.read_corpus(brown.SAMPLE_DIR) for s in d.sentences}
    assert set(split["train"]["source"]) <= text
