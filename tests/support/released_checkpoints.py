"""Local stand-ins of the released BertGeneration checkpoints the BertGeneration page uses, written by
transformers itself: each keeps its checkpoint's config fields and special-token ids, with the layer count and
sizes reduced so tests run in seconds, and real-format tokenizer files trained here on SAMPLE_CORPUS.

- google/roberta2roberta_L-24_discofuse: EncoderDecoderModel of two bert-generation stacks, RoBERTa's
  byte-level BPE (vocab.json + merges.txt, <s>=0 <pad>=1 </s>=2), decoder start = bos = <s>.
- google/bert2bert_L-24_wmt_de_en: EncoderDecoderModel, SentencePiece spiece.model (<pad>=0 </s>=1 <s>=2).
- google/bert_for_seq_generation_L-24_bbc_encoder: a BertGenerationEncoder alone, SentencePiece.
The real ones have 24 layers, hidden 1024, 16 heads, FFN 4096, 512 positions (hub config.json files); here:
2 layers, hidden 64, 4 heads, FFN 128, 64 positions. The configs are written from those fields, as far as
they are known offline; nothing here was downloaded.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from bertgen.tokenization import SAMPLE_CORPUS, BertGenerationTokenizer

SMALL = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
             max_position_embeddings=64, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
             hidden_act="gelu", layer_norm_eps=1e-12, initializer_range=0.02)


def _roberta_tokenizer(directory: Path) -> int:
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train([str(SAMPLE_CORPUS)], vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(directory))
    (directory / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "RobertaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>",
         "unk_token": "<unk>", "mask_token": "<mask>", "sep_token": "</s>", "cls_token": "<s>",
         "model_max_length": 512}))
    return bpe.get_vocab_size()


def _spiece_tokenizer(directory: Path) -> int:
    tok = BertGenerationTokenizer.train(SAMPLE_CORPUS, vocab_size=400)
    tok.save_pretrained(directory)
    return tok.vocab_size


def _perturb(model, seed: int) -> None:
    """std 0.02 leaves every logit near zero and generation degenerate; larger weights make it informative."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" not in name:
                p.normal_(0, 0.2)


def encoder_decoder(directory: Path, kind: str, seed: int = 0) -> Path:
    """kind: "roberta2roberta_L-24_discofuse" or "bert2bert_L-24_wmt_de_en"."""
    from transformers import BertGenerationConfig, BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel

    directory.mkdir(parents=True, exist_ok=True)
    if kind.startswith("roberta"):
        vocab, ids = _roberta_tokenizer(directory), dict(bos_token_id=0, eos_token_id=2, pad_token_id=1)
    else:
        vocab, ids = _spiece_tokenizer(directory), dict(bos_token_id=2, eos_token_id=1, pad_token_id=0)
    settings = dict(SMALL, vocab_size=vocab, **ids)
    encoder = BertGenerationEncoder(BertGenerationConfig(**settings))
    decoder = BertGenerationDecoder(BertGenerationConfig(**settings, is_decoder=True, add_cross_attention=True))
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    _perturb(model, seed)
    model.config.decoder_start_token_id = ids["bos_token_id"]
    model.config.pad_token_id, model.config.eos_token_id = ids["pad_token_id"], ids["eos_token_id"]
    model.config.tie_encoder_decoder = False
    model.generation_config.decoder_start_token_id = ids["bos_token_id"]
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = ids["pad_token_id"], ids["eos_token_id"]
    model.save_pretrained(directory)
    return directory


def bbc_encoder(directory: Path, seed: int = 0) -> Path:
    from transformers import BertGenerationConfig, BertGenerationEncoder

    directory.mkdir(parents=True, exist_ok=True)
    vocab = _spiece_tokenizer(directory)
    model = BertGenerationEncoder(BertGenerationConfig(**SMALL, vocab_size=vocab, bos_token_id=2, eos_token_id=1,
                                                       pad_token_id=0))
    _perturb(model, seed)
    model.save_pretrained(directory)
    return directory


# PretrainedConfig's fields as transformers 3.x wrote them into every config.json (the released google/* checkpoints
# date from then): generation settings at their defaults and "return_dict": false among them.
TRANSFORMERS_3_FIELDS = dict(
    return_dict=False, output_hidden_states=False, output_attentions=False, torchscript=False, use_bfloat16=False,
    pruned_heads={}, tie_word_embeddings=True, is_encoder_decoder=False, is_decoder=False, add_cross_attention=False,
    tie_encoder_decoder=False, max_length=20, min_length=0, do_sample=False, early_stopping=False, num_beams=1,
    temperature=1.0, top_k=50, top_p=1.0, repetition_penalty=1.0, length_penalty=1.0, no_repeat_ngram_size=0,
    bad_words_ids=None, num_return_sequences=1, chunk_size_feed_forward=0, architectures=None, finetuning_task=None,
    id2label={"0": "LABEL_0", "1": "LABEL_1"}, label2id={"LABEL_0": 0, "LABEL_1": 1}, tokenizer_class=None,
    prefix=None, bos_token_id=None, pad_token_id=None, eos_token_id=None, sep_token_id=None,
    decoder_start_token_id=None, task_specific_params=None, xla_device=None, _name_or_path="",
    gradient_checkpointing=False, use_cache=True)


def as_transformers_3(directory: Path, **fields) -> Path:
    """Rewrite a checkpoint's config.json as transformers 3.x wrote it: every PretrainedConfig field at the top
    level and in each stack (the file's own values kept, `fields` set everywhere on top), and no
    generation_config.json (3.x had none)."""
    path = directory / "config.json"
    config = json.loads(path.read_text())

    def old(section: dict) -> dict:
        return {**TRANSFORMERS_3_FIELDS, **section, **fields, "transformers_version": "3.4.0"}

    for side in ("encoder", "decoder"):
        if side in config:
            config[side] = old(config[side])
    path.write_text(json.dumps(old(config), indent=2))
    (directory / "generation_config.json").unlink(missing_ok=True)
    return directory
