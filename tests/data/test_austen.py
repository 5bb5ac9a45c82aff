"""janeaustenr's lazy-load database read in plain Python, from a small one written here in R's format."""
import gzip

import pytest
from tests.support.rdata_files import write_janeaustenr

from bertgen.data.corpora import austen

NOVEL = ["PERSUASION", "", "by Jane Austen", "", "Chapter 1", "", "Sir Walter Elliot, of Kellynch Hall,",
         "was a man who read the Baronetage.", "", "He was vain.", "", "", "CHAPTER 2", "", "Mr. Shepherd spoke.",
         None]


@pytest.fixture
def package(tmp_path):
    novels = {name: ["CHAPTER 1", f"The first line of {name}."] for name in austen.NOVELS}
    novels["persuasion"] = NOVEL
    write_janeaustenr(tmp_path / "janeaustenr", novels)
    return tmp_path / "janeaustenr"


def test_novels_are_read_from_the_lazy_load_database(package):
    novels = austen.novels(package)
    assert list(novels) == list(austen.NOVELS)
    assert novels["persuasion"] == NOVEL  # NA_character_ comes back as None
    assert austen.novels(package / "data")["emma"] == ["CHAPTER 1", "The first line of emma."]


def test_chapters_join_lines_into_paragraphs(package):
    chapters = dict(austen.chapters(package))
    assert chapters["persuasion.1"] == ["Sir Walter Elliot, of Kellynch Hall, was a man who read the Baronetage.",
                                        "He was vain."]
    assert chapters["persuasion.2"] == ["Mr. Shepherd spoke."]  # the title page before chapter 1 is left out
    assert chapters["emma.1"] == ["The first line of emma."]


def test_errors_say_what_is_wrong(package, tmp_path):
    with pytest.raises(FileNotFoundError, match="no janeaustenr data.*bertgen data fetch austen"):
        austen.novels(tmp_path / "nowhere")
    (package / "data" / "Rdata.rdx").write_bytes(gzip.compress(b"RDX2\n"))
    with pytest.raises(ValueError, match=r"Rdata.rdx: not an R XDR serialization"):
        austen.novels(package)
