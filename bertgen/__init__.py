"""bertgen: warm-started BERT encoder-decoders (BertGeneration) in plain PyTorch, with transformers' names."""
from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.generation import GenerationConfig
from bertgen.modeling import BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel
from bertgen.pipeline import pipeline
from bertgen.tokenization import BertGenerationTokenizer, FastTokenizer, load_tokenizer
from bertgen.warmstart import warm_start
from bertgen.warmstart_report import WarmStartReport

__version__ = "0.1.0"
__all__ = [
    "BertGenerationConfig", "EncoderDecoderConfig", "GenerationConfig",
    "BertGenerationEncoder", "BertGenerationDecoder", "EncoderDecoderModel",
    "BertGenerationTokenizer", "FastTokenizer", "load_tokenizer",
    "warm_start", "WarmStartReport", "pipeline",
]
