"""Helpers shared by the SID table tests (and the server's reload tests): small random tables, and a
catalogue of ways a saved table can be broken, each with the reason `SIDTable.load` must give."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors.numpy import load_file, save_file

from semid.sid import SIDTable, store
from semid.tokenize import Codes


def random_table(n: int, seed: int) -> SIDTable:
    """n items with random 2-layer codes (8 x 8) and popularities; the ids name the seed."""
    rng = np.random.default_rng(seed)
    codes = Codes(rng.integers(0, 8, size=(n, 2)).astype(np.int32), np.full(n, 2, dtype=np.int32))
    return SIDTable.build([f"s{seed}-{i}" for i in range(n)], codes, [8, 8], rng.integers(0, 50, size=n))


def same_table(a: SIDTable, b: SIDTable) -> bool:
    """Same item ids in the same order, with the same codes."""
    return a.item_ids.to_pylist() == b.item_ids.to_pylist() and a.item_codes().to_lists() == b.item_codes().to_lists()


def _json(edit):
    def mutate(folder):
        meta = json.loads((folder / store.TABLE_META).read_text())
        edit(meta)
        (folder / store.TABLE_META).write_text(json.dumps(meta))

    return mutate


def _arrays(edit):
    def mutate(folder):
        arrays = load_file(str(folder / store.TABLE_ARRAYS))
        edit(arrays)
        save_file(arrays, str(folder / store.TABLE_ARRAYS))

    return mutate


def _ids(edit):
    def mutate(folder):
        ids = pq.read_table(folder / store.TABLE_ITEMS).column("item_id").to_pylist()
        pq.write_table(pa.table({"item_id": edit(ids)}), folder / store.TABLE_ITEMS)

    return mutate


def _bytes(name, edit):
    def mutate(folder):
        (folder / name).write_bytes(edit((folder / name).read_bytes()))

    return mutate


def _set(arrays, key, index, value):
    arrays[key] = arrays[key].copy()
    arrays[key][index] = value


# each case: (what alters a saved table's folder, what SIDTable.load's DataError must say)
BROKEN = {
    "table.json without codebook_sizes": (_json(lambda m: m.pop("codebook_sizes")), "codebook_sizes"),
    "codebook_sizes not a list": (_json(lambda m: m.update(codebook_sizes="8,8")), "codebook_sizes"),
    "codebook smaller than a code": (_json(lambda m: m.update(codebook_sizes=[8, 2])), "layer 1 has a code"),
    "table.json says other counts": (_json(lambda m: m.update(n_items=9031)), "n_items"),
    "table.json not JSON": (_bytes(store.TABLE_META, lambda b: b[:-5]), "table.json: not readable"),
    "truncated arrays": (_bytes(store.TABLE_ARRAYS, lambda b: b[: len(b) // 2]), "arrays.safetensors: not"),
    "empty arrays": (_bytes(store.TABLE_ARRAYS, lambda b: b""), "arrays.safetensors: not readable"),
    "arrays not safetensors": (_bytes(store.TABLE_ARRAYS, lambda b: b"\x80\x04" * 50), "arrays.safetensors"),
    "items not parquet": (_bytes(store.TABLE_ITEMS, lambda b: b"PAR1" + b"x" * 40), "items.parquet: not readable"),
    "an array missing": (_arrays(lambda a: a.pop("sid_items")), "lacks \\['sid_items'\\]"),
    "fewer ids than arrays": (_ids(lambda ids: ids[:10]), "10 item ids in items.parquet but 40 entries"),
    "null ids": (_ids(lambda ids: [None, *ids[1:]]), "null"),
    "ids not strings": (_ids(lambda ids: list(range(len(ids)))), "not strings"),
    "offsets past the end": (_arrays(lambda a: _set(a, "sid_offsets", -1, 41)), "sid_offsets"),
    "item_sid out of range": (_arrays(lambda a: _set(a, "item_sid", 0, 10_000)), "outside the table"),
    "sid_items not a permutation": (_arrays(lambda a: _set(a, "sid_items", 0, a["sid_items"][1])), "permutation"),
    "item_sid disagrees": (_arrays(lambda a: _set(a, "item_sid", slice(None), a["item_sid"][::-1])), "disagree"),
    "is_head not 0/1": (_arrays(lambda a: _set(a, "is_head", 0, 7)), "is_head"),
    "length past the layers": (_arrays(lambda a: _set(a, "sid_lengths", 0, 3)), "sid_lengths outside"),
    "SIDs out of order": (_arrays(lambda a: _set(a, "sid_codes", slice(None), a["sid_codes"][::-1])), "trie order"),
    "popularity a float array": (_arrays(lambda a: a.update(popularity=a["popularity"] * 0.5)), "popularity is float"),
}


def publish(dest, mutate) -> None:
    """Save the current table again, altered by `mutate(folder)`, as a new version (an atomic, valid swap)."""
    good = store.resolve(dest)

    def write(folder):
        for name in store.TABLE_FILES:
            shutil.copy(good / name, folder / name)
        mutate(folder)

    store.write_version(dest, write)
