"""Checkpoints move both ways between bertgen and transformers; every bad file is a clear error."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from bertgen.checkpoints import CheckpointError
from bertgen.config import EncoderDecoderConfig
from bertgen.modeling import EncoderDecoderModel
from tests.support import TINY

TOL = 1e-5


def hf_load(path):
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    return HFEncoderDecoderModel.from_pretrained(path).eval()


def logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits


def trained_a_little(model, batch, steps=3):
    """Move weights away from the saved ones so a round trip that silently dropped them would show."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model(**batch).loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("safe, shard", [(True, "5GB"), (True, "20KB"), (False, "5GB"), (False, "20KB")])
def test_saved_here_loads_in_transformers_and_back(hf_dir, batch, tmp_path, safe, shard):
    model = trained_a_little(EncoderDecoderModel.from_pretrained(hf_dir), batch)
    model.save_pretrained(tmp_path, safe_serialization=safe, max_shard_size=shard)
    files = sorted(p.name for p in tmp_path.iterdir())
    stem = "model" if safe else "pytorch_model"
    assert any(f.startswith(stem) for f in files), files
    assert (f"{stem}.{'safetensors' if safe else 'bin'}.index.json" in files) == (shard == "20KB")
    theirs = hf_load(tmp_path)
    assert (logits(theirs, batch) - logits(model, batch)).abs().max() < TOL
    again = EncoderDecoderModel.from_pretrained(tmp_path)
    assert torch.equal(logits(again, batch), logits(model, batch))


def test_saved_there_loads_here_after_training_in_transformers(hf_model, batch, tmp_path):
    import copy

    theirs = trained_a_little(copy.deepcopy(hf_model), batch)
    theirs.save_pretrained(tmp_path)
    ours = EncoderDecoderModel.from_pretrained(tmp_path)
    assert (logits(ours, batch) - logits(theirs, batch)).abs().max() < TOL


@pytest.mark.parametrize("sharing", ["tie_encoder_decoder", "share_encoder_decoder_embeddings"])
def test_shared_weights_round_trip_with_transformers(hf_dir, batch, tmp_path, sharing):
    """BERTShare / shared embeddings: full tensors under every name, so transformers (which ignores the
    flags) computes the same function, and bertgen restores the sharing on load."""
    config = EncoderDecoderConfig.from_pretrained(hf_dir)
    model = trained_a_little(EncoderDecoderModel(EncoderDecoderConfig.from_dict({**config.to_dict(), sharing: True})),
                             batch)
    model.save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    assert torch.equal(state["encoder.embeddings.word_embeddings.weight"],
                       state["decoder.bert.embeddings.word_embeddings.weight"])
    theirs = hf_load(tmp_path)
    assert (logits(theirs, batch) - logits(model, batch)).abs().max() < TOL
    again = EncoderDecoderModel.from_pretrained(tmp_path)
    assert getattr(again.config, sharing) is True
    assert again.decoder.bert.embeddings.word_embeddings.weight is again.encoder.embeddings.word_embeddings.weight
    assert torch.equal(logits(again, batch), logits(model, batch))


def test_sharing_flag_over_unshared_weights_is_refused(hf_dir, tmp_path):
    """A checkpoint claiming BERTShare whose two sides differ (e.g. trained in transformers, which ignores the
    flag) must not be silently collapsed onto one side."""
    for f in hf_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "tie_encoder_decoder": True}))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: 'encoder\..*' and 'decoder\.bert\..*' are one "
                                              r"shared tensor .* differ .*tie_encoder_decoder=False"):
        EncoderDecoderModel.from_pretrained(tmp_path)
    assert not EncoderDecoderModel.from_pretrained(tmp_path, tie_encoder_decoder=False).config.tie_encoder_decoder


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_dtype_auto_keeps_the_stored_precision(hf_dir, tmp_path, dtype):
    model = EncoderDecoderModel.from_pretrained(hf_dir, dtype=dtype)
    assert next(model.parameters()).dtype == getattr(torch, dtype)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == dtype
    assert next(EncoderDecoderModel.from_pretrained(tmp_path).parameters()).dtype == getattr(torch, dtype)
    assert next(EncoderDecoderModel.from_pretrained(tmp_path, dtype="float32").parameters()).dtype == torch.float32
    with pytest.raises(ValueError, match="dtype 'float8'"):
        EncoderDecoderModel.from_pretrained(tmp_path, dtype="float8")


# ----------------------------------------------------------------------------------------------- bad files

@pytest.fixture()
def copy_dir(hf_dir, tmp_path):
    for f in hf_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    return tmp_path


def test_missing_weights_name_what_was_looked_for(copy_dir):
    (copy_dir / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"no weights found \(looked for model\.safetensors, pytorch_model\.bin"):
        EncoderDecoderModel.from_pretrained(copy_dir)


def test_truncated_and_corrupt_files(copy_dir):
    data = (copy_dir / "model.safetensors").read_bytes()
    (copy_dir / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: cannot read weights, the file is truncated or corrupt"):
        EncoderDecoderModel.from_pretrained(copy_dir)
    (copy_dir / "model.safetensors").unlink()
    (copy_dir / "pytorch_model.bin").write_bytes(b"not a pickle at all")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin: cannot read weights"):
        EncoderDecoderModel.from_pretrained(copy_dir)


def _rewrite(copy_dir, edit):
    state = load_file(copy_dir / "model.safetensors")
    edit(state)
    save_file(state, copy_dir / "model.safetensors", metadata={"format": "pt"})


def test_wrong_shape_names_key_and_shapes(copy_dir):
    key = "decoder.bert.encoder.layer.1.crossattention.self.key.weight"
    _rewrite(copy_dir, lambda s: s.__setitem__(key, torch.zeros(32, 31)))
    with pytest.raises(CheckpointError, match=rf"key '{key}' has shape \(32, 31\) but the model expects \(32, 32\)"):
        EncoderDecoderModel.from_pretrained(copy_dir)


def test_missing_and_unexpected_keys(copy_dir):
    key = "encoder.encoder.layer.0.output.dense.bias"
    _rewrite(copy_dir, lambda s: s.pop(key))
    with pytest.raises(CheckpointError, match=rf"1 parameter\(s\) missing from the checkpoint, e.g. \['{key}'\]"):
        EncoderDecoderModel.from_pretrained(copy_dir)
    _rewrite(copy_dir, lambda s: s.update({key: torch.zeros(32), "encoder.pooler.dense.weight": torch.zeros(3)}))
    with pytest.raises(CheckpointError, match=r"1 key\(s\) the model does not have, e.g. \['encoder\.pooler\.dense"):
        EncoderDecoderModel.from_pretrained(copy_dir)


def test_missing_shard_is_named(hf_dir, tmp_path):
    EncoderDecoderModel.from_pretrained(hf_dir).save_pretrained(tmp_path, max_shard_size="20KB")
    shard = sorted(tmp_path.glob("model-*.safetensors"))[1]
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{shard.name}: shard listed in model\.safetensors\.index\.json is missing"):
        EncoderDecoderModel.from_pretrained(tmp_path)


def test_unreachable_hub_id_says_what_was_looked_for(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="'nobody/no-such-model' is not a local directory"):
        EncoderDecoderModel.from_pretrained("nobody/no-such-model")


def test_interrupted_save_leaves_nothing_half_written(hf_dir, tmp_path, monkeypatch):
    import bertgen.checkpoints as checkpoints

    def failing_save(tensors, filename, metadata=None):
        open(filename, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints, "save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        EncoderDecoderModel.from_pretrained(hf_dir).save_pretrained(tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- bad inputs

@pytest.fixture(scope="module")
def model(hf_dir):
    return EncoderDecoderModel.from_pretrained(hf_dir)


def test_input_longer_than_positions(model):
    with pytest.raises(ValueError, match=r"sequence of 70 positions exceeds max_position_embeddings=64; truncate"):
        model(input_ids=torch.ones(1, 70, dtype=torch.long), decoder_input_ids=torch.ones(1, 1, dtype=torch.long))


def test_ids_outside_the_vocabulary(model):
    ids = torch.ones(2, 5, dtype=torch.long)
    ids[1, 3] = 99
    with pytest.raises(ValueError, match=r"input_ids\[1, 3\] = 99 is outside the vocabulary \(0\.\.98\)"):
        model(input_ids=ids, decoder_input_ids=ids)
    labels = torch.full((2, 5), -100)
    with pytest.raises(ValueError, match=r"= -100 is outside the vocabulary .*replace -100 labels"):
        model(input_ids=torch.ones(2, 5, dtype=torch.long), decoder_input_ids=labels)
    with pytest.raises(ValueError, match="must hold integer token ids, got dtype torch.float32"):
        model(input_ids=ids.float(), decoder_input_ids=ids)
    with pytest.raises(ValueError, match=r"must be a 2-D tensor \(batch, length\), got \(5,\)"):
        model(input_ids=ids[0], decoder_input_ids=ids)


def test_mask_of_the_wrong_shape(model):
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\) but must be \(2, 5\)"):
        model(input_ids=ids, attention_mask=torch.ones(2, 4), decoder_input_ids=ids)
    with pytest.raises(ValueError, match=r"decoder.*attention_mask has shape \(2, 3\) but must be \(2, 5\)"):
        model(input_ids=ids, decoder_input_ids=ids, decoder_attention_mask=torch.ones(2, 3))


def test_config_argument_replaces_the_files_config(hf_dir, hf_model, batch, tmp_path):
    """from_pretrained(dir, config=config), as transformers: the given config (object or directory) replaces
    config.json, and keyword overrides apply on top of it; the caller's config is not shared."""
    from transformers import EncoderDecoderConfig as HFEncoderDecoderConfig
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    from bertgen import BertGenerationConfig, BertGenerationEncoder

    config = EncoderDecoderConfig.from_pretrained(hf_dir)
    config.decoder.output_hidden_states = True
    model = EncoderDecoderModel.from_pretrained(hf_dir, config=config)
    assert model.config is not config and model.config.decoder.output_hidden_states
    their_config = HFEncoderDecoderConfig.from_pretrained(hf_dir)
    their_config.decoder.output_hidden_states = True
    theirs = HFEncoderDecoderModel.from_pretrained(hf_dir, config=their_config).eval()
    with torch.no_grad():
        ours, reference = model(**batch), theirs(**batch)
    assert len(ours.decoder_hidden_states) == len(reference.decoder_hidden_states) == TINY["num_hidden_layers"] + 1
    assert (ours.logits - reference.logits).abs().max() < TOL
    config.save_pretrained(tmp_path)
    from_directory = EncoderDecoderModel.from_pretrained(hf_dir, config=tmp_path, tie_encoder_decoder=False)
    assert from_directory.config.decoder.output_hidden_states
    encoder_config = BertGenerationConfig.from_dict(config.encoder.to_dict())
    encoder_config.output_attentions = True
    hf_model.encoder.save_pretrained(tmp_path / "encoder")
    encoder = BertGenerationEncoder.from_pretrained(tmp_path / "encoder", config=encoder_config, return_dict=False)
    assert encoder.config.output_attentions and encoder.config.return_dict is False
    with pytest.raises(TypeError, match=r"config= must be an? EncoderDecoderConfig .*got BertGenerationConfig"):
        EncoderDecoderModel.from_pretrained(hf_dir, config=encoder_config)
