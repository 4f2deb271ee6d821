"""The on-disk dataset format, and its validation.

A dataset is a folder with three files:

- ``items.parquet``: one row per item. ``item_id`` (string, unique), ``text`` (string, non-empty),
  ``popularity`` (int >= 0: interactions, clicks or sense counts), ``is_head`` (bool, from the
  head/tail split recorded in ``meta.json``).
- ``queries.parquet``: one row per query record. ``query_id`` (string, unique), ``split``
  (``train``/``valid``/``test``), ``query`` (string, may be empty when ``history`` is given),
  ``history`` (list of item ids, oldest first, may be empty), ``target`` (the item id to retrieve).
- ``meta.json``: name, source, how it was built, counts, and the head/tail rule.

Users bring their own catalogue as JSONL, CSV or parquet files with the same columns
(``semid data import``); every row is checked and the first bad one is reported by file and line.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semid.data.headtail import DEFAULT_HEAD_COVERAGE, head_tail_split
from semid.data.provenance import VECTORS_FILE, adopt_unrecorded_vectors, vectors_match
from semid.data.readers import line_of, read_table
from semid.errors import DataError, MissingResourceError, SemidWarning

ITEMS_FILE = "items.parquet"
QUERIES_FILE = "queries.parquet"
META_FILE = "meta.json"
SPLITS = ("train", "valid", "test")
ITEM_COLUMNS = ("item_id", "text", "popularity")
QUERY_COLUMNS = ("query_id", "split", "query", "history", "target")
INT64_MAX = int(np.iinfo(np.int64).max)


@dataclass
class Dataset:
    """A catalogue and its query records, validated."""

    name: str
    items: pd.DataFrame
    queries: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def split(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return self.queries[self.queries["split"] == name].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- reading


def _require_columns(df: pd.DataFrame, columns: tuple[str, ...], source: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; found {list(df.columns)}", source=source)


def _fail(msg: str, source: str, fmt: str, row: int) -> DataError:
    line, unit = line_of(fmt, row)
    return DataError(msg, source=source, line=line, unit=unit)


def _above_int64(value: Any) -> bool:
    try:
        return int(value) > INT64_MAX  # exact for ints of any size, numpy integers, integral strings
    except (TypeError, ValueError):
        return float(value) > INT64_MAX  # "1e19"


def validate_items(df: pd.DataFrame, source: str = "items", fmt: str = "parquet") -> pd.DataFrame:
    """Check and normalise an items table; raise DataError naming the first bad row."""
    _require_columns(df, ITEM_COLUMNS, source)
    if df.empty:
        raise DataError("no items: the catalogue is empty", source=source)
    ids = df["item_id"]
    for row, value in enumerate(ids):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            raise _fail("field 'item_id' is empty", source, fmt, row)
    ids = ids.astype(str)
    dup = ids.duplicated(keep="first")
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        first = int(np.flatnonzero((ids == ids.iloc[row]).to_numpy())[0])
        first_line, _ = line_of(fmt, first)
        raise _fail(f"duplicate item_id {ids.iloc[row]!r} (first seen at {first_line})", source, fmt, row)
    texts = df["text"]
    for row, value in enumerate(texts):
        if not isinstance(value, str) or value.strip() == "":
            raise _fail(f"field 'text' is empty for item {ids.iloc[row]!r}", source, fmt, row)
    pop_raw = pd.to_numeric(df["popularity"], errors="coerce")
    as_float = pop_raw.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = (pop_raw.isna() | ~np.isfinite(as_float)).to_numpy(copy=True)
    bad |= (pop_raw.fillna(0) < 0).to_numpy()
    bad |= (pop_raw.fillna(0) != np.floor(pop_raw.fillna(0))).to_numpy()
    for big in np.flatnonzero(~bad & (as_float >= 2.0**62)):  # float64 cannot tell 2**63 - 1 from 2**63: ask Python
        bad[big] = _above_int64(df["popularity"].iloc[big])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = df["popularity"].iloc[row]
        value = value.item() if isinstance(value, np.generic) else value  # 18446744073709551615, not np.uint64(...)
        raise _fail(
            f"field 'popularity' must be an integer >= 0 (at most {INT64_MAX}), got {value!r}",
            source,
            fmt,
            row,
        )
    out = pd.DataFrame(
        {"item_id": ids.to_numpy(), "text": texts.astype(str).to_numpy(), "popularity": pop_raw.astype(np.int64)}
    )
    if "is_head" in df.columns:
        out["is_head"] = df["is_head"].astype(bool).to_numpy()
    return out


def _as_history(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, float) and np.isnan(value):
        return []
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return []
        parsed = json.loads(value)  # CSV stores history as a JSON array
        if not isinstance(parsed, list):
            raise ValueError("history must be a list of item ids")
        return [str(v) for v in parsed]
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    raise ValueError(f"history must be a list of item ids, got {type(value).__name__}")


def validate_queries(
    df: pd.DataFrame, known_items: pd.Index, source: str = "queries", fmt: str = "parquet"
) -> pd.DataFrame:
    """Check and normalise query records against the catalogue; raise DataError naming the first bad row."""
    required = ("split", "target")
    _require_columns(df, required, source)
    if "query" not in df.columns and "history" not in df.columns:
        raise DataError("needs a 'query' or a 'history' column (or both)", source=source)
    n = len(df)
    query_ids = df["query_id"].astype(str) if "query_id" in df.columns else pd.Series([f"q{i}" for i in range(n)])
    dup = query_ids.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise _fail(f"duplicate query_id {query_ids.iloc[row]!r}", source, fmt, row)
    splits = df["split"].astype(str)
    bad_split = ~splits.isin(SPLITS)
    if bad_split.any():
        row = int(np.flatnonzero(bad_split.to_numpy())[0])
        raise _fail(f"field 'split' must be one of {SPLITS}, got {splits.iloc[row]!r}", source, fmt, row)
    queries = df["query"].fillna("").astype(str) if "query" in df.columns else pd.Series([""] * n, dtype=object)
    histories: list[list[str]] = []
    raw_hist = df["history"] if "history" in df.columns else pd.Series([None] * n, dtype=object)
    for row, value in enumerate(raw_hist):
        try:
            histories.append(_as_history(value))
        except (ValueError, json.JSONDecodeError) as exc:
            raise _fail(f"field 'history': {exc}", source, fmt, row) from None
    targets = df["target"].astype(str)
    known_target = known_items.get_indexer(targets) >= 0
    if not known_target.all():
        row = int(np.flatnonzero(~known_target)[0])
        raise _fail(f"unknown item id {targets.iloc[row]!r} in field 'target'", source, fmt, row)
    for row, (q, hist) in enumerate(zip(queries, histories, strict=True)):
        if q.strip() == "" and not hist:
            raise _fail("empty query: both 'query' and 'history' are empty", source, fmt, row)
        if hist:
            found = known_items.get_indexer(hist)
            if (found < 0).any():
                bad = hist[int(np.flatnonzero(found < 0)[0])]
                raise _fail(f"unknown item id {bad!r} in field 'history'", source, fmt, row)
    return pd.DataFrame(
        {
            "query_id": query_ids.to_numpy(),
            "split": splits.to_numpy(),
            "query": queries.to_numpy(),
            "history": pd.Series(histories, dtype=object).to_numpy(),
            "target": targets.to_numpy(),
        }
    )


def read_items(path: str | Path) -> pd.DataFrame:
    """Read and validate an items file (.jsonl, .csv or .parquet)."""
    p = Path(path)
    df, fmt = read_table(p)
    return validate_items(df, source=str(p), fmt=fmt)


def read_queries(path: str | Path, known_items: pd.Index) -> pd.DataFrame:
    """Read and validate a query-records file (.jsonl, .csv or .parquet) against known item ids."""
    p = Path(path)
    df, fmt = read_table(p)
    return validate_queries(df, known_items, source=str(p), fmt=fmt)


# ---------------------------------------------------------------------------------------------- writing


def build_dataset(
    name: str,
    items: pd.DataFrame,
    queries: pd.DataFrame,
    meta: dict[str, Any] | None = None,
    head_coverage: float = DEFAULT_HEAD_COVERAGE,
) -> Dataset:
    """Validate items and queries, apply the head/tail split, and fill in the counts in meta. What the data
    cannot support (no head items, no valid or few test records) is a SemidWarning (semid.data.checks)."""
    from semid.data.checks import dataset_warnings

    items = validate_items(items, source=f"{name} items")
    queries = validate_queries(queries, pd.Index(items["item_id"]), source=f"{name} queries")
    items["is_head"] = head_tail_split(items["popularity"].to_numpy(), head_coverage)
    for note in dataset_warnings(items, queries):
        warnings.warn(f"{name}: {note}", SemidWarning, stacklevel=2)
    meta = dict(meta or {})
    meta.update(
        {
            "name": name,
            "format_version": 1,
            "n_items": len(items),
            "n_queries": {s: int((queries["split"] == s).sum()) for s in SPLITS},
            "head_tail": {
                "rule": "most popular items covering `coverage` of total popularity are head",
                "coverage": head_coverage,
                "n_head": int(items["is_head"].sum()),
                "n_tail": int((~items["is_head"]).sum()),
                "n_zero_popularity": int((items["popularity"] == 0).sum()),
            },
        }
    )
    return Dataset(name=name, items=items, queries=queries, meta=meta)


def save_dataset(ds: Dataset, out_dir: str | Path) -> Path:
    """Write the dataset folder. Vectors already there are kept, but when they were embedded from other
    items a SemidWarning says so (and `semid tokenize` refuses them: semid.data.provenance)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    adopt_unrecorded_vectors(out)
    ds.items.to_parquet(out / ITEMS_FILE, index=False)
    ds.queries.to_parquet(out / QUERIES_FILE, index=False)
    (out / META_FILE).write_text(json.dumps(ds.meta, indent=2) + "\n", encoding="utf-8")
    if vectors_match(out) is False:
        warnings.warn(
            f"{out / VECTORS_FILE} was embedded from the previous catalogue in this folder; "
            f"run `semid embed {out}` again (`semid tokenize` refuses those vectors)",
            SemidWarning,
            stacklevel=2,
        )
    return out


def load_dataset(path: str | Path) -> Dataset:
    """Load a prepared dataset folder, validating every file."""
    root = Path(path)
    if not root.is_dir():
        raise MissingResourceError(
            f"{root}: no dataset folder here; make one with `semid data prepare NAME --out {root}`"
        )
    for fname in (ITEMS_FILE, QUERIES_FILE, META_FILE):
        if not (root / fname).exists():
            raise MissingResourceError(f"{root / fname}: missing; is {root} a dataset made by `semid data prepare`?")
    try:
        meta = json.loads((root / META_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON: {exc.msg}", source=str(root / META_FILE), line=exc.lineno) from None
    items = read_items(root / ITEMS_FILE)
    if "is_head" not in items.columns:
        raise DataError(
            "missing column 'is_head': write the folder with `semid data import` (or `semid data prepare`), "
            "which adds the head/tail split",
            source=str(root / ITEMS_FILE),
        )
    queries = read_queries(root / QUERIES_FILE, pd.Index(items["item_id"]))
    return Dataset(name=str(meta.get("name", root.name)), items=items, queries=queries, meta=meta)
