"""The one registry: every tokenizer make_tokenizer builds saves under a name load_tokenizer knows."""

import pytest

from semid.errors import DataError
from semid.tokenize import METHODS, TOKENIZERS, make_tokenizer


@pytest.mark.parametrize("method", METHODS)
def test_every_made_tokenizer_is_loadable_by_its_saved_name(method):
    quantizers = ["rq_kmeans", "rq_vae"] if method in ("sarq", "acrq", "sa2crq") else [None]
    for quantizer in quantizers:
        options = {} if quantizer is None else {"quantizer": quantizer}
        tok = make_tokenizer(method, **options)
        assert tok.method in TOKENIZERS
        assert TOKENIZERS[tok.method].load == type(tok).load
    assert make_tokenizer("rq_kmeans", hourglass="top_k").method in TOKENIZERS


def test_saved_only_names_are_not_made_directly():
    assert set(METHODS) == {"dsi", "nci", "rq_kmeans", "rq_vae", "sarq", "acrq", "sa2crq"}
    with pytest.raises(DataError, match="unknown tokenizer method 'sarq_vae'"):
        make_tokenizer("sarq_vae")
    with pytest.raises(DataError, match="unknown quantizer 'pq'"):
        make_tokenizer("sarq", quantizer="pq")
