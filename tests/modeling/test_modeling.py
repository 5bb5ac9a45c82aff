"""Parity with transformers on the same weights: encoder states, decoder logits (cached and not), loss."""
from __future__ import annotations

import pytest
import torch

from bertgen.cache import KVCache
from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.modeling import BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel

TOL = 1e-5


@pytest.fixture(scope="module")
def model(hf_dir):
    return EncoderDecoderModel.from_pretrained(hf_dir)


def test_encoder_hidden_states_match_transformers(hf_model, model, batch):
    with torch.no_grad():
        ours = model.encoder(batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        theirs = hf_model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].bool()
    assert ours.shape == theirs.shape == (3, 11, 32)
    assert (ours - theirs)[mask].abs().max() < TOL
    assert ours.abs().max() > 0.5  # not a degenerate all-zero comparison


def test_loss_and_logits_with_ignored_labels_match_transformers(hf_model, model, batch):
    with torch.no_grad():
        ours = model(**batch)
        theirs = hf_model(**batch)
    assert (ours.logits - theirs.logits).abs().max() < TOL
    assert abs(ours.loss.item() - theirs.loss.item()) < TOL
    # -100 positions really are ignored: changing what stands there cannot change the loss
    changed = dict(batch, labels=batch["labels"].clone())
    changed["labels"][0, 6:] = -100
    changed["decoder_input_ids"] = model_decoder_inputs(model, batch["labels"])
    with torch.no_grad():
        assert torch.allclose(model(**changed).loss, ours.loss)


def model_decoder_inputs(model, labels):
    from bertgen.modeling import shift_tokens_right

    return shift_tokens_right(labels, model.config.pad_token_id, model.config.decoder_start_token_id)


def test_shift_tokens_right_puts_start_token_first_and_replaces_ignored_labels():
    from bertgen.modeling import shift_tokens_right

    labels = torch.tensor([[5, 6, -100, -100]])
    assert shift_tokens_right(labels, pad_token_id=0, decoder_start_token_id=2).tolist() == [[2, 5, 6, 0]]


def test_cached_step_by_step_decoding_equals_full_pass(hf_model, model, batch):
    ids = model_decoder_inputs(model, batch["labels"])  # (B, T)
    with torch.no_grad():
        encoder_out = model.encoder(batch["input_ids"], attention_mask=batch["attention_mask"])
        full = model(encoder_outputs=encoder_out, attention_mask=batch["attention_mask"],
                     decoder_input_ids=ids, use_cache=False).logits
        theirs = hf_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                          decoder_input_ids=ids).logits
        cache, steps = None, []
        for t in range(ids.shape[1]):
            out = model(encoder_outputs=encoder_out, attention_mask=batch["attention_mask"],
                        decoder_input_ids=ids[:, t:t + 1], past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            steps.append(out.logits)
    assert isinstance(cache, KVCache) and cache.get_seq_length() == ids.shape[1]
    assert (full - theirs).abs().max() < TOL
    assert (torch.cat(steps, dim=1) - full).abs().max() < TOL


def test_cache_prefill_then_steps_and_decoder_padding_mask_match_transformers(hf_model, model, batch):
    """A multi-token first chunk, then single steps, with a decoder padding mask over cached + new keys."""
    ids = model_decoder_inputs(model, batch["labels"])
    dec_mask = torch.ones_like(ids)
    dec_mask[2, :2] = 0  # left padding in one row
    with torch.no_grad():
        enc = model.encoder(batch["input_ids"], attention_mask=batch["attention_mask"])
        theirs = hf_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                          decoder_input_ids=ids, decoder_attention_mask=dec_mask).logits
        first = model(encoder_outputs=enc, attention_mask=batch["attention_mask"], decoder_input_ids=ids[:, :5],
                      decoder_attention_mask=dec_mask[:, :5], use_cache=True)
        logits, cache = [first.logits], first.past_key_values
        for t in range(5, ids.shape[1]):
            out = model(encoder_outputs=enc, attention_mask=batch["attention_mask"], decoder_input_ids=ids[:, t:t + 1],
                        decoder_attention_mask=dec_mask[:, :t + 1], past_key_values=cache, use_cache=True)
            logits.append(out.logits)
    ours = torch.cat(logits, dim=1)
    visible = dec_mask.bool()  # rows of padded query positions carry no meaning in either library
    assert (ours - theirs)[visible].abs().max() < TOL


def test_cache_grows_past_its_initial_capacity():
    cache = KVCache(num_layers=1, capacity=2)
    keys = torch.randn(1, 2, 5, 3)
    for t in range(5):
        k, v = cache.update(0, keys[:, :, t:t + 1], -keys[:, :, t:t + 1])
    assert torch.equal(k, keys) and torch.equal(v, -keys)
    cache.reorder(torch.tensor([0, 0]))
    assert cache.update(0, keys[:, :, :1].expand(2, -1, -1, -1), keys[:, :, :1].expand(2, -1, -1, -1))[0].shape == (2, 2, 6, 3)


def test_logits_to_keep_returns_only_the_last_position(model, batch):
    ids = model_decoder_inputs(model, batch["labels"])
    with torch.no_grad():
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=ids)
        last = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=ids,
                     logits_to_keep=1)
    assert last.logits.shape == (3, 1, 99)
    assert torch.allclose(last.logits[:, 0], full.logits[:, -1], atol=TOL)


def test_standalone_encoder_and_decoder_match_transformers(hf_model, tmp_path, batch):
    """The two stacks on their own, loaded from transformers' own per-stack checkpoints."""
    hf_model.encoder.save_pretrained(tmp_path / "enc")
    hf_model.decoder.save_pretrained(tmp_path / "dec")
    encoder = BertGenerationEncoder.from_pretrained(tmp_path / "enc")
    decoder = BertGenerationDecoder.from_pretrained(tmp_path / "dec")
    ids = batch["labels"].clamp(min=0)
    with torch.no_grad():
        enc = encoder(batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        ours = decoder(ids, encoder_hidden_states=enc, encoder_attention_mask=batch["attention_mask"], labels=ids)
        theirs = hf_model.decoder(input_ids=ids, encoder_hidden_states=enc,
                                  encoder_attention_mask=batch["attention_mask"], labels=ids)
    assert (ours.logits - theirs.logits).abs().max() < TOL
    assert abs(ours.loss.item() - theirs.loss.item()) < TOL


def test_attention_maps_match_transformers_eager(hf_dir, model, batch):
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    hf = HFEncoderDecoderModel.from_pretrained(hf_dir, attn_implementation="eager").eval()
    ids = model_decoder_inputs(model, batch["labels"])
    kwargs = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=ids)
    with torch.no_grad():
        ours = model(**kwargs, output_attentions=True)
        theirs = hf(**kwargs, output_attentions=True)
    for name in ("encoder_attentions", "decoder_attentions", "cross_attentions"):
        mine, ref = getattr(ours, name), getattr(theirs, name)
        assert len(mine) == len(ref) == 2
        for a, b in zip(mine, ref):
            assert a.shape == b.shape
            assert (a - b).abs().max() < TOL
    # the decoder's self-attention is causal: nothing above the diagonal
    assert ours.decoder_attentions[0][0, 0].triu(1).abs().max() == 0
    assert torch.allclose(ours.logits, model(**kwargs).logits, atol=TOL)


def test_gradient_checkpointing_gives_the_same_gradients(hf_dir, batch):
    torch.manual_seed(0)
    plain = EncoderDecoderModel.from_pretrained(hf_dir).train()
    checkpointed = EncoderDecoderModel.from_pretrained(hf_dir).train()
    checkpointed.gradient_checkpointing_enable()
    plain(**batch).loss.backward()
    checkpointed(**batch).loss.backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_bertshare_shares_one_set_of_weights_and_trains_both_sides():
    config = EncoderDecoderConfig(
        encoder=BertGenerationConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=20, max_position_embeddings=32),
        decoder=BertGenerationConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=20, max_position_embeddings=32, is_decoder=True,
                                     add_cross_attention=True),
        decoder_start_token_id=2, pad_token_id=0, tie_encoder_decoder=True)
    shared = EncoderDecoderModel(config)
    separate = EncoderDecoderModel(EncoderDecoderConfig.from_dict({**config.to_dict(), "tie_encoder_decoder": False}))
    enc_layer, dec_layer = shared.encoder.encoder.layer[0], shared.decoder.bert.encoder.layer[0]
    assert dec_layer.attention.self.query.weight is enc_layer.attention.self.query.weight
    assert shared.decoder.lm_head.decoder.weight is shared.encoder.embeddings.word_embeddings.weight
    assert dec_layer.crossattention is not None and not hasattr(enc_layer, "crossattention")
    n_shared = sum(p.numel() for p in shared.parameters())
    n_separate = sum(p.numel() for p in separate.parameters())
    per_layer_self_ffn = sum(p.numel() for m in (enc_layer.attention, enc_layer.intermediate, enc_layer.output)
                             for p in m.parameters())
    embeddings = sum(p.numel() for p in shared.encoder.embeddings.parameters())
    assert n_separate - n_shared == 2 * per_layer_self_ffn + embeddings
    # one update reaches both sides: the encoder's weights get gradient from the decoder's loss too
    ids = torch.randint(3, 50, (2, 6))
    shared(input_ids=ids, labels=ids).loss.backward()
    assert enc_layer.attention.self.query.weight.grad.abs().sum() > 0


def test_an_all_padding_input_row_matches_transformers(hf_model, model):
    """An empty source (every position padding) gives transformers' finite logits, not NaN."""
    ids = torch.randint(3, 99, (2, 6))
    mask = torch.ones_like(ids)
    mask[1] = 0
    decoder_input_ids = torch.randint(3, 99, (2, 4))
    with torch.no_grad():
        ours = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_input_ids).logits
        theirs = hf_model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_input_ids).logits
    assert not ours.isnan().any()
    assert (ours - theirs).abs().max() < TOL


def test_training_mode_loss_and_gradients_match_transformers(hf_dir, batch):
    """With the fused loss on (as the Trainer sets it), training mode skips the logits (bertgen.loss); loss and
    every gradient stay transformers' (the tiny config has dropout 0, so training mode is deterministic)."""
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    ours = EncoderDecoderModel.from_pretrained(hf_dir).train()
    assert ours(**batch).logits.shape == (3, 9, 99)  # off by default: transformers' output
    ours.fused_loss = True
    theirs = HFEncoderDecoderModel.from_pretrained(hf_dir).train()
    out = ours(**batch)
    assert out.logits is None
    out.loss.backward()
    reference = theirs(**batch).loss
    reference.backward()
    assert abs(out.loss.item() - reference.item()) < TOL
    for name, p in ours.named_parameters():
        q = theirs.get_parameter(name)
        assert (p.grad - q.grad).abs().max() < TOL, name
    assert ours.decoder.lm_head.bias.grad.abs().max() > 0


def test_standalone_decoder_training_mode_loss_and_gradients_match_transformers(hf_model, tmp_path, batch):
    """The decoder alone shifts its labels by one position; in training mode too."""
    from transformers import BertGenerationDecoder as HFDecoder

    hf_model.decoder.save_pretrained(tmp_path / "dec")
    ours = BertGenerationDecoder.from_pretrained(tmp_path / "dec").train()
    ours.fused_loss = True
    theirs = HFDecoder.from_pretrained(tmp_path / "dec").train()
    enc = torch.randn(3, 11, 32)
    ids, labels = batch["labels"].clamp(min=0), batch["labels"]
    kwargs = dict(input_ids=ids, encoder_hidden_states=enc, encoder_attention_mask=batch["attention_mask"],
                  labels=labels)
    out, reference = ours(**kwargs), theirs(**kwargs)
    assert out.logits is None
    out.loss.backward()
    reference.loss.backward()
    assert abs(out.loss.item() - reference.loss.item()) < TOL
    for name, p in ours.named_parameters():
        assert (p.grad - theirs.get_parameter(name).grad).abs().max() < TOL, name


def test_fused_loss_skips_logits_only_in_training_mode_with_labels(hf_dir, batch):
    model = EncoderDecoderModel.from_pretrained(hf_dir)
    model.fused_loss = True
    ids = model_decoder_inputs(model, batch["labels"])
    with torch.no_grad():
        evaluated = model.eval()(**batch)
        trained = model.train()(**batch)
        unlabelled = model.train()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                   decoder_input_ids=ids)
    assert evaluated.logits.shape == unlabelled.logits.shape == (3, 9, 99)
    assert trained.logits is None
    assert torch.allclose(trained.loss, evaluated.loss, atol=TOL)
