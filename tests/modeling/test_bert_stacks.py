"""transformers' encoder-decoder checkpoints whose stacks are its BERT or RoBERTa classes (BertModel +
BertLMHeadModel, RobertaModel + RobertaForCausalLM), as `from_encoder_decoder_pretrained` writes them: loaded
with the same logits and the same greedy and beam-4 tokens as transformers, saved so that transformers loads
them unchanged, and `tie_encoder_decoder=True` honoured. Stand-ins: tiny BERT / RoBERTa checkpoints written by
transformers into tmp_path."""
from __future__ import annotations

import json

import pytest
import torch

from bertgen import EncoderDecoderModel
from bertgen.config import BertConfig, EncoderDecoderConfig, RobertaConfig

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")
SMALL = dict(vocab_size=99, num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=37)
# BERT: [PAD]=0, start [CLS]=2, end [SEP]=3; RoBERTa: <s>=0, <pad>=1, </s>=2, positions from padding_idx + 1
IDS = {"bert": dict(pad=0, start=2, eos=3), "roberta": dict(pad=1, start=0, eos=2)}


def stand_in(directory, kind: str, tie_encoder_decoder: bool = False, seed: int = 0):
    """What transformers writes for a bert2bert / roberta2roberta warm-started from one checkpoint (weights
    then moved away from the checkpoint's, so that every part shows in the outputs)."""
    if kind == "bert":
        body = transformers.BertModel(transformers.BertConfig(**SMALL, max_position_embeddings=64))
    else:
        body = transformers.RobertaModel(transformers.RobertaConfig(
            **SMALL, max_position_embeddings=66, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2))
    body.save_pretrained(directory / kind)
    model = transformers.EncoderDecoderModel.from_encoder_decoder_pretrained(
        str(directory / kind), str(directory / kind), tie_encoder_decoder=tie_encoder_decoder)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" not in name and "layer_norm" not in name:
                p.normal_(0, 0.2)
        if tie_encoder_decoder:  # BERTShare: the stacks' shared parts equal, as one warm start leaves them
            decoder = model.decoder.state_dict()
            body_prefix = "bert." if kind == "bert" else "roberta."
            for name, p in model.encoder.state_dict().items():
                if (body_prefix + name) in decoder and "pooler" not in name:
                    p.copy_(decoder[body_prefix + name])
    ids = IDS[kind]
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = ids["start"], ids["pad"], ids["eos"]
    model.save_pretrained(directory / f"{kind}2{kind}")
    return directory / f"{kind}2{kind}", model.eval()


def batch(kind: str):
    g = torch.Generator().manual_seed(1)
    pad = IDS[kind]["pad"]
    input_ids = torch.randint(3, 99, (3, 9), generator=g)
    attention_mask = torch.ones_like(input_ids)
    input_ids[1, 6:], attention_mask[1, 6:] = pad, 0
    labels = torch.randint(3, 99, (3, 7), generator=g)
    labels[2, 5:] = -100
    return dict(input_ids=input_ids, attention_mask=attention_mask, labels=labels)


@pytest.fixture(scope="module", params=["bert", "roberta"])
def pair(request, tmp_path_factory):
    directory, theirs = stand_in(tmp_path_factory.mktemp(request.param), request.param)
    return request.param, directory, theirs


def test_loads_with_transformers_logits(pair):
    kind, directory, theirs = pair
    ours = EncoderDecoderModel.from_pretrained(directory)
    assert type(ours.config.encoder) is (BertConfig if kind == "bert" else RobertaConfig)
    assert hasattr(ours.encoder, "pooler") and not hasattr(ours.decoder.bert, "pooler")
    with torch.no_grad():
        mine, reference = ours(**batch(kind)), theirs(**batch(kind))
    assert (mine.logits - reference.logits).abs().max() < 1e-5
    assert (mine.encoder_last_hidden_state - reference.encoder_last_hidden_state).abs().max() < 1e-5
    assert abs(mine.loss.item() - reference.loss.item()) < 1e-5


@pytest.mark.parametrize("num_beams", [1, 4])
def test_greedy_and_beam_tokens_are_transformers(pair, num_beams):
    kind, directory, theirs = pair
    ours = EncoderDecoderModel.from_pretrained(directory)
    inputs = {k: v for k, v in batch(kind).items() if k != "labels"}
    expected = theirs.generate(**inputs, num_beams=num_beams, max_new_tokens=12)
    assert torch.equal(ours.generate(**inputs, num_beams=num_beams, max_new_tokens=12), expected)
    assert len(set(expected[:, 1:].flatten().tolist())) > 2  # not one repeated token


def test_saved_here_loads_unchanged_in_transformers(pair, tmp_path):
    kind, directory, theirs = pair
    ours = EncoderDecoderModel.from_pretrained(directory)
    ours.train()
    ours(**batch(kind)).loss.backward()  # move the weights, so a round trip that dropped any would show
    with torch.no_grad():
        for p in ours.parameters():
            p -= 0.1 * p.grad if p.grad is not None else 0.1  # (the pooler: no gradient, moved anyway)
    ours.eval().save_pretrained(tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["encoder"]["model_type"] == written["decoder"]["model_type"] == kind
    again = transformers.EncoderDecoderModel.from_pretrained(tmp_path).eval()
    assert again.state_dict().keys() == theirs.state_dict().keys()
    with torch.no_grad():
        assert (again(**batch(kind)).logits - ours(**batch(kind)).logits).abs().max() < 1e-5
    assert torch.equal(EncoderDecoderModel.from_pretrained(tmp_path).state_dict()["decoder.lm_head.bias"],
                       ours.state_dict()["decoder.lm_head.bias"])


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_tie_encoder_decoder_is_honoured(kind, tmp_path):
    """tie_encoder_decoder=True (BERTShare): one set of embedding, self-attention and feed-forward weights; the
    outputs are transformers' on the same (equal) weights, and one update moves both stacks alike."""
    directory, theirs = stand_in(tmp_path, kind, tie_encoder_decoder=True)
    ours = EncoderDecoderModel.from_pretrained(directory)
    assert ours.config.tie_encoder_decoder
    assert ours.encoder.embeddings is ours.decoder.bert.embeddings
    assert ours.encoder.encoder.layer[0].attention is ours.decoder.bert.encoder.layer[0].attention
    with torch.no_grad():
        assert (ours(**batch(kind)).logits - theirs(**batch(kind)).logits).abs().max() < 1e-5
    ours.save_pretrained(tmp_path / "saved")
    again = transformers.EncoderDecoderModel.from_pretrained(tmp_path / "saved").eval()
    with torch.no_grad():
        assert (again(**batch(kind)).logits - ours(**batch(kind)).logits).abs().max() < 1e-5


def test_trainer_update_is_transformers(pair, tmp_path):
    """The Trainer's fused, packed loss goes through the BERT / RoBERTa head's transform: one update on the
    stand-in gives transformers' loss and weights (AdamW, clipping, a constant rate)."""
    import datasets

    from bertgen.training.trainer import Trainer, TrainingArguments, read_log

    kind, directory, _ = pair
    # dropout off in both (the update is then deterministic), through from_pretrained(..., config=)
    their_config = transformers.EncoderDecoderConfig.from_pretrained(directory)
    config = EncoderDecoderConfig.from_pretrained(directory)
    for side in (their_config.encoder, their_config.decoder, config.encoder, config.decoder):
        side.hidden_dropout_prob = side.attention_probs_dropout_prob = 0.0
    theirs = transformers.EncoderDecoderModel.from_pretrained(directory, config=their_config).train()
    ours = EncoderDecoderModel.from_pretrained(directory, config=config)
    data = batch(kind)
    rows = {"input_ids": [r[m.bool()].tolist() for r, m in zip(data["input_ids"], data["attention_mask"])],
            "labels": [r[r != -100].tolist() for r in data["labels"]]}
    params = list(theirs.parameters())
    # Adam's first step moves a weight by lr * g / (|g| + eps): where |g| is near eps (the stand-in's cross-attention
    # keys), the rounding of g, summed in another order by another CPU's kernels, moves it by up to lr. eps = 1e-6 on
    # both sides compares the updates, not that rounding.
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.01},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}], lr=1e-3,
                                  eps=1e-6)
    loss = theirs(**data).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
    optimizer.step()
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=1, batch_size=3, learning_rate=1e-3,
                             schedule="constant", log_every=1, progress=False, precision="fp32", adam_epsilon=1e-6)
    Trainer(ours, args, datasets.Dataset.from_dict(rows), pad_token_id=IDS[kind]["pad"]).train(resume=False)
    logged = [r for r in read_log(tmp_path / "log.jsonl") if r["kind"] == "train"][0]["loss"]
    assert logged == pytest.approx(loss.item(), abs=1e-5)
    mine = ours._checkpoint_keys(ours.state_dict())  # under transformers' names
    assert mine.keys() == theirs.state_dict().keys()
    for name, tensor in theirs.state_dict().items():
        if not name.endswith("key.bias"):  # key biases: see test_trainer_recipe
            assert (mine[name] - tensor).abs().max() < 1e-5, name


def test_roberta_positions_bound_inputs_and_lengths(tmp_path):
    """RoBERTa's table has max_position_embeddings rows but positions start at padding_idx + 1: 64 usable of
    66, for the encoder's inputs, generate's max_length and the pipeline's truncation alike."""
    from bertgen import pipeline

    directory, _ = stand_in(tmp_path, "roberta")
    ours = EncoderDecoderModel.from_pretrained(directory)
    ours(input_ids=torch.full((1, 64), 5), decoder_input_ids=torch.full((1, 64), 5))  # the longest there is
    with pytest.raises(ValueError, match="sequence of 65 positions exceeds max_position_embeddings=66 less the 2 "
                                         "before position 0"):
        ours(input_ids=torch.full((1, 65), 5), decoder_input_ids=torch.full((1, 3), 5))
    with pytest.raises(ValueError, match="max_length 65 .* max_position_embeddings=66 less the 2 before position 0"):
        ours.generate(torch.full((1, 4), 5), max_new_tokens=64)
    words = tmp_path / "words"  # a WordPiece vocabulary of the model's 99 ids
    words.mkdir()
    (words / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                                               + [f"w{i}" for i in range(94)]) + "\n", encoding="utf-8")
    gen = pipeline("text2text-generation", model=ours, tokenizer=words, max_new_tokens=3)
    assert gen.max_input_length == 64
    assert len(gen("w7 " * 200)) == 1  # truncated to 64 tokens, not 66
