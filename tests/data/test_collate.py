"""Collation with a real WordPiece tokenizer (transformers' BertTokenizerFast on the embedded MiniLM vocab):
per-side max lengths, the paper's special-token conventions, -100 label padding, length buckets."""

import pytest
import torch
from torch.utils.data import DataLoader

from bertgen.data import LengthBucketSampler, Seq2SeqCollator, load_task, tokenize_task

from bertgen.data.corpora import brown
from bertgen.data.collate import LABEL_PAD, encode_targets


@pytest.fixture
def task(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    return load_task("brown-fusion", data_dir=brown.SAMPLE_DIR)


def test_tokenize_task_follows_the_paper_conventions(tok, task):
    out = tokenize_task(task, tok, max_source_length=16, max_target_length=12)
    row = out["train"][0]
    assert set(out["train"].column_names) >= {"source", "target", "rule", "input_ids", "labels", "length"}
    # inputs: no [CLS]/[SEP]; labels: no [CLS], end with [SEP]
    assert tok.cls_token_id not in row["input_ids"] and tok.sep_token_id not in row["input_ids"]
    assert row["labels"][0] != tok.cls_token_id and row["labels"][-1] == tok.sep_token_id
    assert row["labels"][:-1] == tok(row["target"], add_special_tokens=False)["input_ids"][:11]
    for split in out.values():
        assert max(len(x) for x in split["input_ids"]) <= 16 and max(len(x) for x in split["labels"]) <= 12
        assert split["length"] == [max(len(a), len(b)) for a, b in zip(split["input_ids"], split["labels"])]


def test_tokenize_task_is_cached_by_datasets(tok, task):
    first = tokenize_task(task, tok, max_source_length=16, max_target_length=12)
    again = tokenize_task(task, tok, max_source_length=16, max_target_length=12)
    assert first["train"].cache_files == again["train"].cache_files


def test_encode_targets_keeps_the_end_token_when_truncating(tok):
    ids = encode_targets(tok, ["one two three four five six"], max_length=4)[0]
    assert len(ids) == 4 and ids[-1] == tok.sep_token_id


def test_collator_pads_inputs_and_labels():
    collate = Seq2SeqCollator(pad_token_id=0)
    batch = collate([{"input_ids": [5, 6, 7], "labels": [8, 9]}, {"input_ids": [5], "labels": [8, 9, 10, 11]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[8, 9, LABEL_PAD, LABEL_PAD], [8, 9, 10, 11]]
    assert batch["input_ids"].dtype == torch.long
    with pytest.raises(ValueError, match="no pad_token_id"):
        Seq2SeqCollator(None)


def padding(batches, lengths):
    return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)


def test_length_buckets_cover_every_example_once_and_pad_less():
    lengths = torch.randint(1, 100, (1000,), generator=torch.Generator().manual_seed(0)).tolist()
    sampler = LengthBucketSampler(lengths, batch_size=16, pool_batches=10, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert len(batches) == len(sampler) == 63
    random_batches = [list(range(i, min(i + 16, 1000))) for i in range(0, 1000, 16)]
    assert padding(batches, lengths) < padding(random_batches, lengths) / 5
    assert list(sampler) == batches  # same seed, same epoch: same batches
    sampler.set_epoch(1)
    assert list(sampler) != batches
    assert all(len(b) == 16 for b in LengthBucketSampler(lengths, 16, drop_last=True))


def test_dataloader_yields_padded_batches(tok, task):
    train = tokenize_task(task, tok, max_source_length=32, max_target_length=32)["train"]
    sampler = LengthBucketSampler(train["length"], 8, shuffle=True, seed=0)
    loader = DataLoader(train.select_columns(["input_ids", "labels"]), batch_sampler=sampler,
                        collate_fn=Seq2SeqCollator(tok.pad_token_id))
    batches = list(loader)
    assert sum(len(b["input_ids"]) for b in batches) == len(train)
    b = batches[0]
    assert b["input_ids"].shape == b["attention_mask"].shape and b["labels"].shape[0] == b["input_ids"].shape[0]
    assert ((b["labels"] == LABEL_PAD) | (b["labels"] >= 0)).all()
