import numpy as np
import pandas as pd
import pytest

from semid.embed import check_vectors, load_vectors
from semid.errors import DataError, MissingResourceError


def test_nan_names_row_and_column():
    x = np.ones((5, 4), dtype=np.float32)
    x[3, 2] = np.nan
    x[4, 0] = np.inf
    with pytest.raises(DataError, match=r"vectors row 3: NaN or inf at column 2 \(2 bad rows in all\)"):
        check_vectors(x)


def test_dimension_and_row_mismatch():
    x = np.ones((5, 4))
    with pytest.raises(DataError, match="dimension mismatch: vectors have dim 4, expected 8"):
        check_vectors(x, dim=8)
    with pytest.raises(DataError, match="has 5 rows but the catalogue has 6 items"):
        check_vectors(x, n_rows=6)
    with pytest.raises(DataError, match="2-D"):
        check_vectors(np.ones(4))


def test_returns_contiguous_float32():
    out = check_vectors(np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2])
    assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]


def test_load_npy_and_parquet(tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.save(tmp_path / "v.npy", x)
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.npy", n_rows=3, dim=4), x)
    pd.DataFrame({"item_id": ["a", "b", "c"], "vector": list(x)}).to_parquet(tmp_path / "v.parquet")
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.parquet"), x)


def test_ragged_parquet_names_row(tmp_path):
    pd.DataFrame({"vector": [[1.0, 2.0], [1.0, 2.0], [1.0]]}).to_parquet(tmp_path / "v.parquet")
    with pytest.raises(DataError, match="row 2: vector of length 1"):
        load_vectors(tmp_path / "v.parquet")


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(MissingResourceError):
        load_vectors(tmp_path / "none.npy")
    (tmp_path / "v.txt").write_text("1 2 3")
    with pytest.raises(DataError, match="unsupported"):
        load_vectors(tmp_path / "v.txt")
