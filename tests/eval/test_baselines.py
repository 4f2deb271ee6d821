import numpy as np

from semid.embed import EncoderConfig, TextEncoder
from semid.eval.baselines import BM25Retriever, DenseRetriever, PopularityRetriever

IDS = ["shoe", "hat", "cat", "tax"]
TEXTS = ["red running shoe for the road", "woollen winter hat", "a small domestic cat that purrs", "income tax law"]


def test_bm25_ranks_term_matches_and_drops_non_matches():
    bm25 = BM25Retriever(IDS, TEXTS)
    out = bm25.search(["winter hat", "purring cat", "zebra crossing"], k=4)
    assert out[0][0] == "hat" and out[1][0] == "cat"
    assert out[2] == []  # nothing shares a term: nothing is retrieved, no padding


def test_dense_uses_the_bundled_encoder():
    vecs = TextEncoder(EncoderConfig()).encode(TEXTS, show_progress=False)
    dense = DenseRetriever(IDS, vecs)
    out = dense.search(["a kitten", "government revenue rules"], k=2)
    assert out[0][0] == "cat" and out[1][0] == "tax"
    assert all(len(r) == 2 for r in out)


def test_popularity():
    pop = PopularityRetriever(IDS, np.array([3, 9, 9, 1]))
    assert pop.search([None, None], k=3) == [["hat", "cat", "shoe"]] * 2
