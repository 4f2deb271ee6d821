"""Cold-start slots: a share of a query's list kept for items the model was never trained on (TIGER, Rajput et
al. 2023, "Cold-Start Recommendation").

A retriever trained on one SID table and given a larger one (`Retriever.with_table` after `semid assign`)
seldom generates the new items' SIDs: they were never targets, and a new item often sits alone on its SID.
Which items are cold is recorded by the retriever (`Retriever.cold`: the items its table holds that the table
it was trained on did not) and saved with it (``COLD_ITEMS``, a JSON list of item ids beside retriever.json,
written only when there are any; an artifact without it has none).

With a share ε > 0 (``cold_share``), a query's cold candidates are the cold items whose SID shares a prefix
(one token at least) with a SID the beam generated, and was not generated itself (an item behind a generated
SID is a beam hit like any other, wherever the beam puts it). Order "prefix": the deepest shared prefix first,
then the best score among the generated SIDs with that prefix, then table order (SID trie order, popularity
within a SID). Order "vector" (item vectors: the minilm backbone): query . item, best first.

Placement: the j-th cold slot is position ceil(j / ε) (1-based): ε = 0.1 gives positions 10, 20, 30, ...; the
other positions keep the rank's own order. So no top-n of a list holds more than floor(ε n) cold-slot items
(at most ceil(ε k) of k, and none in a top-n with ε n < 1), a cold item found by a prefix alone never
displaces the best exact SID matches, and the list for k is the first k items of the list for any larger k,
as without cold slots (the server answers several k from one expansion, the bench scores every K from one
list). A slot is filled only once as many items of the rank's own order precede it as the list has, so a
short list is not padded with cold items past its share.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from semid.codes import code_keys
from semid.errors import DataError
from semid.retrieve.beam import BeamResult
from semid.sid.table import SIDTable

COLD_ITEMS = "cold_items.json"


def slot_positions(share: float, k: int) -> np.ndarray:
    """0-based positions of the cold slots in a list of k: j-th at ceil(j / share) - 1 (the rounding drops the
    float error of j / share, e.g. 3 / 0.1 = 30.000000000000004)."""
    if share <= 0:
        return np.zeros(0, dtype=np.int64)
    j = np.arange(1, math.floor(share * k + 1e-9) + 1)
    pos = np.ceil(np.round(j / share, 9)).astype(np.int64) - 1
    return pos[pos < k]


def cold_after(table: SIDTable, cold: np.ndarray, new_table: SIDTable) -> np.ndarray:
    """[new_table items]: which of them the model was not trained on, for a model trained on `table`'s items
    that are not `cold`."""
    trained = table.item_ids.filter(pa.array(~cold))
    return ~pc.is_in(new_table.item_ids.cast(trained.type), value_set=trained).to_numpy(zero_copy_only=False)


def save_cold(folder: Path, table: SIDTable, cold: np.ndarray) -> None:
    path = folder / COLD_ITEMS
    if cold.any():
        ids = table.item_ids.filter(pa.array(cold)).to_pylist()
        path.write_text(json.dumps(ids) + "\n", encoding="utf-8")
    else:
        path.unlink(missing_ok=True)  # a record left by an earlier save to this folder


def load_cold(folder: Path, table: SIDTable) -> np.ndarray:
    """The cold mask over `table` from the artifact `folder` (none cold when it has no record)."""
    path = folder / COLD_ITEMS
    if not path.exists():
        return np.zeros(table.n_items, dtype=bool)
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable cold item record ({exc})", source=str(path)) from None
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise DataError("expected a JSON list of item ids", source=str(path))
    cold = pc.is_in(table.item_ids, value_set=pa.array(ids, type=pa.string())).to_numpy(zero_copy_only=False)
    if int(cold.sum()) != len(set(ids)):
        known = set(table.item_ids.filter(pa.array(cold)).to_pylist())
        unknown = next(x for x in ids if x not in known)
        raise DataError(f"names item {unknown!r}, which the artifact's SID table does not hold", source=str(path))
    return cold


class ColdCandidates(NamedTuple):
    """One query's cold candidates in order "prefix"."""

    rows: np.ndarray  # table rows
    scores: np.ndarray  # the best score of the generated SIDs sharing their deepest prefix
    sids: np.ndarray  # their SIDs (table SID index)


class ColdIndex:
    """The cold items in table order (which is SID trie order), with their codes' prefixes as sortable keys per
    depth: the cold items under a prefix are one range, found by binary search."""

    def __init__(self, table: SIDTable, cold: np.ndarray) -> None:
        order = table.sid_items[cold[table.sid_items]].astype(np.int64)
        codes = table.item_codes().codes[order]
        self.rows, self.sids = order, table.item_sid[order].astype(np.int64)
        self.keys = [code_keys(codes[:, :depth]) for depth in range(1, table.n_layers + 1)]

    def candidates(self, res: BeamResult, need: int | None) -> list[ColdCandidates]:
        """Per query of `res`, its cold candidates in order "prefix", the first `need` (None: all)."""
        batch, width = res.scores.shape
        depths = min(len(self.keys), res.codes.shape[2])
        lo = np.zeros((batch, width, depths), dtype=np.int64)
        hi = np.zeros_like(lo)
        finished = np.isfinite(res.scores)
        for d in range(depths):
            keys = code_keys(res.codes[:, :, : d + 1].reshape(batch * width, d + 1)).reshape(batch, width)
            on = finished & (res.lengths > d)
            lo[:, :, d] = np.where(on, np.searchsorted(self.keys[d], keys, "left"), 0)
            hi[:, :, d] = np.where(on, np.searchsorted(self.keys[d], keys, "right"), 0)
        return [self._of_query(lo[b], hi[b], res.scores[b], res.sids[b], need) for b in range(batch)]

    def _of_query(
        self, lo: np.ndarray, hi: np.ndarray, scores: np.ndarray, sids: np.ndarray, need: int | None
    ) -> ColdCandidates:
        """Deepest prefix first; within a depth the beams come best first, so an item's first range is its best.
        Shallower prefixes are searched only while fewer than `need` candidates are found."""
        at = np.zeros(0, dtype=np.int64)
        at_scores = np.zeros(0, dtype=np.float32)
        for d in range(lo.shape[1] - 1, -1, -1):
            beams = np.flatnonzero(hi[:, d] > lo[:, d])
            if not beams.size:
                continue
            sizes = hi[beams, d] - lo[beams, d]
            ranges = np.repeat(lo[beams, d] - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
            at = np.concatenate([at, ranges])
            at_scores = np.concatenate([at_scores, np.repeat(scores[beams], sizes)])
            _, first = np.unique(at, return_index=True)
            first.sort()
            first = first[~np.isin(self.sids[at[first]], sids[sids >= 0])]  # behind a generated SID: a beam hit
            at, at_scores = at[first], at_scores[first]
            if need is not None and len(at) >= need:
                break
        at, at_scores = at[:need], at_scores[:need]
        return ColdCandidates(self.rows[at], at_scores, self.sids[at])


def merge_slots(k: int, warm: int, cold: int, positions: np.ndarray) -> np.ndarray:
    """Where the cold items go in a list of at most k made of `warm` items of the rank's own order and up to
    `cold` cold candidates, cold slots at `positions` (`slot_positions`): a bool mask over the list (True: a
    cold slot). Slot j is filled when the j items before it that are not cold slots exist."""
    placed = min(cold, int(np.searchsorted(positions - np.arange(len(positions)), warm, "right")))
    mask = np.zeros(min(k, warm + placed), dtype=bool)
    mask[positions[:placed]] = True
    return mask


def rank_cold(
    found: list[ColdCandidates], order: str, need: int, vectors: list[np.ndarray] | None, exact: bool
) -> list[ColdCandidates]:
    """Each query's cold candidates in `order` ("prefix": as found; "vector": by `vectors`, query . item per
    candidate, best first), the first `need`, scored as the rank scores its items: rank "exact" (`exact`) by
    `vectors`, rank "beam" by their beam score."""
    out = []
    for b, c in enumerate(found):
        own = vectors[b] if vectors is not None else None
        pick = np.argsort(-own, kind="stable")[:need] if order == "vector" and own is not None else slice(need)
        scores = own if exact and own is not None else c.scores
        out.append(ColdCandidates(c.rows[pick], scores[pick], c.sids[pick]))
    return out


def fill_slots(
    warm: tuple[np.ndarray, np.ndarray, np.ndarray],
    sizes: list[int],
    found: list[ColdCandidates],
    ranked: tuple[str, list[np.ndarray] | None, bool],
    positions: np.ndarray,
    k: int,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], list[int], np.ndarray]:
    """Per query, its `sizes[b]` next items of `warm` (rows, scores, SIDs, in the rank's order) with its cold
    candidates `found` in the slots at `positions` (`merge_slots`), ordered and scored as `rank_cold` does with
    `ranked` (order, vectors, exact): the merged (rows, scores, SIDs), the lists' sizes and a mask over the
    merged items (True: a cold slot)."""
    cold = rank_cold(found, ranked[0], len(positions), ranked[1], ranked[2])
    parts: list[tuple[np.ndarray, ...]] = []
    start = 0
    for n, c in zip(sizes, cold, strict=True):
        mask = merge_slots(k, n, len(c.rows), positions)
        n_cold, n_warm = int(mask.sum()), int((~mask).sum())
        merged = []
        for w, s in zip(warm, c, strict=True):
            out = np.empty(len(mask), dtype=w.dtype)
            out[mask], out[~mask] = s[:n_cold], w[start : start + n_warm]
            merged.append(out)
        parts.append((*merged, mask))
        start += n
    stacked = [np.concatenate(p) for p in zip(*parts, strict=True)] if parts else [np.zeros(0)] * 4
    return (stacked[0], stacked[1], stacked[2]), [len(p[3]) for p in parts], stacked[3].astype(bool)
