"""What every bertgen tokenizer shares: transformers' calling convention, input checks, truncation, padding,
special-token roles, and tokenizer files written atomically.

A subclass supplies the vocabulary: `_encode_texts` (texts -> ids, no special tokens), `_id_to_token`,
`_token_to_id`, `_decode_batch`, `vocab_size`, `get_vocab`, `save_vocabulary`, and `_template`, the ids that
`add_special_tokens=True` puts before and after a text ([CLS] ... [SEP] for BERT, nothing for BertGeneration).

Shapes: B batch, L the longest sequence in the batch (or `max_length` with `padding="max_length"`).
"""
from __future__ import annotations

import json
import numbers
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from bertgen.config import read_json_object
from bertgen.fileio import write_text_atomic

# The roles a special token can play, with transformers' names (they are tokenizer_config.json's keys).
SPECIAL_ROLES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
IGNORE_INDEX = -100  # what labels hold at positions the loss skips; never a token id


class BatchEncoding(dict):
    """`input_ids` and `attention_mask`, as lists or (B, L) tensors; attribute access and `.to(device)` as in
    transformers, so `model(**batch)` and `batch.input_ids` both work."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, device: str | torch.device) -> BatchEncoding:
        return BatchEncoding({k: v.to(device) if torch.is_tensor(v) else v for k, v in self.items()})


class Tokenizer:
    """Base class: everything above the vocabulary. Subclasses: BertGenerationTokenizer, FastTokenizer."""

    tokenizer_class = "PreTrainedTokenizerFast"  # the transformers class written to tokenizer_config.json
    _template: tuple[list[int], list[int]] = ([], [])  # ids before / after a text with add_special_tokens

    def __init__(self, special_tokens: Mapping[str, str | None], model_max_length: int | None, source: str):
        unknown = set(special_tokens) - set(SPECIAL_ROLES)
        if unknown:
            raise TypeError(f"unknown special-token role(s) {sorted(unknown)}; the roles are {list(SPECIAL_ROLES)}")
        self.source = source  # where the vocabulary came from, for error messages
        self.model_max_length = model_max_length
        self.special_tokens = {role: special_tokens.get(role) for role in SPECIAL_ROLES}
        for role, token in self.special_tokens.items():
            if token is not None and not isinstance(token, str):
                raise TypeError(f"{role} must be a str, got {type(token).__name__}")
        ids = {role: self._token_to_id(token) for role, token in self.special_tokens.items() if token is not None}
        missing = [role for role, token_id in ids.items() if token_id is None]
        if missing:
            named = ", ".join(f"{role}={self.special_tokens[role]!r}" for role in missing)
            raise ValueError(f"{named} not in the vocabulary of {source}; pass the tokens this vocabulary uses "
                             f"for those roles, e.g. load_tokenizer(path, {missing[0]}='...')")
        self._special_ids: dict[str, int] = ids
        self._special_id_set = frozenset(ids.values())  # what skip_special_tokens drops

    # ------------------------------------------------------------------------------------ special tokens

    def _special_id(role: str):  # noqa: N805 (a property factory used in the class body)
        return property(lambda self: self._special_ids.get(role), doc=f"id of the {role} (None if it has none)")

    bos_token_id = _special_id("bos_token")
    eos_token_id = _special_id("eos_token")
    unk_token_id = _special_id("unk_token")
    sep_token_id = _special_id("sep_token")
    pad_token_id = _special_id("pad_token")
    cls_token_id = _special_id("cls_token")
    mask_token_id = _special_id("mask_token")
    del _special_id

    @property
    def decoder_start_token_id(self) -> int | None:
        """The decoder's first input: the BOS token ([CLS] for BERT vocabularies, as in the paper)."""
        return self.bos_token_id

    @property
    def all_special_tokens(self) -> list[str]:
        return list(dict.fromkeys(t for t in self.special_tokens.values() if t is not None))

    @property
    def all_special_ids(self) -> list[int]:
        return list(dict.fromkeys(self._special_ids.values()))

    # ------------------------------------------------------------------------------------ encoding

    def __call__(self, text: str | Sequence[str], add_special_tokens: bool = True, padding: bool | str = False,
                 truncation: bool | str | None = None, max_length: int | None = None,
                 return_tensors: str | None = None, return_attention_mask: bool = True) -> BatchEncoding:
        """Tokenize a string or a batch of strings, as transformers' tokenizers do.

        padding: False / "do_not_pad", True / "longest" (to the longest in the batch), or "max_length".
        truncation: True / "longest_first" cuts each text to `max_length` (default `model_max_length`)
            counting special tokens; None truncates exactly when `max_length` is given.
        return_tensors: None (lists) or "pt" ((B, L) long tensors; (1, L) for a single string).
        """
        texts, batched = _check_texts(text)
        if return_tensors not in (None, "pt"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported; use 'pt' or None (lists)")
        limit = self._truncation_length(truncation, max_length)
        ids = self._with_specials(self._encode_texts(texts), add_special_tokens, limit)
        ids, mask = self._pad(ids, padding, max_length)
        out = BatchEncoding(input_ids=ids)
        if return_attention_mask:
            out["attention_mask"] = mask
        if return_tensors == "pt":
            lengths = {len(row) for row in ids}
            if len(lengths) > 1:
                raise ValueError(f"return_tensors='pt' needs equal lengths but the texts have {sorted(lengths)} "
                                 "tokens; pass padding=True (and truncation=True with max_length)")
            out = BatchEncoding({k: _as_tensor(v) for k, v in out.items()})
        elif not batched:
            out = BatchEncoding({k: v[0] for k, v in out.items()})
        return out

    def encode(self, text: str, add_special_tokens: bool = True, truncation: bool | str | None = None,
               max_length: int | None = None) -> list[int]:
        """The ids of one string."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes one str, got {type(text).__name__}; use tok(list_of_texts) for a batch")
        return self(text, add_special_tokens=add_special_tokens, truncation=truncation, max_length=max_length,
                    return_attention_mask=False)["input_ids"]

    def tokenize(self, text: str) -> list[str]:
        """The tokens (pieces) of one string, without special tokens."""
        return self.convert_ids_to_tokens(self.encode(text, add_special_tokens=False))

    def _truncation_length(self, truncation: bool | str | None, max_length: int | None) -> int | None:
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 1):
            raise ValueError(f"max_length must be a positive int, got {max_length!r}")
        if truncation is None:
            truncation = max_length is not None
        if truncation in (False, "do_not_truncate"):
            return None
        if truncation not in (True, "longest_first", "only_first"):
            raise ValueError(f"truncation={truncation!r}; use True / 'longest_first', False / 'do_not_truncate'")
        return max_length if max_length is not None else self.model_max_length  # None: nothing to cut to

    def _with_specials(self, ids: list[list[int]], add_special_tokens: bool, limit: int | None) -> list[list[int]]:
        before, after = self._template if add_special_tokens else ([], [])
        room = None if limit is None else limit - len(before) - len(after)
        if room is not None and room < 0:
            raise ValueError(f"max_length={limit} leaves no room for the {len(before) + len(after)} special tokens; "
                             "raise max_length or pass add_special_tokens=False")
        return [before + row[:room] + after for row in ids]

    def _pad(self, ids: list[list[int]], padding: bool | str, max_length: int | None):
        mask = [[1] * len(row) for row in ids]
        if padding in (False, None, "do_not_pad"):
            return ids, mask
        if padding in (True, "longest"):
            target = max((len(row) for row in ids), default=0)
        elif padding == "max_length":
            target = max_length if max_length is not None else self.model_max_length
            if target is None:
                raise ValueError("padding='max_length' needs max_length (this tokenizer has no model_max_length)")
        else:
            raise ValueError(f"padding={padding!r}; use True / 'longest', 'max_length' or False / 'do_not_pad'")
        if self.pad_token_id is None:
            raise ValueError(f"padding needs a pad token and the tokenizer from {self.source} has none; "
                             "pass one that is in the vocabulary, e.g. load_tokenizer(path, pad_token='...')")
        ids = [row + [self.pad_token_id] * (target - len(row)) for row in ids]
        mask = [row + [0] * (target - len(row)) for row in mask]
        return ids, mask

    # ------------------------------------------------------------------------------------ decoding

    def decode(self, token_ids: int | Sequence[int] | torch.Tensor, skip_special_tokens: bool = False) -> str:
        """The text of one sequence of ids."""
        return self._decode_batch([self._check_ids(token_ids)], skip_special_tokens)[0]

    def batch_decode(self, sequences: Iterable[Sequence[int]] | torch.Tensor, skip_special_tokens: bool = False
                     ) -> list[str]:
        """The texts of a batch: a list of id lists, or a (B, L) tensor."""
        if torch.is_tensor(sequences) and self._in_range(sequences):
            checked = sequences.tolist()  # checked at once; a bad tensor is checked row by row, for the message
        else:
            checked = [self._check_ids(ids) for ids in sequences]
        return self._decode_batch(checked, skip_special_tokens)

    def _in_range(self, ids: torch.Tensor) -> bool:
        """A (B, L) integer tensor of valid ids."""
        return (ids.dim() == 2 and not ids.is_floating_point() and ids.dtype != torch.bool
                and (ids.numel() == 0 or 0 <= int(ids.min()) and int(ids.max()) < len(self)))

    def convert_ids_to_tokens(self, ids: int | Sequence[int] | torch.Tensor,
                              skip_special_tokens: bool = False) -> str | list[str]:
        if isinstance(ids, numbers.Integral) or (torch.is_tensor(ids) and ids.dim() == 0):
            return self._id_to_token(self._check_ids(ids)[0])
        skip = self._special_id_set if skip_special_tokens else frozenset()
        return [self._id_to_token(i) for i in self._check_ids(ids) if i not in skip]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        """Ids of tokens; a token outside the vocabulary gets the unknown token's id."""
        if isinstance(tokens, str):
            token_id = self._token_to_id(tokens)
            return self.unk_token_id if token_id is None else token_id
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def _check_ids(self, token_ids) -> list[int]:
        """token_ids as a list of ints in the vocabulary's range, or an error naming the first bad one."""
        if torch.is_tensor(token_ids):
            if token_ids.dim() > 1:
                raise ValueError(f"decode takes one sequence, got a tensor of shape {tuple(token_ids.shape)}; "
                                 "use batch_decode for a batch")
            token_ids = token_ids.tolist()
        ids = [token_ids] if isinstance(token_ids, numbers.Integral) else list(token_ids)
        if all(type(i) is int for i in ids) and (not ids or 0 <= min(ids) and max(ids) < len(self)):
            return ids  # the common case, checked without a Python step per id
        return self._explain_ids(ids)

    def _explain_ids(self, token_ids: list) -> list[int]:
        ids = []
        for position, i in enumerate(token_ids):
            if isinstance(i, bool) or not isinstance(i, numbers.Integral):
                raise TypeError(f"token id at position {position} is {type(i).__name__} ({i!r:.40}), not an int")
            if not 0 <= i < len(self):
                hint = (f"; {IGNORE_INDEX} marks ignored label positions: replace it with pad_token_id first"
                        if i == IGNORE_INDEX else "")
                raise ValueError(f"token id {i} at position {position} is outside the vocabulary "
                                 f"(0..{len(self) - 1}){hint}")
            ids.append(int(i))
        return ids

    # ------------------------------------------------------------------------------------ files

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write the vocabulary, tokenizer_config.json and special_tokens_map.json (transformers reads them)."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        specials = {role: token for role, token in self.special_tokens.items() if token is not None}
        config = {"tokenizer_class": self.tokenizer_class, **specials, **self._config_fields(),
                  "clean_up_tokenization_spaces": False}
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        files = self.save_vocabulary(directory)
        for name, data in (("tokenizer_config.json", config), ("special_tokens_map.json", specials)):
            write_text_atomic(directory / name, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            files += (str(directory / name),)
        return files

    def _config_fields(self) -> dict[str, Any]:
        """Settings besides the special tokens that tokenizer_config.json records (e.g. do_lower_case)."""
        return {}

    # ------------------------------------------------------------------------------------ the vocabulary

    def __len__(self) -> int:
        """Number of ids (vocabulary plus tokens added after it); the model's embedding needs this many rows."""
        return self.vocab_size

    def __repr__(self) -> str:
        specials = ", ".join(f"{r}={t!r}" for r, t in self.special_tokens.items() if t is not None)
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, {specials}, source={self.source!r})"

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def get_vocab(self) -> dict[str, int]:
        raise NotImplementedError

    def save_vocabulary(self, save_directory: str | os.PathLike, filename_prefix: str | None = None
                        ) -> tuple[str, ...]:
        raise NotImplementedError

    def _encode_texts(self, texts: list[str]) -> list[list[int]]:
        raise NotImplementedError

    def _token_to_id(self, token: str) -> int | None:
        raise NotImplementedError

    def _id_to_token(self, token_id: int) -> str:
        raise NotImplementedError

    def _decode_batch(self, sequences: list[list[int]], skip_special_tokens: bool) -> list[str]:
        raise NotImplementedError


def _check_texts(text: Any) -> tuple[list[str], bool]:
    """(texts, batched): one str, or a list/tuple of str."""
    if isinstance(text, str):
        return [text], False
    if isinstance(text, (list, tuple)):
        for i, item in enumerate(text):
            if not isinstance(item, str):
                raise TypeError(f"text[{i}] is {type(item).__name__} ({item!r:.40}); a batch must hold only str")
        return list(text), True
    raise TypeError(f"text must be a str or a list of str, got {type(text).__name__} ({text!r:.40})")


def _as_tensor(rows: list[list[int]]) -> torch.Tensor:
    """(B, L) long tensor; an empty batch is (0, 0)."""
    return torch.tensor(rows, dtype=torch.long) if rows else torch.zeros((0, 0), dtype=torch.long)


# ---------------------------------------------------------------------------------------- files

def read_file(path: Path, what: str) -> bytes:
    """The bytes of a vocabulary file, or an error that names the file and says what to do."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {what} not found; pass the directory or file that holds it") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: expected the {what} file, found a directory") from None
    except OSError as err:
        raise type(err)(f"{path}: cannot read the {what} ({err.strerror}); check the file's permissions") from err


# The tokenizer_config.json keys bertgen reads, and the JSON types each may hold (None: absent / default).
CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "model_max_length": (int,), "tokenizer_class": (str,), "do_lower_case": (bool,), "strip_accents": (bool,),
    "tokenize_chinese_chars": (bool,), "add_prefix_space": (bool,), "trim_offsets": (bool,),
}


def read_tokenizer_config(directory: Path) -> dict[str, Any]:
    """special_tokens_map.json overlaid by tokenizer_config.json; missing files read as empty. Each value
    bertgen uses is checked here, where it enters: a ValueError naming the file and the key."""
    config: dict[str, Any] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = directory / name
        if not path.is_file():
            continue
        data = read_json_object(path, "fix or delete it")
        _check_tokenizer_config(data, path)
        config.update(data)
    return config


def _check_tokenizer_config(data: dict[str, Any], path: Path) -> None:
    for role in SPECIAL_ROLES:
        value = data.get(role)
        content = value.get("content") if isinstance(value, dict) else value
        if value is not None and not (isinstance(content, str) and content):
            raise ValueError(f"{path}: key '{role}' must be a token (a non-empty string, or an object with a "
                             f"'content' string), got {type(value).__name__} {value!r:.60}; fix or delete the key")
    for key, types in CONFIG_TYPES.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            expected = " or ".join(t.__name__ for t in types)
            raise ValueError(f"{path}: key '{key}' must be {expected}, got {type(value).__name__} {value!r:.60}; "
                             "fix or delete the key")
    if isinstance(data.get("model_max_length"), int) and data["model_max_length"] < 1:
        raise ValueError(f"{path}: key 'model_max_length' must be a positive int, got {data['model_max_length']}; "
                         "fix or delete the key")


def check_vocabulary_fits(tokenizer: Tokenizer, model_config: Any) -> None:
    """A tokenizer that can produce ids past the model's vocabulary belongs to another model: refused when the
    two are put together, not at the first out-of-range id at encode or decode time."""
    size = len(tokenizer)
    for side in ("encoder", "decoder"):
        vocab = getattr(model_config, side).vocab_size
        if size > vocab:
            raise ValueError(f"the tokenizer from {tokenizer.source} has {size} tokens but the model's {side} "
                             f"vocabulary only {vocab}: they belong to different checkpoints; load the tokenizer "
                             "saved with this model")


def token_content(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a str, or an AddedToken dict {"content": ...}."""
    return value.get("content") if isinstance(value, dict) else value
