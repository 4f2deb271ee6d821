"""Reading a `semid export hf` folder back: SID strings and generated token ids -> items, and the SID-trie
constraint for ``generate``.

    sids = load_hf_export("export/")  # or load_hf_export("export/", tokenizer=your_tokenizer)
    prompt = sids.tokenizer(texts, return_tensors="pt", padding=True)  # left padding for a causal LM
    out = model.generate(**prompt, logits_processor=LogitsProcessorList([sids.constraint(prompt_length)]),
                         eos_token_id=sids.vocab.eos, max_new_tokens=sids.max_new_tokens, ...)
    for answer in sids.read_generated(out, prompt_length):
        answer.item_ids or answer.problem

A generated SID that no item has (a hallucination, possible without the constraint) or text that is not
a SID comes back with no items and a `problem` saying why; nothing is dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semid.codes import PAD, Codes
from semid.errors import DataError, MissingResourceError
from semid.export.hf import EXPORT_META, SID_TOKENS_FILE
from semid.export.sid_text import ParsedSID, SIDText, sid_string
from semid.files import TABLE_DIR, TOKENIZER_DIR
from semid.retrieve.beam import TrieTensors
from semid.retrieve.hf import SIDConstraint
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable
from semid.sid.trie import SIDTrie


@dataclass(frozen=True)
class GeneratedSID:
    """One generated answer read back. `item_ids` (most popular first) is empty exactly when `problem` says
    why: the text is not a SID of this table, or no item has that SID (a hallucination)."""

    sid: str | None  # the SID string read, <sid_end> included; None when it could not be read
    item_ids: list[str]
    problem: str | None

    @property
    def is_real(self) -> bool:
        return self.problem is None


class HFExport:
    """An exported folder with its tokenizer: the SID token ids, the SID table and its trie."""

    def __init__(self, folder: Path, tokenizer: Any, table: SIDTable, vocab: SIDVocab) -> None:
        self.folder, self.tokenizer, self.table, self.vocab = folder, tokenizer, table, vocab
        self.text = SIDText(vocab)
        self.trie = SIDTrie.from_table(table)
        self._sids = table.sid_code_matrix()
        self._trie_tensors: dict[str, TrieTensors] = {}

    @property
    def max_new_tokens(self) -> int:
        """Tokens a generated SID can take: the layers, and <sid_end>."""
        return len(self.vocab.codebook_sizes) + 1

    def sid_of(self, item_id: str) -> str:
        """The SID string of an item of the table (DataError for an unknown id)."""
        sid = int(self.table.item_sid[int(self.table.lookup([item_id])[0])])
        return sid_string(self._sids.codes[sid, : self._sids.lengths[sid]].tolist())

    def constraint(self, prompt_length: int, device: str = "cpu") -> SIDConstraint:
        """The trie constraint for ``generate``: the tokens after the first `prompt_length` ones (the padded
        prompt of a causal LM; 1 for the decoder start of an encoder-decoder) can only spell a real SID."""
        if device not in self._trie_tensors:
            self._trie_tensors[device] = TrieTensors.from_trie(self.trie, device)
        return SIDConstraint(self._trie_tensors[device], self.vocab, prompt_length)

    def _items(self, parsed: ParsedSID) -> GeneratedSID:
        if parsed.codes is None:
            return GeneratedSID(None, [], parsed.problem)
        sid = sid_string(parsed.codes)
        row = np.full((1, self.table.n_layers), PAD, dtype=np.int32)
        row[0, : len(parsed.codes)] = parsed.codes  # parse_local admits no more codes than layers
        found = int(self.table.find_sids(Codes(row, np.array([len(parsed.codes)], dtype=np.int32)))[0])
        if found < 0:
            return GeneratedSID(sid, [], f"no item has the SID {sid} (a hallucinated SID)")
        rows = self.table.items_of_sid(found)
        return GeneratedSID(sid, self.table.item_ids.take(rows).to_pylist(), None)

    def read_text(self, text: str) -> GeneratedSID:
        """The items of the first SID in `text` (SID tokens up to <sid_end>, whitespace between them allowed)."""
        return self._items(self.text.parse(text))

    def read_ids(self, token_ids: Sequence[int]) -> GeneratedSID:
        """The items of a SID given as the tokenizer's token ids, read up to the first <sid_end>."""
        ids = [int(t) for t in token_ids]
        local = [t - self.vocab.base if self.vocab.base <= t < self.vocab.size else -1 for t in ids]
        bad = next((i for i, t in enumerate(local) if t < 0), None)
        end = local.index(0) if 0 in local else len(local)
        if bad is not None and bad < end:
            token = self.tokenizer.convert_ids_to_tokens(ids[bad])
            return GeneratedSID(None, [], f"{ids}: token {bad} ({token!r}) is not a SID token")
        return self._items(self.text.parse_local(local, str(ids)))

    def read_generated(self, output_ids: Any, prompt_length: int) -> list[GeneratedSID]:
        """Each row of ``generate``'s output (a tensor or nested lists), read after its `prompt_length` tokens."""
        rows = output_ids.tolist() if hasattr(output_ids, "tolist") else output_ids
        return [self.read_ids(row[prompt_length:]) for row in rows]


def _tokens_meta(folder: Path) -> dict[str, Any]:
    path = folder / SID_TOKENS_FILE
    if not (folder / EXPORT_META).exists() or not path.exists():
        raise MissingResourceError(f"{folder}: not a `semid export hf` folder (no {EXPORT_META} or {SID_TOKENS_FILE})")
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON: {exc.msg}", source=str(path), line=exc.lineno) from None
    return meta


def load_hf_export(folder: str | Path, tokenizer: Any = None) -> HFExport:
    """Load an exported folder. `tokenizer`: the one you fine-tuned with, if not the folder's own (it must
    have the SID tokens of sid_tokens.json with consecutive ids, as ``tokenizer.add_tokens(tokens)`` gives)."""
    root = Path(folder)
    meta = _tokens_meta(root)
    if tokenizer is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(root / TOKENIZER_DIR))
    table = SIDTable.load(root / TABLE_DIR)
    if list(meta["codebook_sizes"]) != list(table.codebook_sizes):
        raise DataError(
            f"codebook sizes {meta['codebook_sizes']} differ from the SID table's {table.codebook_sizes}",
            source=str(root / SID_TOKENS_FILE),
        )
    names: list[str] = meta["tokens"]
    ids = tokenizer.convert_tokens_to_ids(names)
    base = ids[0] if ids else -1
    if ids != list(range(base, base + len(names))) or tokenizer.unk_token_id in ids:
        missing = [n for n, i in zip(names, ids, strict=True) if i is None or i == tokenizer.unk_token_id]
        why = f"lacks the SID token {missing[0]!r}" if missing else "does not give the SID tokens consecutive ids"
        raise DataError(
            f"the tokenizer {why}; add them with tokenizer.add_tokens(tokens) in the order of {SID_TOKENS_FILE}",
            source="tokenizer",
        )
    return HFExport(root, tokenizer, table, SIDVocab(base, tuple(table.codebook_sizes)))
