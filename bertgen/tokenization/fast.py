"""Checkpoint tokenizers through the `tokenizers` library: WordPiece (BERT), byte-level BPE (RoBERTa, GPT-2),
or any tokenizer.json.

The library does the splitting, in Rust; this module builds its pipeline from the checkpoint's files the
way transformers does (so the ids agree) and puts the shared calling convention on top. Truncation and
padding are switched off in the library and done by the base class, the same way for every tokenizer.

For the decoder, a vocabulary without BOS/EOS tokens uses [CLS] as BOS (the decoder's start) and [SEP] as
EOS, as the paper does with BERT checkpoints; RoBERTa's <s> and </s> are its own BOS/EOS.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from tokenizers import AddedToken, Tokenizer as Backend, decoders, models, normalizers, pre_tokenizers, processors

from bertgen.hub import resolve_checkpoint_dir
from bertgen.tokenization.base import SPECIAL_ROLES, Tokenizer, read_file, read_tokenizer_config, token_content, \
    write_text_atomic

BERT_SPECIALS = dict(unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
ROBERTA_SPECIALS = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>", pad_token="<pad>",
                        cls_token="<s>", mask_token="<mask>")
GPT2_SPECIALS = dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>")
# tokenizer_config.json settings that shape each pipeline (and are written back on save)
WORDPIECE_FIELDS = ("do_lower_case", "strip_accents", "tokenize_chinese_chars")
BPE_FIELDS = ("add_prefix_space", "trim_offsets")


class FastTokenizer(Tokenizer):
    """A `tokenizers.Tokenizer` with special-token roles. Build one with `from_pretrained`, `wordpiece`,
    `byte_level_bpe` or `from_file`; or wrap a backend you built yourself."""

    def __init__(self, backend: Backend, special_tokens: dict[str, Any], model_max_length: int | None = None,
                 source: str = "a tokenizers.Tokenizer", tokenizer_class: str = "PreTrainedTokenizerFast",
                 config_fields: dict[str, Any] | None = None):
        backend.no_truncation()  # a tokenizer.json may carry its own (MiniLM's: 128); the base class truncates
        backend.no_padding()
        self.backend = backend
        self.tokenizer_class = tokenizer_class
        self._fields = dict(config_fields or {})
        roles = {role: token_content(value) for role, value in special_tokens.items() if value is not None}
        # Specials stay whole in any text ("never split") and are what skip_special_tokens drops. Only tokens
        # of the vocabulary: registering others would add ids the model has no embedding for (the base class
        # reports them).
        registered = {t.content for t in backend.get_added_tokens_decoder().values() if t.special}
        backend.add_special_tokens([_added_token(special_tokens[r]) for r, token in roles.items()
                                    if token not in registered and backend.token_to_id(token) is not None])
        # A decoder needs a start and an end token; BERT has none by name, the paper uses [CLS] and [SEP].
        roles.setdefault("bos_token", roles.get("cls_token"))
        roles.setdefault("eos_token", roles.get("sep_token"))
        super().__init__(roles, model_max_length, source)
        self._template = self._probe_template()

    # ------------------------------------------------------------------------------------ construction

    @classmethod
    def wordpiece(cls, vocab_file: str | os.PathLike, do_lower_case: bool = True, strip_accents: bool | None = None,
                  tokenize_chinese_chars: bool = True, model_max_length: int | None = None,
                  **special_tokens: Any) -> FastTokenizer:
        """BERT's tokenizer from vocab.txt: BertNormalizer (lower-casing, accents, CJK), BertPreTokenizer,
        WordPiece; settings as in tokenizer_config.json. strip_accents=None follows do_lower_case."""
        path = Path(vocab_file)
        specials = {**BERT_SPECIALS, **special_tokens}
        vocab = _parse(path, "WordPiece vocabulary", lambda p: models.WordPiece.read_file(str(p)))
        if not vocab:
            raise ValueError(f"{path}: the WordPiece vocabulary is empty; expected one token per line")
        backend = Backend(models.WordPiece(vocab, unk_token=token_content(specials["unk_token"])))
        backend.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=tokenize_chinese_chars,
                                                        strip_accents=strip_accents, lowercase=do_lower_case)
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece(prefix="##")
        cls_, sep = token_content(specials["cls_token"]), token_content(specials["sep_token"])
        if cls_ in vocab and sep in vocab:
            backend.post_processor = processors.BertProcessing((sep, vocab[sep]), (cls_, vocab[cls_]))
        fields = dict(do_lower_case=do_lower_case, strip_accents=strip_accents,
                      tokenize_chinese_chars=tokenize_chinese_chars)
        return cls(backend, specials, model_max_length, str(path), "BertTokenizer", fields)

    @classmethod
    def byte_level_bpe(cls, vocab_file: str | os.PathLike, merges_file: str | os.PathLike,
                       add_prefix_space: bool = False, trim_offsets: bool = True, model_max_length: int | None = None,
                       **special_tokens: Any) -> FastTokenizer:
        """RoBERTa's (or GPT-2's) tokenizer from vocab.json + merges.txt: byte-level pre-tokenizer and BPE."""
        vocab_path, merges_path = Path(vocab_file), Path(merges_file)
        read_file(merges_path, "BPE merges")  # a clear error for a missing or unreadable file
        vocab, merges = _parse(vocab_path, "BPE vocabulary and merges",
                               lambda p: models.BPE.read_file(str(p), str(merges_path)))
        gpt2 = "<s>" not in vocab and "<|endoftext|>" in vocab
        specials = {**(GPT2_SPECIALS if gpt2 else ROBERTA_SPECIALS), **special_tokens}
        backend = Backend(models.BPE(vocab, merges, dropout=None, continuing_subword_prefix="", end_of_word_suffix="",
                                     fuse_unk=False))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        backend.decoder = decoders.ByteLevel()
        cls_, sep = token_content(specials.get("cls_token")), token_content(specials.get("sep_token"))
        if cls_ in vocab and sep in vocab:  # RoBERTa: <s> text </s>; GPT-2 adds nothing
            backend.post_processor = processors.RobertaProcessing((sep, vocab[sep]), (cls_, vocab[cls_]),
                                                                  trim_offsets=trim_offsets,
                                                                  add_prefix_space=add_prefix_space)
        fields = dict(add_prefix_space=add_prefix_space, trim_offsets=trim_offsets)
        return cls(backend, specials, model_max_length, str(vocab_path),
                   "GPT2Tokenizer" if gpt2 else "RobertaTokenizer", fields)

    @classmethod
    def from_file(cls, tokenizer_file: str | os.PathLike, model_max_length: int | None = None,
                  tokenizer_class: str = "PreTrainedTokenizerFast", config_fields: dict[str, Any] | None = None,
                  **special_tokens: Any) -> FastTokenizer:
        """Any tokenizer.json, as written by the tokenizers library or transformers. Special-token roles come
        from the arguments; without them, BERT's or RoBERTa's names are used where the vocabulary has them."""
        path = Path(tokenizer_file)
        backend = _parse(path, "tokenizer.json", lambda p: Backend.from_str(p.read_text(encoding="utf-8")))
        vocab = backend.get_vocab(with_added_tokens=True)
        if not special_tokens:
            for defaults in (BERT_SPECIALS, ROBERTA_SPECIALS, GPT2_SPECIALS):
                if all(token in vocab for token in defaults.values()):
                    special_tokens = defaults
                    break
        return cls(backend, special_tokens, model_max_length, str(path), tokenizer_class, config_fields)

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, **kwargs: Any) -> FastTokenizer:
        """Load from a checkpoint directory (or hub id): tokenizer.json if present, else vocab.txt (WordPiece),
        else vocab.json + merges.txt (byte-level BPE); settings from tokenizer_config.json, overridden by kwargs."""
        directory = resolve_checkpoint_dir(path_or_id, allow_patterns=["*.json", "*.txt"])
        config = read_tokenizer_config(directory)
        specials = {role: config[role] for role in SPECIAL_ROLES if config.get(role)}
        settings = {"model_max_length": config.get("model_max_length"), **specials}
        fields = {key: config[key] for key in WORDPIECE_FIELDS + BPE_FIELDS if key in config}
        if (directory / "tokenizer.json").is_file():  # the whole pipeline: the fields are only passed on
            settings.update(tokenizer_class=config.get("tokenizer_class", "PreTrainedTokenizerFast"),
                            config_fields=fields)
            return cls.from_file(directory / "tokenizer.json", **{**settings, **kwargs})
        if (directory / "vocab.txt").is_file():
            settings.update({k: v for k, v in fields.items() if k in WORDPIECE_FIELDS})
            return cls.wordpiece(directory / "vocab.txt", **{**settings, **kwargs})
        if (directory / "vocab.json").is_file():
            settings.update({k: v for k, v in fields.items() if k in BPE_FIELDS})
            return cls.byte_level_bpe(directory / "vocab.json", directory / "merges.txt", **{**settings, **kwargs})
        raise FileNotFoundError(f"{directory}: no tokenizer.json, vocab.txt or vocab.json + merges.txt; "
                                f"found {sorted(p.name for p in directory.iterdir())}")

    def _probe_template(self) -> tuple[list[int], list[int]]:
        """The ids the post-processor puts before and after a text ([CLS] / [SEP], <s> / </s>, or none).

        Encodes one special token as text: it stays one token of the sequence, and everything around it
        (sequence id None) comes from the template."""
        probe = self.backend.encode(next(iter(self.all_special_tokens), "a"))
        inside = [k for k, s in enumerate(probe.sequence_ids) if s is not None]
        if not inside:
            return [], []
        return probe.ids[:inside[0]], probe.ids[inside[-1] + 1:]

    # ------------------------------------------------------------------------------------ the vocabulary

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self.backend.get_vocab(with_added_tokens=True)

    def _token_to_id(self, token: str) -> int | None:
        return self.backend.token_to_id(token)

    def _id_to_token(self, token_id: int) -> str:
        return self.backend.id_to_token(token_id)

    def _encode_texts(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch_fast(texts, add_special_tokens=False)]

    def _decode_batch(self, sequences: list[list[int]], skip_special_tokens: bool) -> list[str]:
        # One call per text: on a few cores this beats decode_batch, whose thread pool costs more than it saves.
        return [self.backend.decode(ids, skip_special_tokens=skip_special_tokens) for ids in sequences]

    def _config_fields(self) -> dict[str, Any]:
        return self._fields

    def _add_to_vocabulary(self, tokens: list[str], special: bool) -> None:
        added = [AddedToken(t, normalized=not special, special=special) for t in tokens]
        (self.backend.add_special_tokens if special else self.backend.add_tokens)(added)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        processor = self.backend.post_processor
        return processor.num_special_tokens_to_add(pair) if processor is not None else 0

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        decoder = self.backend.decoder
        return decoder.decode(list(tokens)) if decoder is not None else " ".join(tokens)

    def save_vocabulary(self, save_directory: str | os.PathLike, filename_prefix: str | None = None
                        ) -> tuple[str, ...]:
        """Write tokenizer.json (the whole pipeline) and the model's own files (vocab.txt, or vocab.json and
        merges.txt), so both transformers' fast and slow loaders can read the directory."""
        directory = Path(save_directory)
        prefix = f"{filename_prefix}-" if filename_prefix else ""
        tokenizer_json = directory / f"{prefix}tokenizer.json"
        write_text_atomic(tokenizer_json, self.backend.to_str(pretty=True))
        files = [str(tokenizer_json)]
        model_type = type(self.backend.model).__name__
        vocab = self.backend.get_vocab(with_added_tokens=False)
        if model_type == "WordPiece":
            in_order = sorted(vocab, key=vocab.get)
            files.append(_write(directory / f"{prefix}vocab.txt", "".join(f"{t}\n" for t in in_order)))
        elif model_type == "BPE":
            state = json.loads(self.backend.model.__getstate__())
            files.append(_write(directory / f"{prefix}vocab.json", json.dumps(vocab, ensure_ascii=False)))
            merges = ("#version: 0.2\n" + "".join(" ".join(m) + "\n" if isinstance(m, list) else m + "\n"
                                                   for m in state["merges"]))
            files.append(_write(directory / f"{prefix}merges.txt", merges))
        return tuple(files)


def _write(path: Path, text: str) -> str:
    write_text_atomic(path, text)
    return str(path)


def _added_token(value: Any) -> AddedToken:
    """A special token for the backend; tokenizer_config.json's dict form keeps its stripping flags."""
    if isinstance(value, dict):
        return AddedToken(value["content"], single_word=value.get("single_word", False),
                          lstrip=value.get("lstrip", False), rstrip=value.get("rstrip", False),
                          normalized=False, special=True)
    return AddedToken(value, normalized=False, special=True)


def _parse(path: Path, what: str, parse: Callable[[Path], Any]) -> Any:
    """Run the library's reader on a file; a missing, unreadable or malformed file becomes a clear error."""
    read_file(path, what)
    try:
        return parse(path)
    except Exception as err:  # the library raises Exception subclasses with its own messages
        raise ValueError(f"{path}: not a valid {what} ({err})") from err
