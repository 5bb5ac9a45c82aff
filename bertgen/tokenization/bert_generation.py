"""BertGenerationTokenizer: a SentencePiece model (`spiece.model`), as transformers' class of that name.

Inputs get no special tokens (`add_special_tokens` changes nothing): in the paper the encoder reads bare
text and the decoder's start (<s>) and end (</s>) tokens come from the model side. Special-token strings
written in a text (`"<s>"`, `"<::::>"`) are cut out first and become their ids; the text between them goes
to SentencePiece piece by piece, exactly as transformers does, so both give the same ids.

`BertGenerationTokenizer.train` builds a vocabulary from a corpus with the special pieces where
BertGenerationConfig's defaults expect them: <pad> 0, </s> 1, <s> 2, then <unk> 3 and <::::> 4.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

import sentencepiece as spm

from bertgen.hub import resolve_checkpoint_dir
from bertgen.tokenization.base import Tokenizer, read_file, read_tokenizer_config, token_content, write_text_atomic

VOCAB_FILE = "spiece.model"
SPIECE_UNDERLINE = "▁"  # SentencePiece's mark for "a space was here"
# Pieces a trained vocabulary starts with. pad/eos/bos ids are BertGenerationConfig's pad/eos/bos_token_id
# defaults; <::::> separates sentences in WikiSplit targets.
TRAINED_SPECIALS = {"pad": (0, "<pad>"), "eos": (1, "</s>"), "bos": (2, "<s>"), "unk": (3, "<unk>")}
SEP_TOKEN = "<::::>"
# The model uses these ids (start, end, unknown): a vocabulary without them cannot serve it. A separator or
# padding piece the model lacks is added after the vocabulary, as transformers adds them (separator first).
REQUIRED_ROLES = ("bos_token", "eos_token", "unk_token")
ADDED_ROLES = ("sep_token", "pad_token")


class BertGenerationTokenizer(Tokenizer):
    """SentencePiece tokenizer with bos <s>, eos </s>, unk <unk>, pad <pad> and sep <::::>.

    `vocab_file` is a spiece.model path; `model_proto` its bytes (what `train` returns a tokenizer from).
    `sp_model_kwargs` go to `sentencepiece.SentencePieceProcessor` (e.g. enable_sampling=True, alpha=0.1,
    nbest_size=-1 for subword regularization), as transformers. `keep_accents` is accepted for transformers'
    code and changes nothing: the SentencePiece model's own normalizer decides, in both libraries.
    """

    tokenizer_class = "BertGenerationTokenizer"

    def __init__(self, vocab_file: str | os.PathLike | None = None, bos_token: str = "<s>", eos_token: str = "</s>",
                 unk_token: str = "<unk>", pad_token: str = "<pad>", sep_token: str = SEP_TOKEN,
                 mask_token: str | None = None, cls_token: str | None = None,
                 model_max_length: int | None = None, *, model_proto: bytes | None = None,
                 sp_model_kwargs: dict[str, Any] | None = None, padding_side: str = "right",
                 keep_accents: bool | None = None, added_tokens: dict[int, str] | None = None):
        if (vocab_file is None) == (model_proto is None):
            raise TypeError("pass either vocab_file (a spiece.model path) or model_proto (its bytes)")
        source = "the trained SentencePiece model" if vocab_file is None else str(vocab_file)
        self._proto = model_proto if vocab_file is None else read_file(Path(vocab_file), "SentencePiece model")
        self.sp_model_kwargs = dict(sp_model_kwargs or {})
        self.sp_model = _load_processor(self._proto, source, self.sp_model_kwargs)
        specials = dict(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, pad_token=pad_token,
                        sep_token=sep_token, mask_token=mask_token, cls_token=cls_token)
        missing = [specials[r] for r in REQUIRED_ROLES if self._piece_id(specials[r]) is None]
        if missing:
            raise ValueError(
                f"{source} lacks the special piece(s) {missing}: BertGenerationTokenizer needs "
                f"{[specials[r] for r in REQUIRED_ROLES]} in the SentencePiece vocabulary. Train one with "
                "BertGenerationTokenizer.train(...), which puts them at ids 0-3, or pass this model's own names "
                "(e.g. pad_token='...')")
        self._added: dict[str, int] = {}  # tokens after the SentencePiece vocabulary -> their ids
        for token_id, token in sorted((added_tokens or {}).items()):  # from a saved tokenizer_config.json
            if token_id != self.sp_model.get_piece_size() + len(self._added):
                raise ValueError(f"{source}: added token {token!r} has id {token_id}, but the next free id is "
                                 f"{self.sp_model.get_piece_size() + len(self._added)}; the tokenizer files disagree")
            self._added[token] = token_id
        for role in ADDED_ROLES:
            if self._token_to_id(specials[role]) is None:
                self._added[specials[role]] = self.sp_model.get_piece_size() + len(self._added)
        super().__init__(specials, model_max_length, source)
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side={padding_side!r}; use 'right' or 'left'")
        self.padding_side = padding_side
        self._specials_changed()

    def _specials_changed(self) -> None:
        # special tokens and added tokens are cut out of a text whole; longest first: leftmost-longest match
        strings = sorted(set(self.all_special_tokens) | set(self._added), key=len, reverse=True)
        self._special_split = re.compile("(" + "|".join(map(re.escape, strings)) + ")")
        self._special_by_text = {t: self._token_to_id(t) for t in strings}

    def _add_to_vocabulary(self, tokens: list[str], special: bool) -> None:
        for token in tokens:
            self._added[token] = len(self)

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, **kwargs: Any) -> BertGenerationTokenizer:
        """Load spiece.model and tokenizer_config.json from a directory or hub id; kwargs override the config."""
        directory = resolve_checkpoint_dir(path_or_id, allow_patterns=["*.json", "*.model"])
        config = read_tokenizer_config(directory)
        settings = {role: token_content(config[role]) for role in
                    ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "mask_token", "cls_token")
                    if config.get(role)}
        if "model_max_length" in config:
            settings["model_max_length"] = config["model_max_length"]
        for key in ("sp_model_kwargs", "padding_side"):
            if key in config:
                settings[key] = config[key]
        decoder = config.get("added_tokens_decoder") or {}
        settings["added_tokens"] = {int(i): token_content(t) for i, t in decoder.items() if int(i) >= _pieces(
            directory / VOCAB_FILE)} if decoder else None
        return cls(directory / VOCAB_FILE, **{**settings, **kwargs})

    @classmethod
    def train(cls, texts_or_files: str | os.PathLike | Iterable[str | os.PathLike], vocab_size: int = 8000,
              model_type: str = "unigram", character_coverage: float = 1.0, **trainer_options: Any
              ) -> BertGenerationTokenizer:
        """Train a SentencePiece vocabulary on a corpus and return its tokenizer.

        texts_or_files: a corpus file path, or a list whose items are texts (str: one or more lines) or
            file paths (pathlib.Path: read line by line).
        model_type: "unigram" (the released BertGeneration vocabularies' kind) or "bpe".
        trainer_options: passed to sentencepiece.SentencePieceTrainer (e.g. input_sentence_size, byte_fallback),
            except the special-piece settings, which this method fixes.
        """
        if model_type not in ("unigram", "bpe"):
            raise ValueError(f"model_type={model_type!r}; use 'unigram' or 'bpe'")
        fixed = {"pad_id", "eos_id", "bos_id", "unk_id", "pad_piece", "eos_piece", "bos_piece", "unk_piece",
                 "user_defined_symbols", "control_symbols", "model_writer", "sentence_iterator", "input",
                 "model_prefix", "vocab_size", "model_type"}
        clash = sorted(fixed & trainer_options.keys())
        if clash:
            raise ValueError(f"train() sets {clash} itself, so the special ids land where BertGeneration expects "
                             "them; leave them out")
        lines = _Counted(_corpus_lines(texts_or_files))
        ids = {f"{role}_id": i for role, (i, _) in TRAINED_SPECIALS.items()}
        pieces = {f"{role}_piece": piece for role, (_, piece) in TRAINED_SPECIALS.items()}
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=lines, model_writer=model, vocab_size=vocab_size, model_type=model_type,
                character_coverage=character_coverage, user_defined_symbols=[SEP_TOKEN], minloglevel=2,
                **ids, **pieces, **trainer_options)
        except RuntimeError as err:
            if lines.count == 0:
                raise ValueError("no text to train on: the corpus given to train() is empty") from err
            reason = str(err).rstrip(".")
            raise ValueError(f"SentencePiece training on {lines.count} lines failed: {reason}. A vocabulary cannot "
                             "have more pieces than the corpus supports: lower vocab_size or add text") from err
        return cls(model_proto=model.getvalue())

    # ------------------------------------------------------------------------------------ the vocabulary

    @property
    def vocab_size(self) -> int:
        """Pieces in the SentencePiece model (without a separator added after them)."""
        return self.sp_model.get_piece_size()

    def __len__(self) -> int:
        return self.vocab_size + len(self._added)

    def get_vocab(self) -> dict[str, int]:
        vocab = {self.sp_model.id_to_piece(i): i for i in range(self.vocab_size)}
        return {**vocab, **self._added}

    def _piece_id(self, piece: str) -> int | None:
        piece_id = self.sp_model.piece_to_id(piece)  # unknown pieces map to the unk id: check the round trip
        return piece_id if self.sp_model.id_to_piece(piece_id) == piece else None

    def _token_to_id(self, token: str) -> int | None:
        return self._added[token] if token in self._added else self._piece_id(token)

    def _id_to_token(self, token_id: int) -> str:
        if token_id < self.vocab_size:
            return self.sp_model.id_to_piece(token_id)
        return next(t for t, i in self._added.items() if i == token_id)

    def _encode_texts(self, texts: list[str]) -> list[list[int]]:
        # Cut special-token strings out of every text, encode all the plain chunks in one SentencePiece call.
        chunked = [self._special_split.split(text) for text in texts]  # odd positions hold special tokens
        plain = [chunk for chunks in chunked for chunk in chunks[::2] if chunk]
        encoded = iter(self.sp_model.encode(plain))
        out = []
        for chunks in chunked:
            ids = []
            for k, chunk in enumerate(chunks):
                if k % 2:
                    ids.append(self._special_by_text[chunk])
                elif chunk:
                    ids.extend(next(encoded))
            out.append(ids)
        return out

    def tokenize(self, text: str) -> list[str]:
        """The pieces of one string, as transformers gives them: a piece outside the vocabulary keeps its text
        (its id is still <unk>'s)."""
        if not isinstance(text, str):
            raise TypeError(f"tokenize takes one str, got {type(text).__name__}")
        tokens = []
        for k, chunk in enumerate(self._special_split.split(text)):
            if k % 2:
                tokens.append(chunk)
            elif chunk:
                tokens.extend(self.sp_model.encode(chunk, out_type=str))
        return tokens

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """Pieces back to text (transformers' rule: special tokens stay as written, with a space after)."""
        text, pieces = "", []
        for token in tokens:
            if token in self._special_by_text:
                text += self.sp_model.decode(pieces) + token + " "
                pieces = []
            else:
                pieces.append(token)
        return (text + self.sp_model.decode(pieces)).strip()

    def _config_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"padding_side": self.padding_side}
        if self.sp_model_kwargs:
            fields["sp_model_kwargs"] = self.sp_model_kwargs
        if self._added:  # transformers' format, so both libraries give them the same ids
            fields["added_tokens_decoder"] = {
                str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                         "special": i in self._special_id_set} for t, i in self._added.items()}
        return fields

    def _decode_batch(self, sequences: list[list[int]], skip_special_tokens: bool) -> list[str]:
        # transformers' rule: join the pieces, turn the space marks into spaces, strip the ends.
        skip = self._special_id_set if skip_special_tokens else frozenset()
        texts = []
        for ids in sequences:
            kept = [i for i in ids if i not in skip]
            pieces = (self.sp_model.id_to_piece(kept) if not self._added
                      else [self._id_to_token(i) for i in kept])
            texts.append("".join(pieces).replace(SPIECE_UNDERLINE, " ").strip())
        return texts

    def save_vocabulary(self, save_directory: str | os.PathLike, filename_prefix: str | None = None
                        ) -> tuple[str, ...]:
        """Write spiece.model (named `{filename_prefix}-spiece.model` with a prefix)."""
        path = Path(save_directory) / (f"{filename_prefix}-{VOCAB_FILE}" if filename_prefix else VOCAB_FILE)
        write_text_atomic(path, self._proto)
        return (str(path),)

    # SentencePieceProcessor does not pickle; the model's bytes do (DataLoader workers, datasets.map caching).
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "sp_model"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.sp_model = _load_processor(self._proto, self.source, self.sp_model_kwargs)


def _pieces(path: Path) -> int:
    return _load_processor(read_file(path, "SentencePiece model"), str(path), {}).get_piece_size()


def _load_processor(proto: bytes, source: str, kwargs: dict[str, Any]) -> spm.SentencePieceProcessor:
    try:
        processor = spm.SentencePieceProcessor(**kwargs)
    except TypeError as err:
        raise ValueError(f"sp_model_kwargs {kwargs}: not options of sentencepiece.SentencePieceProcessor "
                         f"({err}); e.g. enable_sampling=True, alpha=0.1, nbest_size=-1") from err
    try:
        processor.LoadFromSerializedProto(proto)
    except RuntimeError as err:
        raise ValueError(f"{source} is not a SentencePiece model ({err}); a spiece.model comes from "
                         "BertGenerationTokenizer.train or sentencepiece's trainer") from err
    return processor


def _corpus_lines(texts_or_files: Any) -> Iterator[str]:
    """Lines of a corpus given as a file path, or a list of texts (str) and files (os.PathLike)."""
    if isinstance(texts_or_files, (str, os.PathLike)):
        items = [Path(texts_or_files)]
    elif isinstance(texts_or_files, Iterable):
        items = list(texts_or_files)
    else:
        raise TypeError(f"train() takes a corpus file path or a list of texts / paths, "
                        f"got {type(texts_or_files).__name__}")
    for i, item in enumerate(items):  # check everything before SentencePiece starts reading
        if isinstance(item, os.PathLike) and not Path(item).is_file():
            raise FileNotFoundError(f"{item}: corpus file not found (to train on a text, pass it as a str "
                                    "inside a list)")
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"corpus item {i} is {type(item).__name__} ({item!r:.40}); items are texts (str) "
                            "or file paths (pathlib.Path)")
    return _lines(items)


def _lines(items: list[str | os.PathLike]) -> Iterator[str]:
    for item in items:
        if isinstance(item, str):
            yield from item.splitlines()
        else:
            with open(item, encoding="utf-8") as f:
                yield from (line.rstrip("\n") for line in f)


class _Counted:
    """An iterator that counts what it yields (to tell an empty corpus from SentencePiece's other errors)."""

    def __init__(self, lines: Iterator[str]):
        self._lines, self.count = lines, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line
