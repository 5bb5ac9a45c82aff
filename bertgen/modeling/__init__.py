"""The models: BertGeneration encoder and decoder, and the encoder-decoder around them."""
from bertgen.modeling.bert_generation import BertGenerationDecoder, BertGenerationEncoder, causal_mask, padding_mask
from bertgen.modeling.inputs import check_input_ids, check_mask
from bertgen.modeling.encoder_decoder import EncoderDecoderModel, shift_tokens_right
from bertgen.modeling.outputs import BaseModelOutput, CausalLMOutput, Seq2SeqLMOutput

__all__ = ["BertGenerationEncoder", "BertGenerationDecoder", "EncoderDecoderModel", "BaseModelOutput",
           "CausalLMOutput", "Seq2SeqLMOutput", "causal_mask", "check_input_ids", "check_mask", "padding_mask",
           "shift_tokens_right"]
