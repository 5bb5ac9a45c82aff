"""The Brown tagger: accuracy on a held-out document of the shipped Brown sample, and its JSON cache."""
import json

import pytest

from bertgen.data.corpora import brown

from bertgen.data.fusion import tagger


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def sample():
    """The shipped sample's documents, and a tagger trained on all but the last."""
    docs = list(brown.read_corpus(brown.SAMPLE_DIR))
    return docs, tagger.Tagger.train([s for d in docs[:-1] for s in d.sentences], iterations=3, progress=False)


def test_accuracy_on_a_held_out_document(sample):
    """Trained on 7 of the sample's 8 documents (~18k words) it gets about 9 in 10 tags of the 8th right
    (on the whole corpus, trained on 9 in 10 documents: about 97%)."""
    docs, model = sample
    assert model.accuracy(docs[-1].sentences) > 0.87
    assert model.accuracy(docs[0].sentences) > 0.97  # and it has learned its training text
    words = [w for w, _ in docs[-1].sentences[3]]
    assert len(model.tag(words)) == len(words)


def test_common_words_and_unknown_words(sample):
    _, model = sample
    assert model.tag("The man said that he was old .".split()) == ["at", "nn", "vbd", "cs", "pps", "bedz", "jj",
                                                                     "."]
    # never-seen words are tagged from their shape, suffix and neighbours
    assert model.tag("The zorbles glimped .".split())[1] == "nns"
    assert model.tag("Mr. Quaxley left .".split())[:2] == ["np", "np"]


def test_load_trains_once_and_caches_json(home, monkeypatch):
    two_documents = [s for d in list(brown.read_corpus(brown.SAMPLE_DIR))[:2] for s in d.sentences]
    monkeypatch.setattr(tagger, "held_out_split", lambda root: (two_documents, []))  # to train in a second
    model = tagger.Tagger.load(brown.SAMPLE_DIR, progress=False)
    cached = list((home / "tagger").glob("brown-*.json"))
    assert len(cached) == 1
    data = json.loads(cached[0].read_text())  # plain JSON, never pickle
    assert set(data) == {"classes", "tagdict", "weights"} and data["tagdict"]["the"] == "at"
    again = tagger.Tagger.load(brown.SAMPLE_DIR, progress=False)
    words = "It was a long day and nobody came .".split()
    assert again.tag(words) == model.tag(words) and again.weights == model.weights


def test_load_without_brown_says_how_to_fetch():
    with pytest.raises(FileNotFoundError, match="bertgen data fetch brown"):
        tagger.Tagger.load()
