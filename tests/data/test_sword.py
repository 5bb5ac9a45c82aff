"""SWORD zText: tiny modules written here in the real binary format (struct-packed indexes, zlib blocks),
with OSIS markup as the KJV and WEB modules carry it, read back and aligned by reference."""
import pytest
from tests.support.sword_modules import IMPORTER, book, chapter, write_ztext

from bertgen.data import load_task

from bertgen.data.corpora import sword

KJV_GEN_1_1 = ('In the <w lemma="strong:H7225">beginning</w> <w lemma="strong:H0430">God</w> created the heaven '
               'and the earth. ')
KJV_GEN_1_2 = ('<div type="x-milestone" subType="x-preverse" sID="pv1"/><div sID="gen4" type="x-p"/> '
               '<div type="x-milestone" subType="x-preverse" eID="pv1"/>¶ And the earth was without form; and '
               'darkness <transChange type="added">was</transChange> upon the face of the deep.<note '
               'placement="foot"><reference type="annotateRef">1:2 </reference>Or, void.</note> '
               '<chapter eID="Gen.1"/>')
WEB_GEN_1_1 = ('<w lemma="strong:H0430">In</w> the beginning, God<note placement="foot"><reference '
               'type="annotateRef">1:1 </reference>The Hebrew word rendered “God” is “Elohim”.</note> created '
               'the heavens and the earth.')
WEB_GEN_1_2 = ('The earth was formless and empty. <l level="1" sID="x1"/>Darkness was on the surface '
               '&amp; the deep<l eID="x1"/>.')


@pytest.fixture
def modules(tmp_path):
    """A KJV-like module (Gen 1:1-2, Exod 1:1; Matt 1:1) and a WEB-like one whose versification has an
    extra verse (Gen 1:3), a book between (Tob) and a neighbouring entry holding a whole extra book
    (several chapters' milestones), as WEB's Greek Daniel does."""
    kjv, web = tmp_path / "modules/texts/ztext/engKJV2006eb", tmp_path / "modules/texts/ztext/engWEB2015eb"
    write_ztext(kjv, "ot", [[book("Gen"), chapter("Gen", 1), KJV_GEN_1_1, KJV_GEN_1_2],
                            [book("Exod"), chapter("Exod", 1), "Now these <divineName>Lord</divineName> names."]])
    write_ztext(kjv, "nt", [[book("Matt"), chapter("Matt", 1), "The book of the generation."]])
    dumped = ('<div osisID="GenGr" type="book"/><chapter n="1" osisID="GenGr.1" sID="GenGr.1"/>Extra one.'
              '<chapter n="2" osisID="GenGr.2" sID="GenGr.2"/>Extra two.')
    write_ztext(web, "ot", [[book("Gen"), chapter("Gen", 1), WEB_GEN_1_1, WEB_GEN_1_2, "Light.", ""],
                            [book("Tob"), chapter("Tob", 1), "Tobit verse."],
                            [dumped, chapter("Exod", 1), "These are the names."]])
    return kjv, web


def test_read_entries_follows_the_index(modules):
    kjv, _ = modules
    entries = sword.read_entries(kjv, "ot")
    assert entries[:2] == ["", IMPORTER]
    assert entries[4] == KJV_GEN_1_1
    assert len(entries) == 9


def test_strip_markup_keeps_verse_text_only():
    assert sword.strip_markup(KJV_GEN_1_2) == ("And the earth was without form; and darkness was upon the "
                                               "face of the deep.")
    assert sword.strip_markup(WEB_GEN_1_1) == "In the beginning, God created the heavens and the earth."
    assert sword.strip_markup(WEB_GEN_1_2) == ("The earth was formless and empty. Darkness was on the surface "
                                               "& the deep.")


def test_verses_are_numbered_from_the_chapter_milestones(modules):
    kjv, web = modules
    assert list(sword.verses(kjv)) == [
        (("Gen", 1, 1), "In the beginning God created the heaven and the earth."),
        (("Gen", 1, 2), "And the earth was without form; and darkness was upon the face of the deep."),
        (("Exod", 1, 1), "Now these Lord names."),
        (("Matt", 1, 1), "The book of the generation."),
    ]
    assert [ref for ref, _ in sword.verses(web)] == [("Gen", 1, 1), ("Gen", 1, 2), ("Gen", 1, 3), ("Tob", 1, 1),
                                                    ("Exod", 1, 1)]


def test_parallel_aligns_by_reference(modules):
    kjv, web = modules
    pairs = list(sword.parallel(kjv, web))
    assert [ref for ref, _, _ in pairs] == [("Gen", 1, 1), ("Gen", 1, 2), ("Exod", 1, 1)]
    assert pairs[2][1:] == ("Now these Lord names.", "These are the names.")


def test_bible_modern_task(modules, tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    dsd = load_task("bible-modern", data_dir=modules[0].parents[3])
    rows = [r for ds in dsd.values() for r in ds]
    assert sorted(r["ref"] for r in rows) == ["Exod.1.1", "Gen.1.1", "Gen.1.2"]
    assert {r["doc"] for r in rows} == {"Gen.1", "Exod.1"}
    gen = next(r for r in rows if r["ref"] == "Gen.1.1")
    assert (gen["source"], gen["target"]) == ("In the beginning God created the heaven and the earth.",
                                              "In the beginning, God created the heavens and the earth.")


def test_broken_modules_are_clear_errors(modules, tmp_path):
    kjv, _ = modules
    (kjv / "nt.bzz").unlink()
    with pytest.raises(FileNotFoundError, match=r"nt\.bzz is missing"):
        list(sword.verses(kjv))
    (kjv / "ot.bzv").write_bytes(b"\0" * 15)
    with pytest.raises(ValueError, match="not a whole number of 10-byte records"):
        sword.read_entries(kjv, "ot")


def test_commentary_reads_distinct_entries_as_paragraphs(tmp_path):
    """A zCom commentary, here in the zVerse4 layout (.czs/.czv/.czz, 32-bit sizes) as the Treasury of David
    has it: a heading (bold) and an outline (table) are dropped, x-p divisions split paragraphs, and an entry
    shared by several verses comes once."""
    module = tmp_path / "tdavid"
    comment = ('<title type="x-s">Psalm 1</title><hi type="bold">Verses 1-2</hi> <div sID="g1" type="x-p"/>'
               'The man is <hi type="italic">blessed</hi>. He walks.<div eID="g1" type="x-p"/>'
               '<div sID="g2" type="x-p"/><table><row><cell>Outline.</cell></row></table>Second part.')
    write_ztext(module, "ot", [[comment, comment, "", "Another comment."]], four=True)
    assert (module / "ot.czv").stat().st_size == 12 * 6
    assert list(sword.commentary(module)) == [("ot.2", ["The man is blessed. He walks.", "Second part."]),
                                             ("ot.5", ["Another comment."])]
    with pytest.raises(FileNotFoundError, match="no zCom module.*bertgen data fetch commentaries"):
        list(sword.commentary(tmp_path))
