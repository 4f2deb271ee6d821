"""Collaborative item vectors: the log's co-consumption reaches the SIDs, items outside the log still get
vectors, and the join travels with the tokenizer to `semid assign` and `semid train`."""

import json

import numpy as np
import pytest

from semid.data.format import build_dataset, save_dataset
from semid.embed.collaborative import CollaborativeConfig, CollaborativeVectors
from semid.errors import DataError
from semid.pipeline import assign_new_items, tokenize_dataset
from semid.tokenize import RQKMeans, RQKMeansConfig
from tests.helpers import GROUP, N_GROUPS, click_log


def purity(codes: np.ndarray, groups: np.ndarray) -> float:
    """Share of items whose first code's majority group is their own."""
    hits = 0
    for c in np.unique(codes):
        members = groups[codes == c]
        hits += np.bincount(members).max()
    return hits / len(groups)


def test_joined_vectors_put_co_consumed_items_under_one_first_code():
    ds, content = click_log()
    joined = CollaborativeVectors.fit(ds, content, CollaborativeConfig(dim=8, weight=0.7))
    x = joined.vectors(ds.items["item_id"].tolist(), content)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    groups = np.arange(N_GROUPS * GROUP) // GROUP
    first = {}
    for name, vectors in (("content", content), ("joined", x)):
        tok = RQKMeans(RQKMeansConfig(codebook_sizes=[2 * N_GROUPS, 4], seed=0)).fit(vectors)
        first[name] = purity(tok.encode(vectors).codes[:-1, 0], groups)
    assert first["joined"] >= 0.9
    assert first["content"] <= 0.5  # content alone cannot see the groups


def test_items_outside_the_log_get_their_part_from_content_and_the_fit_is_deterministic(tmp_path):
    ds, content = click_log()
    cfg = CollaborativeConfig(dim=8)
    a, b = CollaborativeVectors.fit(ds, content, cfg), CollaborativeVectors.fit(ds, content, cfg)
    ids = ds.items["item_id"].tolist()
    np.testing.assert_array_equal(a.vectors(ids, content), b.vectors(ids, content))
    assert "lonely" not in a.item_ids and "i0" in a.item_ids
    lonely = a.vectors(["lonely"], content[-1:])
    twin = a.vectors(["a new id"], content[-1:])  # same content, never seen: the same vector
    np.testing.assert_array_equal(lonely, twin)
    a.save(tmp_path)
    back = CollaborativeVectors.load(tmp_path)
    np.testing.assert_array_equal(back.vectors(ids, content), a.vectors(ids, content))
    none = CollaborativeVectors.fit(ds, content, CollaborativeConfig(dim=8, weight=0.0)).vectors(ids, content)
    np.testing.assert_allclose(none[:, :16], content / np.linalg.norm(content, axis=1, keepdims=True), atol=1e-6)


def test_what_collaborative_vectors_cannot_be_made_from_is_a_clear_error():
    ds, content = click_log()
    text = ds.queries.assign(history=[[] for _ in range(len(ds.queries))], query="words")
    with pytest.raises(DataError, match="need training records with histories"):
        CollaborativeVectors.fit(build_dataset("text", ds.items, text, {}), content)
    with pytest.raises(DataError, match="5 content vectors for 61 items"):
        CollaborativeVectors.fit(ds, content[:5])
    with pytest.raises(DataError, match="weight 2"):
        CollaborativeVectors.fit(ds, content, CollaborativeConfig(weight=2))
    fitted = CollaborativeVectors.fit(ds, content, CollaborativeConfig(dim=8))
    with pytest.raises(DataError, match="dimension 3"):
        fitted.vectors(["i0"], np.ones((1, 3), dtype=np.float32))


def test_the_join_travels_with_the_tokenizer_to_assign_and_train(tmp_path, monkeypatch):
    ds, content = click_log()
    save_dataset(ds, tmp_path / "ds")
    np.save(tmp_path / "ds" / "item_vectors.npy", content)
    cfg = CollaborativeConfig(dim=8)
    res = tokenize_dataset(tmp_path / "ds", tmp_path / "tok", collaborative=cfg, codebook_sizes=[6, 4])
    assert json.loads((tmp_path / "tok" / "tokenize.json").read_text())["collaborative"]["dim"] == 8
    assert CollaborativeVectors.present(tmp_path / "tok")
    assert res.tokenizer.encode(np.zeros((1, 16 + 8), dtype=np.float32)).n_items == 1  # fitted on joined vectors

    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"item_id": "n0", "text": "new", "popularity": 0}) + "\n")
    np.save(tmp_path / "new.npy", content[:1])  # content vectors, as `semid embed` makes them: joined by assign
    assert assign_new_items(tmp_path / "tok", new, tmp_path / "new.npy").n_new == 1

    import semid.retrieve.train as train

    seen = {}
    monkeypatch.setattr(train, "fit_retriever", lambda *a, item_vectors=None: seen.setdefault("x", item_vectors))
    train.train_retriever(tmp_path / "ds", tmp_path / "tok", tmp_path / "ret")
    joined = CollaborativeVectors.load(tmp_path / "tok").vectors(ds.items["item_id"].tolist(), content)
    np.testing.assert_array_equal(seen["x"], joined)


def test_a_refit_without_the_join_removes_it_and_train_refuses_other_content_vectors(tmp_path):
    ds, content = click_log()
    save_dataset(ds, tmp_path / "ds")
    np.save(tmp_path / "ds" / "item_vectors.npy", content)
    cfg = CollaborativeConfig(dim=8)
    tokenize_dataset(tmp_path / "ds", tmp_path / "tok", collaborative=cfg, codebook_sizes=[6, 4])
    np.save(tmp_path / "ds" / "item_vectors.npy", content[::-1].copy())  # embedded again: other content
    import semid.retrieve.train as train

    with pytest.raises(DataError, match="fitted on other content vectors"):
        train.train_retriever(tmp_path / "ds", tmp_path / "tok" / "sid_table", tmp_path / "ret")
    tokenize_dataset(tmp_path / "ds", tmp_path / "tok", overwrite=True, codebook_sizes=[6, 4])  # content only
    assert not CollaborativeVectors.present(tmp_path / "tok")
