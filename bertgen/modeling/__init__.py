"""The models: BertGeneration encoder and decoder, GPT-2, the encoder-decoder around them, and warm_start, which
builds one from a pretrained checkpoint as the paper's schemes plan it (bertgen.warmstart)."""
from bertgen.modeling.attention import attend, causal_mask, padding_mask
from bertgen.modeling.bert_generation import BertGenerationDecoder, BertGenerationEncoder
from bertgen.modeling.inputs import check_input_ids, check_mask
from bertgen.modeling.gpt2 import GPT2LMHeadModel, GPT2Model
from bertgen.modeling.encoder_decoder import EncoderDecoderModel, shift_tokens_right
from bertgen.modeling.outputs import BaseModelOutput, CausalLMOutput, Seq2SeqLMOutput
from bertgen.modeling.pretrained_model import PreTrainedModel
from bertgen.modeling.warm_start import warm_start

__all__ = ["BertGenerationEncoder", "BertGenerationDecoder", "EncoderDecoderModel", "GPT2Model", "GPT2LMHeadModel",
           "PreTrainedModel", "BaseModelOutput", "CausalLMOutput", "Seq2SeqLMOutput", "attend", "causal_mask",
           "check_input_ids", "check_mask", "padding_mask", "shift_tokens_right", "warm_start"]
