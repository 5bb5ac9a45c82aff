"""Model configuration: dataclasses with transformers' field names, read from and written to `config.json`.

`BertGenerationConfig` describes one stack (encoder or decoder), `BertConfig` / `RobertaConfig` transformers' BERT
and RoBERTa stacks, `GPT2Config` a GPT-2 decoder; `EncoderDecoderConfig` holds two of them plus the decoding ids.
Keys bertgen does not know (`architectures`, `transformers_version`, ...) are kept in `extra` and written back
unchanged, so a config survives a round trip through either library.
"""
from bertgen.config.base import CONFIG_NAME, ConfigError, check_types, read_json_object
from bertgen.config.bert import STACK_CONFIGS, BertConfig, BertGenerationConfig, RobertaConfig
from bertgen.config.encoder_decoder import DECODER_CONFIGS, EncoderDecoderConfig
from bertgen.config.gpt2 import GPT2Config

__all__ = ["CONFIG_NAME", "ConfigError", "check_types", "read_json_object", "BertGenerationConfig", "BertConfig",
           "RobertaConfig", "GPT2Config", "EncoderDecoderConfig", "STACK_CONFIGS", "DECODER_CONFIGS"]
