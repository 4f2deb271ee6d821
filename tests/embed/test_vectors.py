import warnings

import numpy as np
import pandas as pd
import pytest

from semid.embed import check_fit_vectors, check_vectors, load_vectors
from semid.errors import DataError, MissingResourceError, SemidWarning
from semid.tokenize import make_tokenizer


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


def test_zero_dimensional_vectors_are_refused():  # were SIGFPE inside faiss (rc 136)
    with pytest.raises(DataError, match=r"0 dimensions \(shape \(5, 0\)\)"):
        check_vectors(np.ones((5, 0), dtype=np.float32))


def test_finite_but_huge_values_are_refused_with_row_and_column():  # 1e30 aborted faiss (rc 134)
    x = np.ones((6, 4), dtype=np.float32)
    x[4, 1] = -1e30
    with pytest.raises(DataError, match=r"vectors row 4: value -1e\+30 at column 1: values above 1e\+15"):
        check_vectors(x)
    y = np.ones((3, 2))
    y[2, 0] = 1e39  # finite in float64, inf once cast to float32: still named as too large, not as inf
    with pytest.raises(DataError, match=r"row 2: value 1e\+39 at column 0"):
        check_vectors(y)
    assert check_vectors(np.full((2, 2), 1e15)).dtype == np.float32  # the bound itself is fine


def test_complex_vectors_are_refused():
    with pytest.raises(DataError, match="expected numbers"):
        check_vectors(np.ones((2, 2), dtype=np.complex64))


def test_null_vector_in_parquet_names_its_row(tmp_path):  # was a TypeError trace
    pd.DataFrame({"vector": [[1.0, 2.0], None, [1.0, 2.0], None]}).to_parquet(tmp_path / "v.parquet")
    with pytest.raises(DataError, match=r"v.parquet row 1: the vector is null \(2 null rows in all\)"):
        load_vectors(tmp_path / "v.parquet")


def test_fitting_needs_rows_and_warns_on_identical_vectors():
    with pytest.raises(DataError, match="no vectors to fit on"):
        check_fit_vectors(np.ones((0, 4), dtype=np.float32))
    with pytest.warns(SemidWarning, match="all 5 vectors are identical"):
        check_fit_vectors(np.ones((5, 4), dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_fit_vectors(np.eye(5, 4, dtype=np.float32))  # distinct vectors: silent
        check_fit_vectors(np.ones((1, 4), dtype=np.float32))  # one item: nothing to tell apart


@pytest.mark.parametrize("method", ["rq_kmeans", "rq_vae", "sarq", "nci", "dsi"])
def test_every_tokenizer_warns_when_fitted_on_identical_vectors(method):
    options = {} if method == "dsi" else {"codebook_sizes": [2, 2], "show_progress": False}
    if method == "rq_vae":
        options.update(epochs=1, device="cpu", hidden_dims=[8], latent_dim=4, batch_size=8)
    with pytest.warns(SemidWarning, match="identical"):
        make_tokenizer(method, **options).fit(np.ones((8, 4), dtype=np.float32))
