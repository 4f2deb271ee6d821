"""The SID table: items <-> variable-length semantic IDs, in compact arrays.

Layout (n items, S distinct SIDs, L layers):

- ``sid_codes`` [S, L] uint16 (uint32 for codebooks over 65,535), each row a SID, -1 stored as
  the maximum value past the SID's length; rows sorted lexicographically with "end of SID" before
  any code, so a short SID comes right before the longer SIDs it prefixes (trie order).
- ``sid_lengths`` [S] uint8.
- ``sid_offsets`` [S+1] and ``sid_items`` [n]: the items of SID s are
  ``sid_items[sid_offsets[s]:sid_offsets[s+1]]``, most popular first (ties: catalogue order).
- ``item_sid`` [n] int32: the SID of each item; ``popularity`` [n] int64; ``is_head`` [n] bool.
- ``item_ids``: a pyarrow string array (no per-item Python objects).

About 25 bytes per item plus the id strings; see benchmarks/bench_sid_table.py for the measured figure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from semid.codes import PAD, Codes, code_keys, find_sorted
from semid.errors import DataError
from semid.sid.store import TABLE_META, read_table_files, read_version, write_table_files, write_version

__all__ = ["TABLE_META", "SIDTable"]


def _code_dtype(codebook_sizes: Sequence[int]) -> np.dtype:
    return np.dtype(np.uint16) if max(codebook_sizes) < np.iinfo(np.uint16).max else np.dtype(np.uint32)


def _hash_ids(ids: pa.Array) -> np.ndarray:
    out = np.empty(len(ids), dtype=np.uint64)
    step = 1 << 20
    for start in range(0, len(ids), step):
        chunk = ids.slice(start, step).to_numpy(zero_copy_only=False)
        out[start : start + len(chunk)] = pd.util.hash_array(chunk.astype(object), categorize=False)
    return out


class SIDTable:
    """Items <-> SIDs. Build with :meth:`build`, persist with :meth:`save` / :meth:`load`."""

    def __init__(
        self,
        item_ids: pa.Array,
        popularity: np.ndarray,
        is_head: np.ndarray,
        item_sid: np.ndarray,
        sid_codes: np.ndarray,
        sid_lengths: np.ndarray,
        sid_offsets: np.ndarray,
        sid_items: np.ndarray,
        codebook_sizes: list[int],
    ) -> None:
        self.item_ids = item_ids
        self.popularity = popularity
        self.is_head = is_head
        self.item_sid = item_sid
        self.sid_codes = sid_codes
        self.sid_lengths = sid_lengths
        self.sid_offsets = sid_offsets
        self.sid_items = sid_items
        self.codebook_sizes = list(codebook_sizes)
        self._id_hashes: np.ndarray | None = None
        self._id_order: np.ndarray | None = None

    # ------------------------------------------------------------------------------------------ build

    @classmethod
    def build(
        cls,
        item_ids: Sequence[str] | pa.Array,
        codes: Codes,
        codebook_sizes: Sequence[int],
        popularity: np.ndarray | None = None,
        is_head: np.ndarray | None = None,
    ) -> SIDTable:
        ids = item_ids if isinstance(item_ids, pa.Array) else pa.array(list(item_ids), type=pa.string())
        n = len(ids)
        if codes.n_items != n:
            raise DataError(f"{codes.n_items} codes for {n} items", source="codes")
        if len(codebook_sizes) < codes.n_layers:
            raise DataError(
                f"codes have {codes.n_layers} layers but only {len(codebook_sizes)} codebook sizes", source="codes"
            )
        codes.validate(list(codebook_sizes))
        if ids.null_count:
            raise DataError("item ids contain nulls", source="item_ids")
        if pc.count_distinct(ids).as_py() != n:
            raise DataError("item ids are not unique", source="item_ids")
        pop = np.zeros(n, dtype=np.int64) if popularity is None else np.asarray(popularity, dtype=np.int64)
        head = np.zeros(n, dtype=bool) if is_head is None else np.asarray(is_head, dtype=bool)
        if pop.shape != (n,) or head.shape != (n,):
            raise DataError("popularity and is_head must have one entry per item", source="items")

        keys = code_keys(codes.codes)
        # primary: SID in trie order; then popularity (desc); then catalogue order
        order = np.lexsort((np.arange(n), -pop, keys)).astype(np.int32)
        sorted_keys = keys[order]
        is_start = np.ones(n, dtype=bool)
        is_start[1:] = sorted_keys[1:] != sorted_keys[:-1]
        starts = np.flatnonzero(is_start)
        offsets_dtype = np.int32 if n < np.iinfo(np.int32).max else np.int64
        sid_offsets = np.append(starts, n).astype(offsets_dtype)
        code_dtype = _code_dtype(codebook_sizes)
        first = codes.codes[order[starts]]
        sid_codes = np.where(first == PAD, np.iinfo(code_dtype).max, first).astype(code_dtype)
        sid_lengths = codes.lengths[order[starts]].astype(np.uint8)
        item_sid = np.empty(n, dtype=np.int32)
        item_sid[order] = np.cumsum(is_start) - 1
        return cls(ids, pop, head, item_sid, sid_codes, sid_lengths, sid_offsets, order, list(codebook_sizes))

    def extend(
        self,
        item_ids: Sequence[str],
        codes: Codes,
        popularity: np.ndarray | None = None,
        is_head: np.ndarray | None = None,
        codebook_sizes: Sequence[int] | None = None,
    ) -> SIDTable:
        """A new table with these items added; every existing item keeps its SID and its row number.
        `codebook_sizes` replaces the table's (a dedup layer may have grown)."""
        n_new = len(item_ids)
        if n_new == 0:
            return self
        existing = self.item_codes()
        width = max(existing.n_layers, codes.n_layers)

        def widen(c: Codes) -> np.ndarray:
            pad = np.full((c.n_items, width - c.n_layers), PAD, dtype=np.int32)
            return np.hstack([c.codes, pad])

        ids = pa.concat_arrays([self.item_ids, pa.array(list(item_ids), type=pa.string())])
        merged = Codes(np.vstack([widen(existing), widen(codes)]), np.concatenate([existing.lengths, codes.lengths]))
        pop = np.zeros(n_new, dtype=np.int64) if popularity is None else np.asarray(popularity, dtype=np.int64)
        head = np.zeros(n_new, dtype=bool) if is_head is None else np.asarray(is_head, dtype=bool)
        return SIDTable.build(
            ids,
            merged,
            list(codebook_sizes) if codebook_sizes is not None else self.codebook_sizes,
            np.concatenate([self.popularity, pop]),
            np.concatenate([self.is_head, head]),
        )

    # ------------------------------------------------------------------------------------------ access

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_sids(self) -> int:
        return int(self.sid_lengths.shape[0])

    @property
    def n_layers(self) -> int:
        return int(self.sid_codes.shape[1])

    def sid_code_matrix(self) -> Codes:
        """The distinct SIDs as Codes (int32, PAD = -1), in trie order."""
        pad = np.iinfo(self.sid_codes.dtype).max
        codes = np.where(self.sid_codes == pad, PAD, self.sid_codes.astype(np.int64)).astype(np.int32)
        return Codes(codes, self.sid_lengths.astype(np.int32))

    def item_codes(self) -> Codes:
        """Each item's SID as Codes."""
        sids = self.sid_code_matrix()
        return Codes(sids.codes[self.item_sid], sids.lengths[self.item_sid])

    def fingerprint(self) -> str:
        """sha256 of which item has which SID (ids, codes, lengths): what a model trained on this table learnt."""
        codes = self.item_codes()
        digest = hashlib.sha256()
        for part in (_hash_ids(self.item_ids), codes.codes, codes.lengths):
            digest.update(np.ascontiguousarray(part).tobytes())
        return digest.hexdigest()

    def items_of_sid(self, sid: int) -> np.ndarray:
        """Item indices of one SID, most popular first."""
        return self.sid_items[self.sid_offsets[sid] : self.sid_offsets[sid + 1]]

    def sid_sizes(self) -> np.ndarray:
        return np.diff(self.sid_offsets).astype(np.int64)

    def find_sids(self, codes: Codes) -> np.ndarray:
        """Index of each code's SID in the table, or -1 where no item has that SID."""
        if codes.n_layers > self.n_layers:
            extra = codes.codes[:, self.n_layers :]
            too_long = (extra != PAD).any(axis=1)
            codes = Codes(codes.codes[:, : self.n_layers], codes.lengths)
        else:
            too_long = np.zeros(codes.n_items, dtype=bool)
            if codes.n_layers < self.n_layers:
                pad = np.full((codes.n_items, self.n_layers - codes.n_layers), PAD, dtype=np.int32)
                codes = Codes(np.hstack([codes.codes, pad]), codes.lengths)
        pos, found = find_sorted(code_keys(self.sid_code_matrix().codes), code_keys(codes.codes))
        return np.where(found & ~too_long, pos, -1).astype(np.int64)

    def lookup(self, ids: Sequence[str]) -> np.ndarray:
        """Row index of each item id; DataError naming the first unknown id."""
        if self._id_hashes is None:
            hashes = _hash_ids(self.item_ids)
            self._id_order = np.argsort(hashes, kind="stable")
            self._id_hashes = hashes[self._id_order]
        assert self._id_order is not None
        query = pa.array(list(ids), type=pa.string())
        qh = _hash_ids(query)
        pos, _ = find_sorted(self._id_hashes, qh)  # a hash match is not enough: the ids are compared below
        out = self._id_order[pos].astype(np.int64)
        same = pc.equal(self.item_ids.take(pa.array(out)), query).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(~same):  # a hash collision (two ids, one hash) or an unknown id
            p, h, want = int(pos[i]), qh[i], query[int(i)].as_py()
            out[i] = -1
            while p < len(self._id_hashes) and self._id_hashes[p] == h:
                if self.item_ids[int(self._id_order[p])].as_py() == want:
                    out[i] = int(self._id_order[p])
                    break
                p += 1
            if out[i] < 0:
                raise DataError(f"unknown item id {want!r}", source="item_ids", line=int(i), unit="position")
        return out

    def nbytes(self) -> int:
        arrays = (
            self.popularity,
            self.is_head,
            self.item_sid,
            self.sid_codes,
            self.sid_lengths,
            self.sid_offsets,
            self.sid_items,
        )
        return int(sum(a.nbytes for a in arrays) + self.item_ids.nbytes)

    # ------------------------------------------------------------------------------------------ persist

    def save(self, path: str | Path) -> Path:
        """Write the table to the folder `path` crash-safely: at every instant a reader of `path` finds the
        complete old table or the complete new one (semid.sid.store has the layout)."""
        dest = Path(path)
        arrays = {
            "popularity": self.popularity,
            "is_head": self.is_head.astype(np.uint8),
            "item_sid": self.item_sid,
            "sid_codes": self.sid_codes,
            "sid_lengths": self.sid_lengths,
            "sid_offsets": self.sid_offsets,
            "sid_items": self.sid_items,
        }
        meta = {
            "format_version": 1,
            "n_items": self.n_items,
            "n_sids": self.n_sids,
            "n_layers": self.n_layers,
            "codebook_sizes": self.codebook_sizes,
        }
        write_version(dest, lambda folder: write_table_files(folder, arrays, self.item_ids, meta))
        return dest

    @classmethod
    def load(cls, path: str | Path) -> SIDTable:
        arrays, ids, meta = read_version(Path(path), read_table_files)
        return cls(
            ids,
            arrays["popularity"],
            arrays["is_head"].astype(bool),
            arrays["item_sid"],
            arrays["sid_codes"],
            arrays["sid_lengths"],
            arrays["sid_offsets"],
            arrays["sid_items"],
            meta["codebook_sizes"],
        )
