"""Packed training (bertgen.modeling.packing): the fused loss computed on the positions it needs only is the
padded batch's loss, gradient for gradient; the position-wise layers really see fewer rows."""
from __future__ import annotations

import pytest
import torch

from bertgen.modeling import EncoderDecoderModel
from bertgen.modeling.packing import Packing, decoder_keep

TOL = 1e-5
pytestmark = pytest.mark.usefixtures("one_thread")


def test_pack_and_unpack_move_the_kept_positions_in_row_order():
    keep = torch.tensor([[True, True, False], [False, True, True]])
    x = torch.arange(6.0).view(2, 3, 1)  # (B, L, 1)
    packing = Packing(keep)
    assert packing.pack(x).flatten().tolist() == [0.0, 1.0, 4.0, 5.0]
    assert packing.unpack(packing.pack(x)).flatten().tolist() == [0.0, 1.0, 0.0, 0.0, 4.0, 5.0]


def test_decoder_keeps_every_position_up_to_the_last_label_of_its_row():
    labels = torch.tensor([[5, -100, 6, -100, -100],  # a -100 inside the target is kept: later labels read it
                           [-100, -100, -100, -100, -100],  # nothing to predict: nothing kept
                           [7, 8, 9, 10, 11]])
    assert decoder_keep(labels).int().tolist() == [[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]]


def test_packing_is_skipped_where_it_would_drop_too_little_or_keep_nothing():
    keep = torch.ones(4, 16, dtype=torch.bool)
    assert Packing.of(keep) is None
    keep[0, -1] = False  # 1 of 64 positions dropped: under MIN_DROPPED_SHARE
    assert Packing.of(keep) is None
    keep[:, -1] = False  # 4 of 64
    assert Packing.of(keep).index.numel() == 60
    assert Packing.of(torch.zeros(4, 16, dtype=torch.bool)) is None


def rows_seen(model, batch):
    """The number of rows the first feed-forward layer of each stack multiplies in one forward."""
    seen = {}
    hooks = [stack.encoder.layer[0].intermediate.dense.register_forward_hook(
        lambda m, args, out, name=name: seen.__setitem__(name, args[0].reshape(-1, args[0].shape[-1]).shape[0]))
        for name, stack in (("encoder", model.encoder), ("decoder", model.decoder.bert))]
    loss = model(**batch).loss
    for hook in hooks:
        hook.remove()
    return seen, loss


def padded_batch():
    """Sources and targets of uneven lengths, padded to the longest: a -100 inside one target, a row of
    targets with no label at all, an all-padding source."""
    g = torch.Generator().manual_seed(3)
    input_ids = torch.randint(3, 99, (4, 10), generator=g)
    attention_mask = (torch.arange(10) < torch.tensor([[10], [6], [3], [0]])).long()
    labels = torch.randint(3, 99, (4, 8), generator=g)
    labels = labels.masked_fill(torch.arange(8) >= torch.tensor([[8], [5], [2], [6]]), -100)
    labels[0, 3] = -100
    labels[2] = -100
    return {"input_ids": input_ids.masked_fill(attention_mask == 0, 0), "attention_mask": attention_mask,
            "labels": labels}


def test_packed_loss_and_gradients_are_transformers_on_the_padded_batch(hf_dir):
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    batch = padded_batch()
    ours = EncoderDecoderModel.from_pretrained(hf_dir).train()
    ours.fused_loss = True
    theirs = HFEncoderDecoderModel.from_pretrained(hf_dir).train()
    seen, loss = rows_seen(ours, batch)
    assert seen == {"encoder": 10 + 6 + 3, "decoder": 8 + 5 + 0 + 6}  # of 40 and 32: the padding is skipped
    loss.backward()
    reference = theirs(**batch).loss
    reference.backward()
    assert abs(loss.item() - reference.item()) < TOL
    for name, p in ours.named_parameters():
        assert (p.grad - theirs.get_parameter(name).grad).abs().max() < TOL, name


def test_packed_output_has_the_encoder_states_at_the_kept_positions_and_zeros_elsewhere(hf_dir):
    batch = padded_batch()
    model = EncoderDecoderModel.from_pretrained(hf_dir).train()
    model.fused_loss = True
    with torch.no_grad():
        packed = model(**batch)
        padded = model.eval()(**batch)
    mask = batch["attention_mask"].bool()
    assert packed.logits is None and packed.past_key_values is None
    assert torch.allclose(packed.loss, padded.loss, atol=TOL)
    assert (packed.encoder_last_hidden_state - padded.encoder_last_hidden_state)[mask].abs().max() < TOL
    assert packed.encoder_last_hidden_state[~mask].abs().max() == 0


@pytest.mark.parametrize("setting", ["gradient checkpointing", "BERTShare", "bf16 autocast"])
def test_packing_gives_the_padded_loss_and_gradients_under(setting, hf_dir):
    """Against the same model with the fused loss off (the padded batch, logits and F.cross_entropy)."""
    batch = padded_batch()
    torch.manual_seed(0)
    model = EncoderDecoderModel.from_pretrained(hf_dir).train()
    if setting == "BERTShare":  # one set of layers serves both stacks
        model.tie_encoder_decoder()
    if setting == "gradient checkpointing":
        model.gradient_checkpointing_enable()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=setting == "bf16 autocast")
    grads = []
    for fused in (False, True):
        model.fused_loss = fused
        with autocast:
            loss = (rows_seen(model, batch) if fused else (None, model(**batch).loss))[1]
        loss.backward()
        grads.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
        model.zero_grad()
    tol = 2e-2 if setting == "bf16 autocast" else TOL
    (loss, padded), (packed_loss, packed) = grads
    assert abs(loss - packed_loss) < tol * max(1.0, abs(loss))
    for name, grad in padded.items():
        assert (grad - packed[name]).abs().max() <= tol * max(1.0, grad.abs().max()), name


def test_a_packed_forward_refuses_outputs_it_cannot_give(hf_dir):
    model = EncoderDecoderModel.from_pretrained(hf_dir).train()
    ids = torch.randint(3, 99, (2, 5))
    packing = Packing(torch.tensor([[True] * 5, [True, True, False, False, False]]))
    with pytest.raises(ValueError, match="packed forward computes a loss only"):
        model.decoder.bert(ids, use_cache=True, packing=packing)
    with pytest.raises(ValueError, match="packed forward computes a loss only"):
        model.encoder(ids, output_hidden_states=True, packing=packing)


def test_asking_for_hidden_states_trains_on_the_padded_batch(hf_dir):
    batch = padded_batch()
    model = EncoderDecoderModel.from_pretrained(hf_dir).train()
    model.fused_loss = True
    out = model(**batch, output_hidden_states=True)
    assert out.logits is None  # still the fused loss, but unpacked: every position's states are there
    assert out.decoder_hidden_states[-1].shape == (4, 8, 32)
    assert out.encoder_hidden_states[-1].shape == (4, 10, 32)


@pytest.mark.parametrize("why", ["use_cache=True", "BERTGEN_TORCH_DROPOUT=1"])
def test_packing_stays_off_when_asked_for_a_cache_or_torchs_seeded_masks(why, hf_dir, monkeypatch):
    """A cache shows every position; torch's masks line up with transformers' only over the padded grid."""
    batch = padded_batch()
    model = EncoderDecoderModel.from_pretrained(hf_dir).train()
    model.fused_loss = True
    if why == "use_cache=True":
        batch["use_cache"] = True
    else:
        monkeypatch.setenv("BERTGEN_TORCH_DROPOUT", "1")
    seen, _ = rows_seen(model, batch)
    assert seen == {"encoder": 4 * 10, "decoder": 4 * 8}
    if why == "use_cache=True":
        assert model(**batch).past_key_values.get_seq_length() == 8


@pytest.mark.parametrize("fused", [False, True])
def test_labels_of_another_length_than_the_decoder_inputs_are_refused(fused, hf_dir):
    batch = padded_batch()
    model = EncoderDecoderModel.from_pretrained(hf_dir).train()
    model.fused_loss = fused
    decoder_input_ids = torch.randint(3, 99, (4, 12))
    with pytest.raises(ValueError, match=r"labels have shape \(4, 8\) but the decoder inputs have \(4, 12\)"):
        model(**batch, decoder_input_ids=decoder_input_ids)


def test_the_standalone_decoder_packs_up_to_the_position_before_each_rows_last_label(hf_model, tmp_path):
    """A causal LM: position t predicts label t + 1, so a row whose last label is at position 4 needs positions
    0..3. Loss and every gradient are transformers' BertGenerationDecoder's."""
    from transformers import BertGenerationDecoder as HFDecoder

    from bertgen.modeling import BertGenerationDecoder

    hf_model.decoder.save_pretrained(tmp_path / "dec")
    ours = BertGenerationDecoder.from_pretrained(tmp_path / "dec").train()
    ours.fused_loss = True
    theirs = HFDecoder.from_pretrained(tmp_path / "dec").train()
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(3, 99, (3, 8), generator=g)
    labels[0, 5:] = -100  # last label at 4: positions 0..3
    labels[1, 2] = -100  # a gap inside: kept, all 8 positions but the last
    labels[2, 1:] = -100  # only the first label, which nothing predicts: nothing kept
    kwargs = dict(input_ids=labels.clamp(min=3), encoder_hidden_states=torch.randn(3, 5, 32), labels=labels)
    seen = {}
    hook = ours.bert.encoder.layer[0].intermediate.dense.register_forward_hook(
        lambda m, args, out: seen.__setitem__("rows", args[0].reshape(-1, args[0].shape[-1]).shape[0]))
    out = ours(**kwargs)
    hook.remove()
    assert seen["rows"] == 4 + 7 + 0 and out.logits is None
    reference = theirs(**kwargs)
    out.loss.backward()
    reference.loss.backward()
    assert abs(out.loss.item() - reference.loss.item()) < TOL
    for name, p in ours.named_parameters():
        assert (p.grad - theirs.get_parameter(name).grad).abs().max() < TOL, name
    with pytest.raises(ValueError, match=r"labels have shape \(3, 8\) but the decoder inputs have \(3, 6\)"):
        ours(input_ids=kwargs["input_ids"][:, :6], encoder_hidden_states=kwargs["encoder_hidden_states"],
             labels=labels)
