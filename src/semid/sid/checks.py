"""Checks that a SID table read from disk is whole and consistent with itself, before anything uses it.

A table that loads but does not hold together (100 ids, arrays for 9,031 items; offsets past the end; a
code outside its codebook) would otherwise fail later, on every search. Each check is O(items); a load of
1M items with all of them took 0.2-0.3 s on one core.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeGuard

import numpy as np
import pyarrow as pa

from semid.codes import code_keys
from semid.errors import DataError

PER_ITEM = ("popularity", "is_head", "item_sid", "sid_items")
PER_SID = ("sid_codes", "sid_lengths")
ARRAYS = (*PER_ITEM, *PER_SID, "sid_offsets")


def _positive_ints(value: Any) -> TypeGuard[list[int]]:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    )


def check_table(arrays: dict[str, np.ndarray], ids: pa.Array, meta: Any, source: str) -> None:
    """Raise DataError (naming `source`, the table folder) unless the parts make one consistent table."""

    def fail(message: str) -> NoReturn:
        raise DataError(message, source=source)

    if not isinstance(meta, dict):
        fail("table.json is not a JSON object")
    raw_sizes = meta.get("codebook_sizes")
    if not _positive_ints(raw_sizes):
        fail(f"table.json: 'codebook_sizes' must be a non-empty list of positive integers, got {raw_sizes!r}")
    sizes: list[int] = raw_sizes
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        fail(f"arrays.safetensors lacks {missing}")
    for k in ARRAYS:
        want = 2 if k == "sid_codes" else 1
        if arrays[k].dtype.kind not in "iu" or arrays[k].ndim != want:
            fail(f"arrays.safetensors: {k} is {arrays[k].dtype} with {arrays[k].ndim} dimensions")
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        fail(f"items.parquet: item_id is {ids.type}, not strings")

    n, (n_sids, n_layers) = len(ids), arrays["sid_codes"].shape
    for k in PER_ITEM:
        if arrays[k].shape[0] != n:
            fail(f"{n} item ids in items.parquet but {arrays[k].shape[0]} entries in {k}")
    for k in PER_SID:
        if arrays[k].shape[0] != n_sids:
            fail(f"{n_sids} SIDs in sid_codes but {arrays[k].shape[0]} entries in {k}")
    if arrays["sid_offsets"].shape[0] != n_sids + 1:
        fail(f"sid_offsets has {arrays['sid_offsets'].shape[0]} entries for {n_sids} SIDs (needs one more)")
    for key, actual in (("n_items", n), ("n_sids", n_sids), ("n_layers", n_layers)):
        if key in meta and meta[key] != actual:
            fail(f"table.json says {key} = {meta[key]!r}, the arrays hold {actual}")
    if n_layers < 1 or len(sizes) < n_layers:
        fail(f"{n_layers} code layers but codebook_sizes {sizes}")

    offsets = arrays["sid_offsets"].astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != n or (np.diff(offsets) <= 0).any():
        fail("sid_offsets must rise strictly from 0 to the number of items")
    item_sid, sid_items = arrays["item_sid"].astype(np.int64), arrays["sid_items"].astype(np.int64)
    if n and (item_sid.min() < 0 or item_sid.max() >= n_sids or sid_items.min() < 0 or sid_items.max() >= n):
        fail("item_sid or sid_items points outside the table")
    if (np.bincount(sid_items, minlength=n) != 1).any():
        fail("sid_items is not a permutation of the items")
    if not np.array_equal(item_sid[sid_items], np.repeat(np.arange(n_sids), np.diff(offsets))):
        fail("item_sid and sid_items/sid_offsets disagree on which SID an item has")
    if not np.isin(arrays["is_head"], (0, 1)).all():
        fail("is_head holds values other than 0 and 1")

    lengths = arrays["sid_lengths"].astype(np.int64)
    if n_sids and (lengths.min() < 1 or lengths.max() > n_layers):
        fail(f"sid_lengths outside [1, {n_layers}]")
    codes = arrays["sid_codes"]
    pad = np.iinfo(codes.dtype).max
    used = np.arange(n_layers)[None, :] < lengths[:, None]
    if (codes[~used] != pad).any():
        fail("sid_codes has codes past a SID's length")
    for layer in range(n_layers):
        if (codes[used[:, layer], layer] >= sizes[layer]).any():
            fail(f"sid_codes layer {layer} has a code >= its codebook size {sizes[layer]}")
    keys = code_keys(np.where(used, codes.astype(np.int64), -1))
    if n_sids > 1 and not (keys[1:] > keys[:-1]).all():
        fail("SIDs are not distinct and in trie order")
    if ids.null_count:
        fail("items.parquet: some item ids are null")
    # Unique ids are checked when a table is built, not here: on 1M ids that check alone takes longer than
    # the load and all of the above, and duplicates (only from a hand edit) make lookups ambiguous, not fail.
