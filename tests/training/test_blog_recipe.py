"""The warm-starting blog's recipe (huggingface.co/blog/warm-starting-encoder-decoder), run as written with
bertgen's names on the embedded BERT checkpoint, cut to a few steps: from_encoder_decoder_pretrained, the config
fields set on model.config, datasets.map padding to max_length with -100 labels, training, the checkpoint folder
loaded as the notebook loads ./checkpoint-16, generate, batch_decode(skip_special_tokens=True) and ROUGE-2.
Each step's agreement with transformers is tested where it lives (test_trainer_recipe.py, generation/test_api.py);
this checks that the steps fit together."""
from __future__ import annotations

import json
import warnings

import datasets
import pytest
import torch

from bertgen import BertTokenizer, EncoderDecoderModel, metrics
from bertgen.hub import packaged_checkpoint_dir
from bertgen.training.trainer import Trainer, TrainingArguments, read_log

pytestmark = pytest.mark.usefixtures("one_thread")
ARTICLES = ["the storm was over by the morning and the river fell slowly",
            "a new bridge opened in the town after two years of work",
            "the team won the final game of the season at home",
            "prices of bread and milk rose again in the spring"] * 2
HIGHLIGHTS = ["the storm was over", "a new bridge opened", "the team won the final", "prices rose again"] * 2


def test_the_blogs_recipe_runs_with_bertgen_names(tmp_path):
    checkpoint = str(packaged_checkpoint_dir("minilm-l6"))
    tokenizer = BertTokenizer.from_pretrained(checkpoint)
    torch.manual_seed(0)
    bert2bert = EncoderDecoderModel.from_encoder_decoder_pretrained(checkpoint, checkpoint, layers=1)
    bert2bert.config.decoder_start_token_id = tokenizer.cls_token_id
    bert2bert.config.eos_token_id = tokenizer.sep_token_id
    bert2bert.config.pad_token_id = tokenizer.pad_token_id
    bert2bert.config.vocab_size = bert2bert.config.encoder.vocab_size
    bert2bert.config.max_length = 12
    bert2bert.config.min_length = 3
    bert2bert.config.no_repeat_ngram_size = 3
    bert2bert.config.early_stopping = True
    bert2bert.config.length_penalty = 2.0
    bert2bert.config.num_beams = 4

    def process_data_to_model_inputs(batch):
        inputs = tokenizer(batch["article"], padding="max_length", truncation=True, max_length=24)
        outputs = tokenizer(batch["highlights"], padding="max_length", truncation=True, max_length=12)
        batch["input_ids"], batch["attention_mask"] = inputs.input_ids, inputs.attention_mask
        batch["decoder_attention_mask"] = outputs.attention_mask
        batch["labels"] = [[-100 if t == tokenizer.pad_token_id else t for t in labels] for labels in outputs.input_ids]
        return batch

    train_data = datasets.Dataset.from_dict({"article": ARTICLES, "highlights": HIGHLIGHTS}).map(
        process_data_to_model_inputs, batched=True, batch_size=4, remove_columns=["article", "highlights"])
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=4, batch_size=4, learning_rate=1e-4,
                             warmup_steps=1, log_every=1, progress=False, precision="fp32")
    Trainer(bert2bert, args, train_data, pad_token_id=tokenizer.pad_token_id, tokenizer=tokenizer).train()
    losses = [r["loss"] for r in read_log(tmp_path / "log.jsonl") if r["kind"] == "train"]
    assert len(losses) == 4 and all(0 < loss < 20 for loss in losses)

    # the notebook's `EncoderDecoderModel.from_pretrained("./checkpoint-16")`: settings kept, no note needed
    folder = tmp_path / "checkpoint"
    assert not {"num_beams", "max_length"} & set(json.loads((folder / "config.json").read_text()))
    model = EncoderDecoderModel.from_pretrained(folder)
    assert (model.generation_config.num_beams, model.generation_config.max_length) == (4, 12)
    test = tokenizer(ARTICLES[:4], padding="max_length", truncation=True, max_length=24, return_tensors="pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs = model.generate(test.input_ids, attention_mask=test.attention_mask)
    assert outputs.shape[1] <= 12 and bool((outputs[:, 0] == tokenizer.cls_token_id).all())
    predictions = BertTokenizer.from_pretrained(folder).batch_decode(outputs, skip_special_tokens=True)
    assert all(isinstance(p, str) and "[CLS]" not in p and "[PAD]" not in p for p in predictions)
    assert 0.0 <= metrics.rouge(predictions, HIGHLIGHTS[:4])["rouge2"] <= 100.0
