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
import re
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
        self.padding_side = "right"  # or "left", as transformers' attribute
        self.clean_up_tokenization_spaces = False  # decode's default (transformers' for these tokenizers)

    # ------------------------------------------------------------------------------------ special tokens

    def _special_id(role: str):  # noqa: N805 (a property factory used in the class body)
        def set_id(self, token_id):
            self._set_special(role, None if token_id is None else self._id_to_token(self._check_ids(token_id)[0]))
        return property(lambda self: self._special_ids.get(role), set_id,
                        doc=f"id of the {role} (None if it has none); settable to an id of the vocabulary")

    def _special_token(role: str):  # noqa: N805
        return property(lambda self: self.special_tokens[role], lambda self, token: self._set_special(role, token),
                        doc=f"the {role} string (None if it has none); settable to a token of the vocabulary")

    bos_token_id, bos_token = _special_id("bos_token"), _special_token("bos_token")
    eos_token_id, eos_token = _special_id("eos_token"), _special_token("eos_token")
    unk_token_id, unk_token = _special_id("unk_token"), _special_token("unk_token")
    sep_token_id, sep_token = _special_id("sep_token"), _special_token("sep_token")
    pad_token_id, pad_token = _special_id("pad_token"), _special_token("pad_token")
    cls_token_id, cls_token = _special_id("cls_token"), _special_token("cls_token")
    mask_token_id, mask_token = _special_id("mask_token"), _special_token("mask_token")
    del _special_id, _special_token

    def _set_special(self, role: str, token: str | None) -> None:
        """Give a role to a token of the vocabulary (add_special_tokens adds one that is not there)."""
        if token is not None:
            token = token_content(token)
            if not isinstance(token, str) or self._token_to_id(token) is None:
                raise ValueError(f"{role}={token!r} is not in the vocabulary of {self.source}; add it first with "
                                 f"tok.add_special_tokens({{'{role}': {token!r}}}) (and resize the model's embeddings)")
        self.special_tokens[role] = token
        self._special_ids = {r: self._token_to_id(t) for r, t in self.special_tokens.items() if t is not None}
        self._special_id_set = frozenset(self._special_ids.values())
        self._specials_changed()

    def _specials_changed(self) -> None:
        """Subclasses that split special tokens out of texts themselves update their patterns here."""

    def add_tokens(self, new_tokens: str | Sequence[str], special_tokens: bool = False) -> int:
        """Add tokens after the vocabulary (each kept whole in any text); returns how many were new. The model
        needs as many embedding rows: `model.resize_token_embeddings(len(tok))`."""
        tokens = [token_content(t) for t in ([new_tokens] if isinstance(new_tokens, (str, dict)) else new_tokens)]
        for token in tokens:
            if not isinstance(token, str) or not token:
                raise TypeError(f"add_tokens takes non-empty strings, got {token!r}")
        new = list(dict.fromkeys(t for t in tokens if self._token_to_id(t) is None))
        self._add_to_vocabulary(new, special_tokens)
        if special_tokens:
            self._special_id_set = self._special_id_set | {self._token_to_id(t) for t in tokens}
        self._specials_changed()
        return len(new)

    def add_special_tokens(self, special_tokens_dict: Mapping[str, Any]) -> int:
        """transformers' `add_special_tokens({"pad_token": "<pad>", ...})`: add what is missing, set the roles."""
        unknown = set(special_tokens_dict) - set(SPECIAL_ROLES)
        if unknown:
            raise ValueError(f"add_special_tokens: unknown role(s) {sorted(unknown)}; the roles are {list(SPECIAL_ROLES)}")
        added = self.add_tokens(list(special_tokens_dict.values()), special_tokens=True)
        for role, token in special_tokens_dict.items():
            self._set_special(role, token)
        return added

    def _add_to_vocabulary(self, tokens: list[str], special: bool) -> None:
        raise NotImplementedError

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many ids add_special_tokens=True puts around one text (a pair: BERT's [CLS] A [SEP] B [SEP])."""
        before, after = self._template
        return len(before) + len(after) * (2 if pair else 1)

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None
                                         ) -> list[int]:
        """transformers' method: ids with the special tokens add_special_tokens=True puts around them (a pair as
        num_special_tokens_to_add counts it: BERT's [CLS] A [SEP] B [SEP]; nothing for BertGeneration)."""
        before, after = self._template
        ids = [*before, *token_ids_0, *after]
        return ids if token_ids_1 is None else [*ids, *token_ids_1, *after]

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
                 return_tensors: str | None = None, return_attention_mask: bool = True,
                 return_token_type_ids: bool = False, return_special_tokens_mask: bool = False,
                 padding_side: str | None = None) -> BatchEncoding:
        """Tokenize a string or a batch of strings, as transformers' tokenizers do.

        padding: False / "do_not_pad", True / "longest" (to the longest in the batch), or "max_length".
        truncation: True / "longest_first" cuts each text to `max_length` (default `model_max_length`)
            counting special tokens; None truncates exactly when `max_length` is given.
        return_tensors: None (lists) or "pt" ((B, L) long tensors; (1, L) for a single string).
        return_token_type_ids: add `token_type_ids` (all 0: one segment). return_special_tokens_mask: add
            `special_tokens_mask`, 1 where add_special_tokens put a token (and on padding), as transformers.
        padding_side: "right" or "left" (default: the tokenizer's `padding_side`).
        """
        texts, batched = _check_texts(text)
        if return_tensors not in (None, "pt"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported; use 'pt' or None (lists)")
        limit = self._truncation_length(truncation, max_length)
        side = self.padding_side if padding_side is None else padding_side
        if side not in ("right", "left"):
            raise ValueError(f"padding_side={side!r}; use 'right' or 'left'")
        ids = self._with_specials(self._encode_texts(texts), add_special_tokens, limit)
        before, after = self._template if add_special_tokens else ([], [])
        specials = [[1] * len(before) + [0] * (len(row) - len(before) - len(after)) + [1] * len(after) for row in ids]
        ids, mask = self._pad(ids, padding, max_length, side)
        out = BatchEncoding(input_ids=ids)
        if return_token_type_ids:
            out["token_type_ids"] = [[0] * len(row) for row in ids]
        if return_special_tokens_mask:
            out["special_tokens_mask"] = [_pad_row(row, len(r), 1, side) for row, r in zip(specials, ids)]
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

    def _pad(self, ids: list[list[int]], padding: bool | str, max_length: int | None, side: str = "right"):
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
        ids = [_pad_row(row, target, self.pad_token_id, side) for row in ids]
        mask = [_pad_row(row, target, 0, side) for row in mask]
        return ids, mask

    # ------------------------------------------------------------------------------------ decoding

    def decode(self, token_ids: int | Sequence[int] | torch.Tensor, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str:
        """The text of one sequence of ids. clean_up_tokenization_spaces: transformers' clean-up of spaces
        before punctuation and English contractions (default: the tokenizer's, False)."""
        return self.batch_decode([self._check_ids(token_ids)], skip_special_tokens, clean_up_tokenization_spaces)[0]

    def batch_decode(self, sequences: Iterable[Sequence[int]] | torch.Tensor, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None) -> list[str]:
        """The texts of a batch: a list of id lists, or a (B, L) tensor."""
        if torch.is_tensor(sequences) and self._in_range(sequences):
            checked = sequences.tolist()  # checked at once; a bad tensor is checked row by row, for the message
        else:
            checked = [self._check_ids(ids) for ids in sequences]
        texts = self._decode_batch(checked, skip_special_tokens)
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces
        return [clean_up_tokenization(t) for t in texts] if clean else texts

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """The text of a list of tokens (pieces), as decode would give it for their ids."""
        return self._decode_batch([[self.convert_tokens_to_ids(t) for t in tokens]], False)[0]

    # transformers' private names, which its test-suite (and some user code) calls
    def _convert_token_to_id(self, token: str) -> int:
        return self.convert_tokens_to_ids(token)

    def _convert_id_to_token(self, index: int) -> str:
        return self.convert_ids_to_tokens(index)

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


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_texts(text: Any) -> tuple[list[str], bool]:
    """(texts, batched): one str, or a list/tuple of str, each encodable as UTF-8."""
    if isinstance(text, str):
        texts, batched = [text], False
    elif isinstance(text, (list, tuple)):
        for i, item in enumerate(text):
            if not isinstance(item, str):
                raise TypeError(f"text[{i}] is {type(item).__name__} ({item!r:.40}); a batch must hold only str")
        texts, batched = list(text), True
    else:
        raise TypeError(f"text must be a str or a list of str, got {type(text).__name__} ({text!r:.40})")
    for i, item in enumerate(texts):
        if (found := _SURROGATE.search(item)) is not None:  # half of a UTF-16 pair: no UTF-8 text holds one
            where = f"text[{i}]" if batched else "text"
            raise ValueError(f"{where} holds a lone surrogate U+{ord(found[0]):04X} at character {found.start()} "
                             f"({item[max(0, found.start() - 15):found.start() + 15]!r}), which is not text; it "
                             "comes from bytes decoded with errors='surrogateescape' or a split UTF-16 pair: decode "
                             "the source as UTF-8 (errors='replace' to keep going)")
    return texts, batched


def _pad_row(row: list[int], target: int, value: int, side: str) -> list[int]:
    padding = [value] * (target - len(row))
    return padding + row if side == "left" else row + padding


def clean_up_tokenization(text: str) -> str:
    """transformers' `clean_up_tokenization`: no space before punctuation and in English contractions."""
    for spaced, joined in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(spaced, joined)
    return text


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


def token_content(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a str, or an AddedToken dict {"content": ...}."""
    return value.get("content") if isinstance(value, dict) else value
