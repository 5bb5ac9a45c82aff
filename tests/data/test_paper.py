"""The paper's datasets: each field mapping on small local files written here in the dataset's real schema
(column names and types as on the hub), the local-copy layouts, and the offline error."""
import json

import datasets
import huggingface_hub.constants
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bertgen.data import load_task

DISCOFUSE_ROW = {"connective_string": "however", "discourse_type": "PAIR_CONN",
                 "coherent_second_sentence": "However, he lost.", "has_coref_type_pronoun": 1.0,
                 "incoherent_first_sentence": "He ran.", "incoherent_second_sentence": "He lost.",
                 "has_coref_type_nominal": 0.0, "coherent_first_sentence": "He ran."}
DISCOFUSE_SINGLE = {**DISCOFUSE_ROW, "discourse_type": "SINGLE_S_COORD", "connective_string": "but",
                    "coherent_first_sentence": "He ran, but he lost.", "coherent_second_sentence": ""}

CASES = {  # task: (rows in the real schema, expected (source, target) of the first row)
    "discofuse-wikipedia": ([DISCOFUSE_ROW, DISCOFUSE_SINGLE], ("He ran. He lost.", "He ran. However, he lost.")),
    "discofuse-sports": ([DISCOFUSE_SINGLE], ("He ran. He lost.", "He ran, but he lost.")),
    "wikisplit": ([{"complex_sentence": "He ran and lost .", "simple_sentence_1": "He ran .",
                    "simple_sentence_2": "He lost ."}], ("He ran and lost .", "He ran . He lost .")),
    "wmt14-de-en": ([{"translation": {"de": "Guten Morgen.", "en": "Good morning."}}],
                    ("Guten Morgen.", "Good morning.")),
    "wmt14-en-de": ([{"translation": {"de": "Guten Morgen.", "en": "Good morning."}}],
                    ("Good morning.", "Guten Morgen.")),
    "gigaword": ([{"document": "australia 's current account deficit shrunk ...", "summary": "deficit shrinks"}],
                 ("australia 's current account deficit shrunk ...", "deficit shrinks")),
    "cnn-dailymail": ([{"article": "LONDON (CNN) -- A story.", "highlights": "A story .\nAnother point .",
                        "id": "0001d1afc246a7964130f43ae940af6bc6c57f01"}],
                      ("LONDON (CNN) -- A story.", "A story .\nAnother point .")),
    "xsum": ([{"document": "The full cost of damage ...", "summary": "Clean-up operations are continuing.",
               "id": "35232142"}], ("The full cost of damage ...", "Clean-up operations are continuing.")),
}


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No test may reach the hub: with these set, `datasets` fails at once instead of retrying."""
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def write_parquet(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_mapping_on_local_files(name, fmt, tmp_path):
    rows, (source, target) = CASES[name]
    write = write_parquet if fmt == "parquet" else write_jsonl
    files = {split: write(tmp_path / f"{split}.{fmt}", rows) for split in ("train", "validation", "test")}
    dsd = load_task(name, data_files=files)
    assert set(dsd) == {"train", "validation", "test"}
    assert (dsd["test"][0]["source"], dsd["test"][0]["target"]) == (source, target)
    extras = ["rule", "connective"] if name.startswith("discofuse") else []
    assert dsd["train"].column_names == ["source", "target", *extras]


def test_discofuse_keeps_discourse_type_as_rule(tmp_path):
    path = write_parquet(tmp_path / "train.parquet", [DISCOFUSE_ROW, DISCOFUSE_SINGLE])
    ds = load_task("discofuse-wikipedia", data_files={"train": path})["train"]
    assert ds["rule"] == ["PAIR_CONN", "SINGLE_S_COORD"] and ds["connective"] == ["however", "but"]


def test_local_copy_of_a_hub_repository(tmp_path):
    rows = CASES["cnn-dailymail"][0]
    for split in ("train", "validation", "test"):  # abisee/cnn_dailymail keeps each config in a folder
        write_parquet(tmp_path / "cnn" / "3.0.0" / f"{split}-00000-of-00001.parquet", rows)
        write_parquet(tmp_path / "xsum" / "default" / split / "0000.parquet", CASES["xsum"][0])  # parquet branch
    assert load_task("cnn-dailymail", data_files=tmp_path / "cnn")["validation"][0]["target"] == rows[0]["highlights"]
    assert len(load_task("xsum", split="test", data_files=tmp_path / "xsum")["test"]) == 1


def test_fraction_and_split_on_a_hub_task(tmp_path):
    rows = [{"document": f"doc {i}", "summary": f"sum {i}"} for i in range(100)]
    files = {s: write_parquet(tmp_path / f"{s}.parquet", rows) for s in ("train", "test")}
    dsd = load_task("gigaword", fraction=0.1, seed=3, data_files=files)
    assert len(dsd["train"]) == 10 and len(dsd["test"]) == 100
    assert dsd["train"]["source"] == load_task("gigaword", fraction=0.1, seed=3, data_files=files)["train"]["source"]
    assert list(load_task("gigaword", split="test", data_files=files)) == ["test"]


def test_wrong_schema_names_the_missing_fields(tmp_path):
    path = write_parquet(tmp_path / "train.parquet", [{"text": "a", "summary": "b"}])
    with pytest.raises(ValueError, match="lacks field.*document.*Harvard/gigaword.*has text, summary"):
        load_task("gigaword", data_files={"train": path})


def test_unreadable_data_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_task("xsum", data_files={"train": str(tmp_path / "nope.parquet")})
    (tmp_path / "train.txt").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_task("xsum", data_files={"train": str(tmp_path / "train.txt")})


def test_offline_error_names_the_dataset_and_how_to_use_local_files():
    with pytest.raises(FileNotFoundError) as err:
        load_task("cnn-dailymail")
    message = str(err.value)
    assert "abisee/cnn_dailymail (3.0.0)" in message
    assert "data_files=" in message and "article, highlights" in message


def test_wrong_keyword_for_the_kind_of_task(tmp_path):
    with pytest.raises(ValueError, match="use data_files="):
        load_task("xsum", data_dir=tmp_path)
    with pytest.raises(ValueError, match="use data_dir="):
        load_task("brown-fusion", data_files={"train": "x.parquet"})
