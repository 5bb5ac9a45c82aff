"""Ding: a small dictionary written here in dictd's format (gzip data + base64-offset index), as Debian's
dict-de-en lays out english-german, read back into sentence pairs."""
import gzip

import pytest

from bertgen.data import load_task

from bertgen.data.corpora import ding

ENTRIES = [  # (index headwords, entry text) in file order
    (["00-database-short"], "00-database-short\n     English - German Dictionary devel 2023-01-30\n"),
    (["a major"], "A major\n\n   A-Dur {n}\n"),
    (["he recruited three of his friends to help him move", "recruited"],
     "He recruited three of his friends to help him move.\n\n   Er hat sich drei seiner Freunde geholt, damit sie "
     "ihm beim Umzug\nhelfen.\n"),
    (["you can rely on me"],
     "You can rely on me.\n\n   Du kannst dich auf mich verlassen; Du kannst auf mich zählen.\n"),
    (["a friend in need is a friend indeed"],
     "A friend in need is a friend indeed.\n [prov.]\n   Der wahre Freund zeigt sich erst in der Not. [Sprw.]\n"),
    (["this word is derived from latin"], "This word is derived from Latin.\n\n   Dieses Wort kommt/stammt aus dem "
                                          "Lateinischen.\n"),
    (["desirous of sth to do sth"], "Desirous of sth./to do sth.\n\n   Geleitet von dem Wunsch, etw. zu tun.\n"),
    (["it s all a fraud"], "It’s all a fraud!\n\n   Das ist Betrug!\n"),
    (["what s the date today"], "What's the date today?\n\n   Den wievielten haben wir heute?\n"),
    (["go on"], "Go on!\n\n   Weiter!\n"),  # too short to count as a sentence
    (["the name of was mentioned"], "The name of … was mentioned.\n\n   Der Name … wurde erwähnt.\n"),
]


def b64(n: int) -> str:
    digits = ""
    while True:
        digits = ding.B64[n % 64] + digits
        n //= 64
        if n == 0:
            return digits


@pytest.fixture
def dictd(tmp_path):
    data, index = b"", []
    for headwords, text in ENTRIES:
        raw = text.encode("utf-8")
        index += [f"{h}\t{b64(len(data))}\t{b64(len(raw))}" for h in headwords]
        data += raw
    with gzip.open(tmp_path / ding.DICT, "wb") as f:
        f.write(data)
    (tmp_path / ding.INDEX).write_text("\n".join(sorted(index)) + "\n", encoding="utf-8")
    return tmp_path


def test_b64_decode():
    assert ding.b64_decode("A") == 0 and ding.b64_decode("BA") == 64 and ding.b64_decode("Bj9GP") == 26_202_511


def test_read_entries_unwraps_and_skips_metadata(dictd):
    entries = list(ding.read_entries(dictd))
    assert entries[0] == ("A major", "", "A-Dur {n}")
    assert entries[1] == ("He recruited three of his friends to help him move.", "",
                          "Er hat sich drei seiner Freunde geholt, damit sie ihm beim Umzug helfen.")
    assert entries[3][1] == "[prov.]"
    assert len(entries) == len(ENTRIES) - 1  # one entry per span even when two headwords share it


def test_sentence_pairs(dictd):
    assert list(ding.sentence_pairs(dictd)) == [
        ("He recruited three of his friends to help him move.",
         "Er hat sich drei seiner Freunde geholt, damit sie ihm beim Umzug helfen."),
        ("You can rely on me.", "Du kannst dich auf mich verlassen."),  # first alternative, punctuated
        ("A friend in need is a friend indeed.", "Der wahre Freund zeigt sich erst in der Not."),  # label dropped
        ("It’s all a fraud!", "Das ist Betrug!"),
        ("What's the date today?", "Den wievielten haben wir heute?"),
    ]  # skipped: words and phrases, "kommt/stammt" alternatives, "sth." and "…" placeholders, "Go on!"


def test_ding_task(dictd, tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    dsd = load_task("ding-en-de", data_dir=dictd)
    assert sum(len(ds) for ds in dsd.values()) == 5
    assert dsd["train"].column_names == ["source", "target", "doc"]


def test_missing_files_say_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match="bertgen data fetch ding"):
        list(ding.read_entries(tmp_path))
