"""Whether a trained retriever can stand for a new SID table (hot reload, cold items added by `semid assign`)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from semid.codes import PAD
from semid.errors import DataError
from semid.files import TABLE_DIR
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable


def check_table_fits(vocab: SIDVocab, model_table: SIDTable, table: SIDTable) -> None:
    """DataError unless a model with `vocab`, trained to generate `model_table`'s SIDs, can stand for `table`:
    the same codebook sizes (the SID tokens' layout in the vocabulary, hence also the dedup layer's size and
    the longest code a table can hold), and every item both tables hold on the same SID: the model's output
    rows lead to its items' codes, so a table from another tokenizer fit (same sizes, other codes) would
    send every query to the wrong items."""
    sizes, model_sizes = list(table.codebook_sizes), list(vocab.codebook_sizes)
    if sizes != model_sizes:
        grown = len(sizes) == len(model_sizes) and sizes[:-1] == model_sizes[:-1] and sizes[-1] > model_sizes[-1]
        hint = " (if its dedup layer grew by `semid assign --grow-dedup`: without it new items share the last code)"
        raise DataError(
            f"the SID table's codebooks {sizes} differ from the model's vocabulary {model_sizes}"
            + (hint if grown else ""),
            source=TABLE_DIR,
        )
    if table is model_table:
        return
    old_rows = pc.index_in(table.item_ids.cast(model_table.item_ids.type), value_set=model_table.item_ids)
    old_row = old_rows.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    shared = np.flatnonzero(old_row >= 0)
    width = len(vocab.codebook_sizes)
    before, after = _padded_codes(model_table, width)[old_row[shared]], _padded_codes(table, width)[shared]
    moved = np.flatnonzero((before != after).any(axis=1))
    if moved.size:
        first = int(moved[0])
        item = table.item_ids[int(shared[first])].as_py()
        was, now = ([int(c) for c in row if c != PAD] for row in (before[first], after[first]))
        raise DataError(
            f"{moved.size} of the {shared.size} items the model's SID table shares with the new one have another "
            f"SID there (item {item!r}: {was} -> {now}): the model generates the SIDs it was trained on; a table "
            "from another tokenizer fit needs `semid train` again (`semid assign` adds items and leaves the "
            "others' SIDs as they were)",
            source=TABLE_DIR,
        )


def _padded_codes(table: SIDTable, width: int) -> np.ndarray:
    """[items, width]: each item's code, PAD past its length."""
    codes = table.item_codes().codes
    return np.pad(codes, ((0, 0), (0, width - codes.shape[1])), constant_values=PAD)
