"""User-supplied vectors (.npy or parquet), checked for shape, dimension, finiteness and magnitude."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from semid.errors import DataError, MissingResourceError, SemidWarning

MAX_ABS_VALUE = 1e15
"""Largest |value| accepted: semid quantizes in float32, where squared distances of values near 1e18 overflow
(faiss then aborts the process, the RQ-VAE's loss turns to inf)."""


def check_vectors(
    vectors: np.ndarray, *, source: str = "vectors", n_rows: int | None = None, dim: int | None = None
) -> np.ndarray:
    """Return `vectors` as a C-contiguous float32 matrix, or raise DataError naming the first bad row."""
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise DataError(f"expected a 2-D matrix (items x dim), got shape {arr.shape}", source=source)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise DataError(f"expected numbers, got dtype {arr.dtype}", source=source)
    if n_rows is not None and arr.shape[0] != n_rows:
        raise DataError(f"has {arr.shape[0]} rows but the catalogue has {n_rows} items", source=source)
    if dim is not None and arr.shape[1] != dim:
        raise DataError(f"dimension mismatch: vectors have dim {arr.shape[1]}, expected {dim}", source=source)
    if arr.shape[1] == 0:
        raise DataError(f"the vectors have 0 dimensions (shape {arr.shape})", source=source)
    finite = np.isfinite(arr).all(axis=1)  # before the cast: a finite float64 above float32's range is not inf
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        col = int(np.flatnonzero(~np.isfinite(arr[row]))[0])
        raise DataError(
            f"NaN or inf at column {col} ({int((~finite).sum())} bad rows in all)", source=source, line=row, unit="row"
        )
    if arr.size and max(float(arr.max()), -float(arr.min())) > MAX_ABS_VALUE:
        big = np.abs(arr.astype(np.float64, copy=False)) > MAX_ABS_VALUE
        row = int(np.flatnonzero(big.any(axis=1))[0])
        col = int(np.flatnonzero(big[row])[0])
        raise DataError(
            f"value {float(arr[row, col]):.3g} at column {col}: values above {MAX_ABS_VALUE:.0e} in magnitude overflow "
            "the float32 distances semid quantizes with; scale the vectors down (e.g. L2-normalise them)",
            source=source,
            line=row,
            unit="row",
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_fit_vectors(vectors: np.ndarray, *, source: str = "vectors") -> np.ndarray:
    """check_vectors for fitting a tokenizer: at least one row, and a SemidWarning when every row is the same
    vector (a quantizer then gives the whole catalogue one SID)."""
    arr = check_vectors(vectors, source=source)
    if arr.shape[0] == 0:
        raise DataError("no vectors to fit on (0 rows)", source=source)
    if arr.shape[0] > 1 and bool((arr.max(axis=0) == arr.min(axis=0)).all()):
        warnings.warn(
            f"{source}: all {arr.shape[0]} vectors are identical, so the SIDs cannot tell the items apart "
            "(a quantizer gives every item the same SID); are these the right vectors?",
            SemidWarning,
            stacklevel=3,
        )
    return arr


def _join_by_id(df: pd.DataFrame, item_ids: Sequence[str], source: str) -> pd.DataFrame:
    ids = df["item_id"].astype(str)
    doubled = ids.duplicated().to_numpy()
    if doubled.any():
        row = int(np.flatnonzero(doubled)[0])
        raise DataError(f"item_id {ids.iloc[row]!r} has two vectors", source=source, line=row, unit="row")
    pos = pd.Index(ids).get_indexer(pd.Index([str(i) for i in item_ids]))
    missing = pos < 0
    if missing.any():
        first = str(item_ids[int(np.flatnonzero(missing)[0])])
        raise DataError(f"no vector for item {first!r} ({int(missing.sum())} items without one)", source=source)
    return df.iloc[pos].reset_index(drop=True)


def load_vectors(
    path: str | Path, *, n_rows: int | None = None, dim: int | None = None, item_ids: Sequence[str] | None = None
) -> np.ndarray:
    """Load vectors from `.npy` (a 2-D array) or parquet (a list column named `vector`, or numeric columns).
    With `item_ids`, a parquet file's `item_id` column is joined on them (rows in any order, extra rows
    ignored, a missing or doubled id an error); otherwise rows are taken by position."""
    p = Path(path)
    if not p.exists():
        raise MissingResourceError(f"{p}: no such vectors file")
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise DataError(f"cannot read .npy: {exc}", source=str(p)) from None
    elif p.suffix in (".parquet", ".pq"):
        df = pd.read_parquet(p)
        if item_ids is not None and "item_id" in df.columns:
            df = _join_by_id(df, item_ids, str(p))
            n_rows = None  # the join made the rows the catalogue's
        if "vector" in df.columns:
            nulls = df["vector"].isna().to_numpy()
            if nulls.any():
                row = int(np.flatnonzero(nulls)[0])
                raise DataError(
                    f"the vector is null ({int(nulls.sum())} null rows in all)", source=str(p), line=row, unit="row"
                )
            lengths = df["vector"].map(len)
            if lengths.nunique() > 1:
                row = int(np.flatnonzero((lengths != lengths.iloc[0]).to_numpy())[0])
                raise DataError(
                    f"vector of length {lengths.iloc[row]}, the first row has {lengths.iloc[0]}",
                    source=str(p),
                    line=row,
                    unit="row",
                )
            arr = np.stack(df["vector"].to_numpy())
        else:
            arr = df.drop(columns=[c for c in ("item_id",) if c in df.columns]).to_numpy()
    else:
        raise DataError("unsupported vectors file; use .npy or .parquet", source=str(p))
    return check_vectors(arr, source=str(p), n_rows=n_rows, dim=dim)
