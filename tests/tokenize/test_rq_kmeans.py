import numpy as np
import pytest

from semid.errors import DataError
from semid.tokenize import Codes, RQKMeans, RQKMeansConfig, Tokenizer, load_tokenizer, make_tokenizer
from tests.helpers import clustered


def fit(x, sizes=(16, 16, 16), seed=0):
    return RQKMeans(RQKMeansConfig(codebook_sizes=list(sizes), seed=seed, show_progress=False)).fit(x)


def test_follows_the_tokenizer_protocol():
    assert isinstance(RQKMeans(), Tokenizer)


def test_deterministic_given_seed():
    x = clustered(3000, 16, 40)
    a, b = fit(x).encode(x), fit(x).encode(x)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert a.codes.shape == (3000, 3) and (a.lengths == 3).all()


def test_each_layer_reduces_reconstruction_error():
    x = clustered(3000, 16, 40)
    tok = fit(x)
    codes = tok.encode(x)
    errors = []
    for depth in (1, 2, 3):
        partial = Codes(np.where(np.arange(3) < depth, codes.codes, -1), np.full(len(x), depth, dtype=np.int32))
        errors.append(float(((tok.decode(partial) - x) ** 2).sum(axis=1).mean()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.5 * float((x**2).sum(axis=1).mean())


def test_save_load_gives_identical_codes(tmp_path):
    x = clustered(2000, 8, 20)
    tok = fit(x, (8, 8))
    tok.save(tmp_path / "tok")
    back = load_tokenizer(tmp_path / "tok")
    assert isinstance(back, RQKMeans)
    np.testing.assert_array_equal(back.encode(x).codes, tok.encode(x).codes)
    new = clustered(50, 8, 20, seed=7)  # cold-start items: encoded without refitting
    np.testing.assert_array_equal(back.encode(new).codes, tok.encode(new).codes)


def test_codebook_larger_than_items():
    with pytest.raises(DataError, match="codebook of size 64 is larger than the number of items \\(10\\)"):
        fit(clustered(10, 4, 2), (64,))


def test_bad_inputs():
    x = clustered(200, 4, 4)
    x[5, 1] = np.nan
    with pytest.raises(DataError, match="row 5"):
        fit(x, (4,))
    tok = fit(clustered(200, 4, 4), (4,))
    with pytest.raises(DataError, match="dimension mismatch"):
        tok.encode(np.ones((3, 5), dtype=np.float32))
    with pytest.raises(RuntimeError, match="not fitted"):
        RQKMeans().encode(np.ones((3, 4), dtype=np.float32))
    with pytest.raises(DataError, match="unknown tokenizer method"):
        make_tokenizer("nope")


def test_codes_validation():
    Codes.from_lists([[1, 2], [3]]).validate([4, 4])
    with pytest.raises(DataError, match="-1 after"):
        Codes(np.array([[1, 2]], dtype=np.int32), np.array([1], dtype=np.int32)).validate()
    with pytest.raises(DataError, match="codebook size 4"):
        Codes.from_lists([[1, 9]]).validate([4, 4])
    with pytest.raises(DataError, match="outside"):
        Codes(np.array([[1, 2]], dtype=np.int32), np.array([0], dtype=np.int32)).validate()
