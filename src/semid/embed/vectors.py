"""User-supplied vectors (.npy or parquet), checked for shape, dimension and finiteness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from semid.errors import DataError, MissingResourceError


def check_vectors(
    vectors: np.ndarray, *, source: str = "vectors", n_rows: int | None = None, dim: int | None = None
) -> np.ndarray:
    """Return `vectors` as a C-contiguous float32 matrix, or raise DataError naming the first bad row."""
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise DataError(f"expected a 2-D matrix (items x dim), got shape {arr.shape}", source=source)
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"expected numbers, got dtype {arr.dtype}", source=source)
    if n_rows is not None and arr.shape[0] != n_rows:
        raise DataError(f"has {arr.shape[0]} rows but the catalogue has {n_rows} items", source=source)
    if dim is not None and arr.shape[1] != dim:
        raise DataError(f"dimension mismatch: vectors have dim {arr.shape[1]}, expected {dim}", source=source)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        col = int(np.flatnonzero(~np.isfinite(arr[row]))[0])
        raise DataError(
            f"NaN or inf at column {col} ({int((~finite).sum())} bad rows in all)", source=source, line=row, unit="row"
        )
    return arr


def load_vectors(path: str | Path, *, n_rows: int | None = None, dim: int | None = None) -> np.ndarray:
    """Load vectors from `.npy` (a 2-D array) or parquet (a list column named `vector`, or numeric columns)."""
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
        if "vector" in df.columns:
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
