"""bertgen: warm-started BERT encoder-decoders (BertGeneration) in plain PyTorch, with transformers' names."""
from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.modeling import BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel

__version__ = "0.1.0"
__all__ = [
    "BertGenerationConfig", "EncoderDecoderConfig",
    "BertGenerationEncoder", "BertGenerationDecoder", "EncoderDecoderModel",
]
