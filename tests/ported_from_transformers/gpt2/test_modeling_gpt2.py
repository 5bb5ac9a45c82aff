"""The GPT2Model / GPT2LMHeadModel part of transformers' tests/models/gpt2/test_modeling_gpt2.py, on bertgen's
names: `GPT2ModelTester` and the checks `GPT2ModelTest` runs on the body and the LM head (the cache, the attention
mask with the cache, gradient checkpointing, scaled and upcast attention, the residual initialization), each also
run with `add_cross_attention=True` and encoder states, as a bert2gpt2 decoder is.

Same tester sizes and inputs. Skipped, as the port's rules allow: head_mask (bertgen has no head masking: the
argument is not taken, so the calls pass none), GPT2DoubleHeadsModel / ForQuestionAnswering /
ForSequenceClassification / ForTokenClassification (other heads), the common ModelTesterMixin /
GenerationTesterMixin / PipelineTesterMixin suites, and the @slow hub tests (openai-community/gpt2's weights and
their numbers; tests/modeling/test_gpt2.py runs tiny GPT-2s against transformers instead).
"""
from __future__ import annotations

import math
import unittest

import pytest
import torch

from bertgen.config import GPT2Config
from bertgen.modeling import GPT2LMHeadModel, GPT2Model
from tests.support.hf_testing import floats_tensor, ids_tensor, random_attention_mask

pytestmark = pytest.mark.usefixtures("one_thread")


class GPT2ModelTester:
    def __init__(self, parent, batch_size=14, seq_length=7, is_training=True, use_token_type_ids=True,
                 use_input_mask=True, use_labels=True, vocab_size=99, hidden_size=32, num_hidden_layers=2,
                 num_attention_heads=4, intermediate_size=37, hidden_act="gelu", hidden_dropout_prob=0.1,
                 attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=16,
                 type_sequence_label_size=2, initializer_range=0.02, num_labels=3, num_choices=4,
                 add_cross_attention=False):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = is_training
        self.use_token_type_ids = use_token_type_ids
        self.use_input_mask = use_input_mask
        self.use_labels = use_labels
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.type_sequence_label_size = type_sequence_label_size
        self.initializer_range = initializer_range
        self.num_labels = num_labels
        self.num_choices = num_choices
        self.bos_token_id = vocab_size - 1
        self.eos_token_id = vocab_size - 1
        self.pad_token_id = vocab_size - 1
        self.add_cross_attention = add_cross_attention

    def prepare_config_and_inputs(self, scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        input_mask = random_attention_mask([self.batch_size, self.seq_length]) if self.use_input_mask else None
        token_type_ids = ids_tensor([self.batch_size, self.seq_length], self.type_vocab_size) \
            if self.use_token_type_ids else None
        sequence_labels = token_labels = choice_labels = None
        if self.use_labels:
            sequence_labels = ids_tensor([self.batch_size], self.type_sequence_label_size)
            token_labels = ids_tensor([self.batch_size, self.seq_length], self.num_labels)
            choice_labels = ids_tensor([self.batch_size], self.num_choices)
        config = self.get_config(scale_attn_by_inverse_layer_idx=scale_attn_by_inverse_layer_idx,
                                 reorder_and_upcast_attn=reorder_and_upcast_attn)
        # with cross-attention (a bert2gpt2 decoder), every forward also reads encoder states
        self.encoder_kwargs = {}
        if self.add_cross_attention:
            self.encoder_kwargs = {
                "encoder_hidden_states": floats_tensor([self.batch_size, self.seq_length, self.hidden_size]),
                "encoder_attention_mask": random_attention_mask([self.batch_size, self.seq_length])}
        return config, input_ids, input_mask, token_type_ids, sequence_labels, token_labels, choice_labels

    def get_config(self, scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False):
        return GPT2Config(
            vocab_size=self.vocab_size, n_embd=self.hidden_size, n_layer=self.num_hidden_layers,
            n_head=self.num_attention_heads, n_inner=self.intermediate_size, activation_function=self.hidden_act,
            resid_pdrop=self.hidden_dropout_prob, attn_pdrop=self.attention_probs_dropout_prob,
            n_positions=self.max_position_embeddings, initializer_range=self.initializer_range, use_cache=True,
            bos_token_id=self.bos_token_id, eos_token_id=self.eos_token_id, pad_token_id=self.pad_token_id,
            scale_attn_by_inverse_layer_idx=scale_attn_by_inverse_layer_idx,
            reorder_and_upcast_attn=reorder_and_upcast_attn, add_cross_attention=self.add_cross_attention,
            is_decoder=self.add_cross_attention)

    def create_and_check_gpt2_model(self, config, input_ids, input_mask, token_type_ids, *args):
        model = GPT2Model(config=config).eval()
        model(input_ids, token_type_ids=token_type_ids, **self.encoder_kwargs)
        result = model(input_ids, **self.encoder_kwargs)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))
        self.parent.assertEqual(result.past_key_values.num_layers, config.n_layer)

    def create_and_check_gpt2_model_past(self, config, input_ids, input_mask, token_type_ids, *args):
        model = GPT2Model(config=config).eval()
        # first forward pass
        outputs = model(input_ids, token_type_ids=token_type_ids, use_cache=True, **self.encoder_kwargs)
        outputs_use_cache_conf = model(input_ids, token_type_ids=token_type_ids, **self.encoder_kwargs)
        outputs_no_past = model(input_ids, token_type_ids=token_type_ids, use_cache=False, **self.encoder_kwargs)
        self.parent.assertTrue(len(outputs) == len(outputs_use_cache_conf))
        self.parent.assertTrue(len(outputs) == len(outputs_no_past) + 1)
        output, past = outputs.to_tuple()
        # create hypothetical next token and extent to next_input_ids
        next_tokens = ids_tensor((self.batch_size, 1), config.vocab_size)
        next_token_types = ids_tensor([self.batch_size, 1], self.type_vocab_size)
        # append to next input_ids and token_type_ids
        next_input_ids = torch.cat([input_ids, next_tokens], dim=-1)
        next_token_type_ids = torch.cat([token_type_ids, next_token_types], dim=-1)
        output_from_no_past = model(next_input_ids, token_type_ids=next_token_type_ids,
                                    **self.encoder_kwargs)["last_hidden_state"]
        output_from_past = model(next_tokens, token_type_ids=next_token_types, past_key_values=past,
                                 **self.encoder_kwargs)["last_hidden_state"]
        # select random slice
        random_slice_idx = ids_tensor((1,), output_from_past.shape[-1]).item()
        output_from_no_past_slice = output_from_no_past[:, -1, random_slice_idx].detach()
        output_from_past_slice = output_from_past[:, 0, random_slice_idx].detach()
        # test that outputs are equal for slice
        self.parent.assertTrue(torch.allclose(output_from_past_slice, output_from_no_past_slice, atol=1e-3))

    def create_and_check_gpt2_model_attention_mask_past(self, config, input_ids, input_mask, token_type_ids, *args):
        model = GPT2Model(config=config).eval()
        # create attention mask
        attn_mask = torch.ones(input_ids.shape, dtype=torch.long)
        half_seq_length = self.seq_length // 2
        attn_mask[:, half_seq_length:] = 0
        # first forward pass
        output, past = model(input_ids, attention_mask=attn_mask, **self.encoder_kwargs).to_tuple()
        # create hypothetical next token and extent to next_input_ids
        next_tokens = ids_tensor((self.batch_size, 1), config.vocab_size)
        # change a random masked slice from input_ids
        random_seq_idx_to_change = ids_tensor((1,), half_seq_length).item() + 1
        random_other_next_tokens = ids_tensor((self.batch_size, 1), config.vocab_size).squeeze(-1)
        input_ids[:, -random_seq_idx_to_change] = random_other_next_tokens
        # append to next input_ids and attn_mask
        next_input_ids = torch.cat([input_ids, next_tokens], dim=-1)
        attn_mask = torch.cat([attn_mask, torch.ones((attn_mask.shape[0], 1), dtype=torch.long)], dim=1)
        # get two different outputs
        output_from_no_past = model(next_input_ids, attention_mask=attn_mask,
                                    **self.encoder_kwargs)["last_hidden_state"]
        output_from_past = model(next_tokens, past_key_values=past, attention_mask=attn_mask,
                                 **self.encoder_kwargs)["last_hidden_state"]
        # select random slice
        random_slice_idx = ids_tensor((1,), output_from_past.shape[-1]).item()
        output_from_no_past_slice = output_from_no_past[:, -1, random_slice_idx].detach()
        output_from_past_slice = output_from_past[:, 0, random_slice_idx].detach()
        # test that outputs are equal for slice
        self.parent.assertTrue(torch.allclose(output_from_past_slice, output_from_no_past_slice, atol=1e-3))

    def create_and_check_gpt2_model_past_large_inputs(self, config, input_ids, input_mask, token_type_ids, *args):
        model = GPT2Model(config=config).eval()
        # first forward pass
        outputs = model(input_ids, token_type_ids=token_type_ids, attention_mask=input_mask, use_cache=True,
                        **self.encoder_kwargs)
        output, past = outputs.to_tuple()
        # create hypothetical next token and extent to next_input_ids
        next_tokens = ids_tensor((self.batch_size, 3), config.vocab_size)
        next_token_types = ids_tensor([self.batch_size, 3], self.type_vocab_size)
        next_mask = ids_tensor((self.batch_size, 3), vocab_size=2)
        # append to next input_ids and token_type_ids
        next_input_ids = torch.cat([input_ids, next_tokens], dim=-1)
        next_token_type_ids = torch.cat([token_type_ids, next_token_types], dim=-1)
        next_attention_mask = torch.cat([input_mask, next_mask], dim=-1)
        output_from_no_past = model(next_input_ids, token_type_ids=next_token_type_ids,
                                    attention_mask=next_attention_mask, **self.encoder_kwargs)["last_hidden_state"]
        output_from_past = model(next_tokens, token_type_ids=next_token_types, attention_mask=next_attention_mask,
                                 past_key_values=past, **self.encoder_kwargs)["last_hidden_state"]
        self.parent.assertTrue(output_from_past.shape[1] == next_tokens.shape[1])
        # select random slice
        random_slice_idx = ids_tensor((1,), output_from_past.shape[-1]).item()
        output_from_no_past_slice = output_from_no_past[:, -3:, random_slice_idx].detach()
        output_from_past_slice = output_from_past[:, :, random_slice_idx].detach()
        # test that outputs are equal for slice
        self.parent.assertTrue(torch.allclose(output_from_past_slice, output_from_no_past_slice, atol=1e-3))

    def create_and_check_lm_head_model(self, config, input_ids, input_mask, token_type_ids, *args):
        model = GPT2LMHeadModel(config).eval()
        result = model(input_ids, token_type_ids=token_type_ids, labels=input_ids, **self.encoder_kwargs)
        self.parent.assertEqual(result.loss.shape, ())
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))

    def create_and_check_forward_and_backwards(self, config, input_ids, input_mask, token_type_ids, *args,
                                               gradient_checkpointing=False):
        model = GPT2LMHeadModel(config)
        if gradient_checkpointing:
            model.gradient_checkpointing_enable()
        result = model(input_ids, token_type_ids=token_type_ids, labels=input_ids, **self.encoder_kwargs)
        self.parent.assertEqual(result.loss.shape, ())
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))
        result.loss.backward()

    def create_and_check_gpt2_weight_initialization(self, config, *args):
        model = GPT2Model(config)
        model_std = model.config.initializer_range / math.sqrt(2 * model.config.n_layer)
        for key in model.state_dict().keys():
            if "c_proj" in key and "weight" in key:
                self.parent.assertLessEqual(abs(torch.std(model.state_dict()[key]) - model_std), 0.001)
                self.parent.assertLessEqual(abs(torch.mean(model.state_dict()[key]) - 0.0), 0.01)

    def create_and_check_cached_forward_with_and_without_attention_mask(self, config, input_ids, *args):
        model = GPT2Model(config).eval()
        # Prepare cache and non_cache input, needs a full attention mask
        cached_len = input_ids.shape[-1] // 2
        input_mask = torch.ones(size=input_ids.size())
        cache_inputs = {"input_ids": input_ids[:, :cached_len], "attention_mask": input_mask[:, :cached_len]}
        non_cache_inputs = {"input_ids": input_ids[:, cached_len:], "attention_mask": input_mask}
        # Cached forward once with the attention mask provided and the other time without it (which should assume
        # full attention); bertgen's cache grows in place, so each continuation gets its own copy of it
        with_mask = model(**cache_inputs, **self.encoder_kwargs).past_key_values
        without_mask = model(**cache_inputs, **self.encoder_kwargs).past_key_values
        full_outputs_with_attention_mask = model(**non_cache_inputs, past_key_values=with_mask,
                                                 **self.encoder_kwargs).last_hidden_state
        full_outputs_without_attention_mask = model(non_cache_inputs["input_ids"], past_key_values=without_mask,
                                                    **self.encoder_kwargs).last_hidden_state
        self.parent.assertTrue(torch.allclose(full_outputs_with_attention_mask, full_outputs_without_attention_mask,
                                              atol=1e-5))


class GPT2ModelTest(unittest.TestCase):
    add_cross_attention = False

    def setUp(self):
        self.model_tester = GPT2ModelTester(self, add_cross_attention=self.add_cross_attention)

    def test_gpt2_model(self):
        self.model_tester.create_and_check_gpt2_model(*self.model_tester.prepare_config_and_inputs())

    def test_gpt2_model_past(self):
        self.model_tester.create_and_check_gpt2_model_past(*self.model_tester.prepare_config_and_inputs())

    def test_gpt2_model_att_mask_past(self):
        self.model_tester.create_and_check_gpt2_model_attention_mask_past(
            *self.model_tester.prepare_config_and_inputs())

    def test_gpt2_model_past_large_inputs(self):
        self.model_tester.create_and_check_gpt2_model_past_large_inputs(*self.model_tester.prepare_config_and_inputs())

    def test_gpt2_lm_head_model(self):
        self.model_tester.create_and_check_lm_head_model(*self.model_tester.prepare_config_and_inputs())

    def test_gpt2_gradient_checkpointing(self):
        self.model_tester.create_and_check_forward_and_backwards(*self.model_tester.prepare_config_and_inputs(),
                                                                 gradient_checkpointing=True)

    def test_gpt2_scale_attn_by_inverse_layer_idx(self):
        self.model_tester.create_and_check_forward_and_backwards(
            *self.model_tester.prepare_config_and_inputs(scale_attn_by_inverse_layer_idx=True))

    def test_gpt2_reorder_and_upcast_attn(self):
        self.model_tester.create_and_check_forward_and_backwards(
            *self.model_tester.prepare_config_and_inputs(reorder_and_upcast_attn=True))

    def test_gpt2_weight_initialization(self):
        self.model_tester.create_and_check_gpt2_weight_initialization(*self.model_tester.prepare_config_and_inputs())

    def test_cached_forward_with_and_without_attention_mask(self):
        self.model_tester.create_and_check_cached_forward_with_and_without_attention_mask(
            *self.model_tester.prepare_config_and_inputs())


class GPT2WithCrossAttentionModelTest(GPT2ModelTest):
    """The same checks on the decoder of a bert2gpt2: `add_cross_attention=True`, encoder states in every call."""

    add_cross_attention = True
