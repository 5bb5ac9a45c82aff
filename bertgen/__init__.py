"""bertgen: warm-started BERT encoder-decoders (BertGeneration) in plain PyTorch."""
__version__ = "0.1.0"
