import numpy as np
import pytest

from semid.embed import EncoderConfig, TextEncoder
from semid.errors import MissingResourceError


def test_missing_local_model_is_a_clear_error(tmp_path):
    with pytest.raises(MissingResourceError, match="semid never downloads models"):
        TextEncoder(EncoderConfig(model=str(tmp_path / "no-such-model")))
    with pytest.raises(MissingResourceError, match="never downloads"):
        TextEncoder(EncoderConfig(model="sentence-transformers/all-MiniLM-L6-v2"))


def test_bundled_minilm_encodes_and_caches():
    enc = TextEncoder(EncoderConfig(batch_size=2))
    texts = ["a red running shoe", "a blue running shoe", "tax law of 1990"]
    v = enc.encode(texts, show_progress=False)
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]  # the model means something
    assert enc.cache_path(texts).exists()
    again = TextEncoder(EncoderConfig(batch_size=2))
    np.testing.assert_array_equal(again.encode(texts, show_progress=False), v)
    assert again._model is None  # served from the cache, the model never loaded


def test_empty_text_is_rejected():
    with pytest.raises(ValueError, match="text 1 is empty"):
        TextEncoder().encode(["ok", "  "], show_progress=False)


@pytest.mark.parametrize("planted", ["pickle", "truncated"])
def test_bad_cache_file_is_recomputed_never_unpickled(tmp_path, planted):
    enc = TextEncoder(EncoderConfig(batch_size=2))
    texts = ["a cache file someone else wrote", "second text"]
    path = enc.cache_path(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    if planted == "pickle":  # an object array: loading it would unpickle
        np.save(path, np.array([{"x": 1}, {"y": 2}], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(b"\x93NUMPY\x01\x00")
    v = enc.encode(texts, show_progress=False)
    assert v.shape == (2, 384) and v.dtype == np.float32
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), v)  # the cache is repaired
