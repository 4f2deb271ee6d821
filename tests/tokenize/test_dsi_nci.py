"""DSI atomic IDs and NCI hierarchical k-means IDs: unique where they should be, stable, and cold-start ready."""

import numpy as np
import pytest

from semid.codes import code_keys
from semid.tokenize import AtomicIDs, HierarchicalKMeans, HKMeansConfig, load_tokenizer
from tests.helpers import clustered


def test_dsi_gives_every_item_its_own_token_and_new_items_their_neighbours():
    x = clustered(200, 8, 5)
    tok = AtomicIDs().fit(x)
    codes = tok.encode(x)
    assert tok.codebook_sizes == [200]
    assert codes.codes[:, 0].tolist() == list(range(200))
    new = x[[3, 50]] + 1e-3
    assert tok.encode(new).codes[:, 0].tolist() == [3, 50]
    assert np.allclose(tok.decode(codes), x, atol=1e-2)


@pytest.mark.parametrize("sizes", [[8, 8, 8, 8], [8, 8]])
def test_nci_codes_are_unique_variable_length_and_prefix_free(sizes):
    x = clustered(500, 8, 7, seed=1)
    tok = HierarchicalKMeans(HKMeansConfig(codebook_sizes=sizes, n_iter=10, show_progress=False)).fit(x)
    codes = tok.encode(x)
    codes.validate(sizes)
    lists = codes.to_lists()
    assert len(set(lists)) == len(lists) or sizes == [8, 8]  # the last layer ranks modulo its size
    assert len(set(codes.lengths.tolist())) > 1 or sizes == [8, 8]
    as_set = set(lists)
    assert not any(c[:n] in as_set for c in as_set for n in range(1, len(c)))  # no SID prefixes another
    keys = code_keys(codes.codes)
    assert len(np.unique(keys)) == len(as_set)


def test_nci_is_deterministic_saves_and_places_new_items_next_to_their_nearest(tmp_path):
    x = clustered(400, 8, 6, seed=2)
    cfg = HKMeansConfig(codebook_sizes=[4, 4, 4, 4], n_iter=10, seed=3, show_progress=False)
    a = HierarchicalKMeans(cfg).fit(x).encode(x)
    tok = HierarchicalKMeans(cfg).fit(x)
    assert a.to_lists() == tok.encode(x).to_lists()
    tok.save(tmp_path / "nci")
    again = load_tokenizer(tmp_path / "nci")
    assert again.encode(x).to_lists() == a.to_lists()
    new = again.encode(x[:20] + 1e-4)  # nearly the same vectors: same leaf
    assert [c[:-1] for c in new.to_lists()] == [c[:-1] for c in a.to_lists()[:20]]
    rec = again.decode(a)
    assert rec.shape == x.shape and np.isfinite(rec).all()


def test_nci_refit_forgets_the_previous_tree():
    cfg = HKMeansConfig(codebook_sizes=[4, 4, 4, 4], n_iter=10, seed=3, show_progress=False)
    a, b = clustered(400, 8, 6, seed=2), clustered(400, 8, 6, seed=5)  # 77 nodes each, other shapes
    tok = HierarchicalKMeans(cfg).fit(a)
    tok.encode(a)  # builds the tree's parent index
    tok.fit(b)
    assert tok.encode(b).to_lists() == HierarchicalKMeans(cfg).fit(b).encode(b).to_lists()
