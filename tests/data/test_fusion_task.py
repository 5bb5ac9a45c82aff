"""The multi-corpus `fusion` task, built from small fixture corpora: Brown (the shipped sample), a one-chapter
World English Bible, one-chapter Austen novels and two tiny commentaries, tagged by a tagger trained on the
sample."""
import pytest
from tests.support.rdata_files import write_janeaustenr
from tests.support.sword_modules import book, chapter, write_ztext

from bertgen.data import load_task, registry

from bertgen.data.corpora import austen, brown

WEB = ["John saw the light, and he divided the light from the darkness.", "Mary was very tired.",
       "She slept in the field.", "The man was tired, but the boy played in the field."]
TDAVID = ["The king was proud, but the people were poor in the land.",
          "When the rain came, the fields grew green again."]
KJV = "The king was old, and the people were afraid of his anger."
EMMA = ["CHAPTER 1", "", "Emma was very happy, but the house was quiet.", "", "Emma sat by the fire and she"
        " waited.", "", "The letter, which came in the morning, was short."]
MHCC = ["The king was proud, but the people were poor in the land.",  # the same source: kept once
        "The servant worked hard because the master was strict with him."]


@pytest.fixture
def corpora(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    bible = tmp_path / "bible"
    write_ztext(bible / "engWEB2015eb", "ot", [[book("Gen"), chapter("Gen", 1), *WEB]])
    write_ztext(bible / "engKJV2006eb", "ot", [[book("Gen"), chapter("Gen", 1), KJV]])
    comments = tmp_path / "commentaries"
    write_ztext(comments / "tdavid", "ot", [[" ".join(TDAVID)]], four=True)
    write_ztext(comments / "mhcc", "ot", [[MHCC[0], MHCC[1]]])
    write_janeaustenr(tmp_path / "austen" / "janeaustenr", {name: EMMA if name == "emma" else ["CHAPTER 1", "Hm."]
                                                            for name in austen.NOVELS})
    return {"brown": brown.SAMPLE_DIR, "bible": bible, "austen": tmp_path / "austen", "commentaries": comments}


def test_fusion_draws_on_every_corpus_with_document_splits(corpora):
    dsd = load_task("fusion", data_dir=corpora)
    assert dsd["train"].column_names == ["source", "target", "rule", "connective", "corpus", "doc"]
    rows = [r for ds in dsd.values() for r in ds]
    assert {r["corpus"] for r in rows} == {"brown", "web", "kjv", "austen", "tdavid", "mhcc"}
    sources = [r["source"] for r in rows]
    assert len(sources) == len(set(sources))  # no source twice, so none in two splits
    for split, ds in dsd.items():  # every document wholly in the split its id hashes to
        assert {registry.split_of(d) for d in ds["doc"]} <= {split}
    made = {(r["corpus"], r["rule"], r["source"], r["target"]) for r in rows if r["corpus"] != "brown"}
    assert ("web", "SINGLE_S_COORD_ANAPHORA", "John saw the light. John divided the light from the darkness.",
            WEB[0]) in made
    assert ("web", "PAIR_ANAPHORA", "Mary was very tired. Mary slept in the field.",
            " ".join(WEB[1:3])) in made
    assert ("kjv", "SINGLE_S_COORD", "The king was old. The people were afraid of his anger.", KJV) in made
    assert ("austen", "SINGLE_S_COORD", "Emma was very happy. The house was quiet.", EMMA[2]) in made
    assert ("austen", "SINGLE_RELATIVE", "The letter was short. The letter came in the morning.", EMMA[6]) in made
    assert ("tdavid", "SINGLE_CONN_START", "The rain came. The fields grew green again.", TDAVID[1]) in made
    assert ("mhcc", "SINGLE_CONN_INNER", "The servant worked hard. The master was strict with him.",
            MHCC[1]) in made
    assert [r["corpus"] for r in rows if r["target"] == MHCC[0]] == ["tdavid"]
    # Brown keeps its document ids, so a Brown file is in the same split as in brown-fusion
    alone = load_task("brown-fusion", data_dir=brown.SAMPLE_DIR)
    assert {(r["doc"], r["source"]) for r in rows if r["corpus"] == "brown"} == {
        (r["doc"], r["source"]) for ds in alone.values() for r in ds}
    assert {r["doc"] for r in rows if r["corpus"] in ("web", "kjv")} == {"Gen.1"}
    assert {r["doc"] for r in rows if r["corpus"] == "austen"} == {"emma.1"}


def test_fusion_says_which_corpora_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError, match=r"fusion is built from brown, bible, austen, commentaries.*"
                       r"`bertgen data fetch brown`.*`bertgen data fetch bible`.*`bertgen data fetch austen`.*"
                       r"`bertgen data fetch commentaries`.*`bertgen data fetch fusion` fetches all of them"):
        load_task("fusion")


def test_fusion_data_dir_names_each_corpus(corpora):
    with pytest.raises(ValueError, match="pass data_dir as a mapping"):
        load_task("fusion", data_dir=brown.SAMPLE_DIR)
    with pytest.raises(ValueError, match="it needs a directory for each of brown, bible, austen, commentaries"):
        load_task("fusion", data_dir={"brown": brown.SAMPLE_DIR})
