"""transformers' tests/models/bert_generation/test_modeling_bert_generation.py, ported to bertgen's names.

Same tester sizes, inputs and expected values; the ModelTesterMixin / ConfigTester checks it inherits are
ported where they apply to a model without heads for classification (below, `test_common_*`).

Skipped, as the port's rules allow:
- test_model_from_pretrained and both *IntegrationTest classes: numbers from the hub checkpoint
  google/bert_for_seq_generation_L-24_bbc_encoder (no network here); the local stand-in of that checkpoint is
  exercised in test_page_usages.py against transformers instead.
- GenerationTesterMixin's assisted / contrastive checks (bertgen has neither); its beam search check is
  ported with left-padded prompts (test_beam_search_generate_with_left_padding); greedy and sampling are
  compared with transformers in test_page_usages.py.
- PipelineTesterMixin ("feature-extraction", "text-generation"): bertgen's pipeline is text2text-generation.
- Mixin checks of TF/Flax/torchscript/multi-GPU/SDPA-dispatch/attn_implementation, and ConfigTester's
  num_labels/id2label checks (BertGeneration has no classification heads).
"""
from __future__ import annotations

import dataclasses
import json
import unittest

import pytest
import torch

from bertgen import BertGenerationConfig, BertGenerationDecoder, BertGenerationEncoder
from bertgen.config import ConfigError
from tests.support.hf_testing import floats_tensor, ids_tensor, random_attention_mask

pytestmark = pytest.mark.usefixtures("one_thread")


class BertGenerationEncoderTester:
    def __init__(self, parent, batch_size=13, seq_length=7, is_training=True, use_input_mask=True, vocab_size=99,
                 hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37, hidden_act="gelu",
                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=50,
                 initializer_range=0.02, use_labels=True, scope=None):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = is_training
        self.use_input_mask = use_input_mask
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.use_labels = use_labels
        self.scope = scope

    def prepare_config_and_inputs(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        input_mask = random_attention_mask([self.batch_size, self.seq_length]) if self.use_input_mask else None
        token_labels = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        return self.get_config(), input_ids, input_mask, token_labels

    def get_config(self):
        return BertGenerationConfig(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads, intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act, hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            max_position_embeddings=self.max_position_embeddings, is_decoder=False,
            initializer_range=self.initializer_range)

    def prepare_config_and_inputs_for_decoder(self):
        config, input_ids, input_mask, token_labels = self.prepare_config_and_inputs()
        config.is_decoder = True
        encoder_hidden_states = floats_tensor([self.batch_size, self.seq_length, self.hidden_size])
        encoder_attention_mask = ids_tensor([self.batch_size, self.seq_length], vocab_size=2)
        return config, input_ids, input_mask, token_labels, encoder_hidden_states, encoder_attention_mask

    def create_and_check_model(self, config, input_ids, input_mask, token_labels, **kwargs):
        model = BertGenerationEncoder(config=config).eval()
        result = model(input_ids, attention_mask=input_mask)
        result = model(input_ids)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))

    def create_and_check_model_as_decoder(self, config, input_ids, input_mask, token_labels, encoder_hidden_states,
                                          encoder_attention_mask, **kwargs):
        config.add_cross_attention = True
        model = BertGenerationEncoder(config=config).eval()
        result = model(input_ids, attention_mask=input_mask, encoder_hidden_states=encoder_hidden_states,
                       encoder_attention_mask=encoder_attention_mask)
        result = model(input_ids, attention_mask=input_mask, encoder_hidden_states=encoder_hidden_states)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))

    def create_and_check_decoder_model_past_large_inputs(self, config, input_ids, input_mask, token_labels,
                                                         encoder_hidden_states, encoder_attention_mask, **kwargs):
        config.is_decoder = True
        config.add_cross_attention = True
        model = BertGenerationDecoder(config=config).eval()
        outputs = model(input_ids, attention_mask=input_mask, encoder_hidden_states=encoder_hidden_states,
                        encoder_attention_mask=encoder_attention_mask, use_cache=True)
        past_key_values = outputs.past_key_values
        next_tokens = ids_tensor((self.batch_size, 3), config.vocab_size)
        next_mask = ids_tensor((self.batch_size, 3), vocab_size=2)
        next_input_ids = torch.cat([input_ids, next_tokens], dim=-1)
        next_attention_mask = torch.cat([input_mask, next_mask], dim=-1)
        output_from_no_past = model(next_input_ids, attention_mask=next_attention_mask,
                                    encoder_hidden_states=encoder_hidden_states,
                                    encoder_attention_mask=encoder_attention_mask,
                                    output_hidden_states=True)["hidden_states"][0]
        output_from_past = model(next_tokens, attention_mask=next_attention_mask,
                                 encoder_hidden_states=encoder_hidden_states,
                                 encoder_attention_mask=encoder_attention_mask, past_key_values=past_key_values,
                                 output_hidden_states=True)["hidden_states"][0]
        random_slice_idx = ids_tensor((1,), output_from_past.shape[-1]).item()
        output_from_no_past_slice = output_from_no_past[:, -3:, random_slice_idx].detach()
        output_from_past_slice = output_from_past[:, :, random_slice_idx].detach()
        self.parent.assertTrue(output_from_past_slice.shape[1] == next_tokens.shape[1])
        self.parent.assertTrue(torch.allclose(output_from_past_slice, output_from_no_past_slice, atol=1e-3))

    def create_and_check_for_causal_lm(self, config, input_ids, input_mask, token_labels, *args):
        model = BertGenerationDecoder(config).eval()
        result = model(input_ids, attention_mask=input_mask, labels=token_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))

    def prepare_config_and_inputs_for_common(self):
        config, input_ids, input_mask, token_labels = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": input_mask}


class BertGenerationEncoderTest(unittest.TestCase):
    all_model_classes = (BertGenerationEncoder, BertGenerationDecoder)

    def setUp(self):
        self.model_tester = BertGenerationEncoderTester(self)

    # ------------------------------------------------------------------------------------------ the file's own

    def test_config(self):
        # ConfigTester(self, config_class=BertGenerationConfig, hidden_size=37).run_common_tests(); bertgen
        # validates at construction, so 37 with the default 16 heads is refused (README: Differences) ...
        with pytest.raises(ConfigError, match="hidden_size \\(37\\) must be divisible by num_attention_heads"):
            BertGenerationConfig(hidden_size=37)
        # ... and the common checks run with 37 heads
        inputs = {"hidden_size": 37, "num_attention_heads": 37}
        config = BertGenerationConfig(**inputs)
        for name in ("hidden_size", "num_attention_heads", "num_hidden_layers", "vocab_size"):
            self.assertTrue(hasattr(config, name), name)
        config.hidden_size, config.num_hidden_layers = 74, 3  # common properties are settable
        self.assertEqual((config.hidden_size, config.num_hidden_layers), (74, 3))
        config = BertGenerationConfig(**inputs)
        for key, value in inputs.items():  # create_and_test_config_to_json_string
            self.assertEqual(json.loads(config.to_json_string())[key], value)
        with self.subTest("to_json_file / from_json_file / save_pretrained / subfolder"):
            import tempfile
            with tempfile.TemporaryDirectory() as tmp:
                config.to_json_file(f"{tmp}/config.json")
                self.assertEqual(BertGenerationConfig.from_json_file(f"{tmp}/config.json").to_dict(), config.to_dict())
                config.save_pretrained(tmp)
                self.assertEqual(BertGenerationConfig.from_pretrained(tmp).to_dict(), config.to_dict())
                config.save_pretrained(f"{tmp}/bert")
                self.assertEqual(BertGenerationConfig.from_pretrained(tmp, subfolder="bert").to_dict(), config.to_dict())
        self.assertIsNotNone(BertGenerationConfig())  # check_config_can_be_init_without_params

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_model_as_bert(self):
        config, input_ids, input_mask, token_labels = self.model_tester.prepare_config_and_inputs()
        config.model_type = "bert"
        self.model_tester.create_and_check_model(config, input_ids, input_mask, token_labels)

    def test_model_as_decoder(self):
        self.model_tester.create_and_check_model_as_decoder(*self.model_tester.prepare_config_and_inputs_for_decoder())

    def test_decoder_model_past_with_large_inputs(self):
        self.model_tester.create_and_check_decoder_model_past_large_inputs(
            *self.model_tester.prepare_config_and_inputs_for_decoder())

    def test_model_as_decoder_with_default_input_mask(self):
        config, input_ids, _, token_labels, encoder_hidden_states, encoder_attention_mask = \
            self.model_tester.prepare_config_and_inputs_for_decoder()
        self.model_tester.create_and_check_model_as_decoder(config, input_ids, None, token_labels,
                                                            encoder_hidden_states, encoder_attention_mask)

    def test_for_causal_lm(self):
        self.model_tester.create_and_check_for_causal_lm(*self.model_tester.prepare_config_and_inputs_for_decoder())

    # -------------------------------------------------------------------------- ModelTesterMixin, ported

    def _models(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for cls in self.all_model_classes:
            yield cls, dataclasses.replace(config, is_decoder=cls is BertGenerationDecoder), inputs

    def test_common_attention_outputs(self):
        T = self.model_tester.seq_length
        for cls, config, inputs in self._models():
            for model in (cls(config).eval(), cls(dataclasses.replace(config, output_attentions=True)).eval()):
                out = model(**inputs, output_attentions=True) if not model.config.output_attentions else model(**inputs)
                self.assertEqual(len(out.attentions), config.num_hidden_layers)
                self.assertEqual(out.attentions[0].shape[-3:], (config.num_attention_heads, T, T))
            self.assertNotIn("attentions", cls(config).eval()(**inputs))

    def test_common_hidden_states_output(self):
        B, T, H = self.model_tester.batch_size, self.model_tester.seq_length, self.model_tester.hidden_size
        for cls, config, inputs in self._models():
            for model, kwargs in ((cls(config).eval(), {"output_hidden_states": True}),
                                  (cls(dataclasses.replace(config, output_hidden_states=True)).eval(), {})):
                states = model(**inputs, **kwargs).hidden_states
                self.assertEqual(len(states), config.num_hidden_layers + 1)
                self.assertEqual(states[0].shape, (B, T, H))
                if cls is BertGenerationEncoder:
                    self.assertTrue(torch.equal(states[-1], model(**inputs).last_hidden_state))

    def test_common_model_outputs_equivalence(self):
        for cls, config, inputs in self._models():
            model = cls(config).eval()
            with torch.no_grad():
                as_dict = model(**inputs, output_hidden_states=True, output_attentions=True)
                as_tuple = model(**inputs, output_hidden_states=True, output_attentions=True, return_dict=False)
            self.assertIsInstance(as_tuple, tuple)
            flat = lambda x: [t for v in x for t in (v if isinstance(v, tuple) else (v,)) if torch.is_tensor(t)]  # noqa: E731
            for a, b in zip(flat(as_dict.to_tuple()), flat(as_tuple), strict=True):
                self.assertTrue(torch.equal(a, b))
            self.assertTrue(torch.equal(as_dict[0], as_tuple[0]))

    def test_common_save_load(self):
        import tempfile
        for cls, config, inputs in self._models():
            model = cls(config).eval()
            with torch.no_grad(), tempfile.TemporaryDirectory() as tmp:
                before = model(**inputs)[0]
                model.save_pretrained(tmp)
                after = cls.from_pretrained(tmp)(**inputs)[0]
            self.assertLessEqual((before - after).abs().max().item(), 1e-5)

    def test_common_model_get_set_embeddings(self):
        for cls, config, _ in self._models():
            model = cls(config)
            self.assertIsInstance(model.get_input_embeddings(), torch.nn.Embedding)
            model.set_input_embeddings(torch.nn.Embedding(10, 10))
            self.assertEqual(model.get_input_embeddings().weight.shape, (10, 10))
            out = model.get_output_embeddings()
            self.assertTrue(out is None or isinstance(out, torch.nn.Linear))

    def test_common_resize_tokens_embeddings(self):
        for cls, config, inputs in self._models():
            model = cls(config).eval()
            V = config.vocab_size
            model.resize_token_embeddings(V + 10)
            self.assertEqual(model.config.vocab_size, V + 10)
            self.assertEqual(model.get_input_embeddings().weight.shape[0], V + 10)
            model(**inputs)
            model.resize_token_embeddings(V - 15)
            self.assertEqual(model.get_input_embeddings().weight.shape[0], V - 15)
            model(input_ids=inputs["input_ids"].clamp(max=V - 16), attention_mask=inputs["attention_mask"])
            model.resize_token_embeddings(V, pad_to_multiple_of=64)
            self.assertEqual(model.get_input_embeddings().weight.shape[0] % 64, 0)
            if cls is BertGenerationDecoder:  # the tied head follows
                self.assertIs(model.get_output_embeddings().weight, model.get_input_embeddings().weight)
                self.assertEqual(model(**inputs).logits.shape[-1], 128)

    def test_common_inputs_embeds(self):
        for cls, config, inputs in self._models():
            model = cls(config).eval()
            embeds = model.get_input_embeddings()(inputs["input_ids"])
            with torch.no_grad():
                by_ids = model(**inputs)[0]
                by_embeds = model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"])[0]
            self.assertTrue(torch.allclose(by_ids, by_embeds, atol=1e-6))

    def test_common_training_and_gradient_checkpointing(self):
        config, input_ids, input_mask, labels = self.model_tester.prepare_config_and_inputs()
        config = dataclasses.replace(config, is_decoder=True, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        losses = []
        for checkpointing in (False, True):
            torch.manual_seed(0)
            model = BertGenerationDecoder(config).train()
            if checkpointing:
                model.gradient_checkpointing_enable()
                self.assertTrue(model.is_gradient_checkpointing)
            loss = model(input_ids, attention_mask=input_mask, labels=labels).loss
            loss.backward()
            losses.append((loss.item(), model.lm_head.bias.grad.clone()))
        self.assertAlmostEqual(losses[0][0], losses[1][0], places=5)
        self.assertTrue(torch.allclose(losses[0][1], losses[1][1], atol=1e-6))


# ------------------------------------------------------------ GenerationTesterMixin: the standalone decoder

def _their_decoder(tmp_path, seed=0):
    """A transformers BertGenerationDecoder of the tester's sizes with weights that make generation
    informative (pad 0, eos 1), saved and loaded into bertgen."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    config = transformers.BertGenerationConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=50, is_decoder=True, pad_token_id=0, eos_token_id=1, bos_token_id=2)
    theirs = transformers.BertGenerationDecoder(config).eval()
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if "LayerNorm" not in name:
                p.normal_(0, 0.3)
        theirs.lm_head.bias[1] += 3.0  # EOS now and then, so that beams finish at different lengths
    theirs.save_pretrained(tmp_path)
    return theirs, BertGenerationDecoder.from_pretrained(tmp_path)


def _left_padded_prompts():
    """Three prompts of lengths 6, 3 and 4, left-padded with pad id 0, and their attention mask."""
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(3, 99, (3, 6), generator=g)
    mask = torch.ones_like(ids)
    for row, length in ((1, 3), (2, 4)):
        ids[row, :6 - length], mask[row, :6 - length] = 0, 0
    return ids, mask


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=4), dict(num_beams=4, num_return_sequences=2),
                                      dict(num_beams=3, length_penalty=2.0, no_repeat_ngram_size=2),
                                      dict(num_beams=4, early_stopping=True, min_new_tokens=3)])
def test_beam_search_generate_with_left_padding(tmp_path, settings):
    """GenerationTesterMixin.test_beam_search_generate's check, and prompts of unequal length (left padding):
    the standalone decoder's tokens are transformers', with the mask given and inferred from the pad id."""
    theirs, ours = _their_decoder(tmp_path)
    ids, mask = _left_padded_prompts()
    expected = theirs.generate(ids, attention_mask=mask, max_new_tokens=9, do_sample=False, **settings)
    assert torch.equal(ours.generate(ids, attention_mask=mask, max_new_tokens=9, **settings), expected)
    assert torch.equal(ours.generate(ids, max_new_tokens=9, **settings), expected)  # mask inferred from pad 0
    if settings.get("num_return_sequences", 1) == 1:  # a padded prompt continues as it does alone
        alone = ours.generate(ids[1:2, 3:], max_new_tokens=9, **settings)
        assert expected[1, 3:3 + alone.shape[1]].tolist() == alone[0].tolist()
