"""The user's files are not overwritten or silently mixed up (issue 12, item 3): data import never writes
over its own inputs, vectors of a replaced catalogue are refused, vectors with ids are joined by id."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from semid.cli import app
from semid.data.provenance import VECTORS_INFO, vectors_match
from semid.embed import load_vectors
from semid.errors import DataError
from semid.sid import SIDTable
from tests.helpers import clustered, data_import, make_dataset, runner, write_jsonl


def test_data_import_refuses_to_overwrite_its_own_inputs(tmp_path):
    ds = make_dataset(tmp_path, n=20)
    items = pd.read_parquet(ds / "items.parquet").assign(note="the user's extra column")
    items.to_parquet(ds / "items.parquet")  # the user's own files, where the import would write
    before = {name: (ds / name).read_bytes() for name in ("items.parquet", "queries.parquet")}
    res = data_import(ds / "items.parquet", ds / "queries.parquet", ds)
    assert res.exit_code == 2 and "items.parquet: this is an input and would be overwritten" in res.output
    assert {name: (ds / name).read_bytes() for name in before} == before
    (tmp_path / "link").symlink_to(ds)  # another spelling of the same folder
    res = data_import(ds / "items.parquet", tmp_path / "queries.jsonl", tmp_path / "link")
    assert res.exit_code == 2 and "would be overwritten" in res.output
    assert (ds / "items.parquet").read_bytes() == before["items.parquet"]
    assert data_import(ds / "items.parquet", ds / "queries.parquet", tmp_path / "elsewhere").exit_code == 0


def other_catalogue(tmp_path, n=20):
    """Same size, other items: what re-importing a different catalogue into the folder looks like."""
    write_jsonl(
        tmp_path / "items2.jsonl", [{"item_id": f"x{k}", "text": f"other {k}", "popularity": 1} for k in range(n)]
    )
    queries = [{"query_id": f"q{k}", "split": "train", "query": f"find {k}", "target": f"x{k}"} for k in range(n)]
    write_jsonl(tmp_path / "queries2.jsonl", queries)
    return tmp_path / "items2.jsonl", tmp_path / "queries2.jsonl"


def tokenize_folder(ds, out):
    return runner.invoke(app, ["tokenize", str(ds), "--codebook-sizes", "4", "--out", str(out)])


def test_vectors_of_a_replaced_catalogue_are_refused_until_embedded_again(tmp_path):
    ds = make_dataset(tmp_path, n=20)
    res = runner.invoke(app, ["embed", str(ds)])
    assert res.exit_code == 0, res.output
    assert vectors_match(ds) is True and "items_sha256" in json.loads((ds / VECTORS_INFO).read_text())
    assert tokenize_folder(ds, tmp_path / "t1").exit_code == 0
    res = data_import(*other_catalogue(tmp_path), ds)  # same row count: the old check could not see it
    assert res.exit_code == 0 and "item_vectors.npy was embedded from the previous catalogue" in res.output
    res = tokenize_folder(ds, tmp_path / "t2")
    assert res.exit_code == 2 and "embedded from another catalogue" in res.output and "semid embed" in res.output
    assert not (tmp_path / "t2").exists()
    assert runner.invoke(app, ["embed", str(ds)]).exit_code == 0
    assert tokenize_folder(ds, tmp_path / "t3").exit_code == 0


def test_vectors_from_before_identities_are_tied_to_the_items_they_sat_with(tmp_path):
    ds = make_dataset(tmp_path, n=20)
    np.save(ds / "item_vectors.npy", clustered(20, 8, 4))
    (ds / VECTORS_INFO).write_text('{"model": "older semid", "dim": 8, "n": 20}')  # no identity recorded
    assert vectors_match(ds) is None and tokenize_folder(ds, tmp_path / "t1").exit_code == 0
    assert data_import(tmp_path / "items.jsonl", tmp_path / "queries.jsonl", ds).exit_code == 0  # the same items
    assert vectors_match(ds) is True and tokenize_folder(ds, tmp_path / "t2").exit_code == 0
    assert data_import(*other_catalogue(tmp_path), ds).exit_code == 0
    assert vectors_match(ds) is False
    assert tokenize_folder(ds, tmp_path / "t3").exit_code == 2


def test_load_vectors_joins_on_item_ids(tmp_path):
    x = clustered(5, 4, 2)
    ids = [f"i{k}" for k in range(5)]
    order = [3, 0, 4, 1, 2]
    df = pd.DataFrame({"item_id": [ids[k] for k in order], "vector": list(x[order])})
    df.to_parquet(tmp_path / "v.parquet")
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.parquet", item_ids=ids), x)
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.parquet", item_ids=["i4", "i1"]), x[[4, 1]])
    with pytest.raises(DataError, match=r"no vector for item 'i9' \(1 items without one\)"):
        load_vectors(tmp_path / "v.parquet", item_ids=[*ids, "i9"])
    pd.concat([df, df.iloc[:1]]).to_parquet(tmp_path / "dup.parquet")
    with pytest.raises(DataError, match=r"dup.parquet row 5: item_id 'i3' has two vectors"):
        load_vectors(tmp_path / "dup.parquet", item_ids=ids)


def test_tokenize_and_assign_join_a_shuffled_vectors_parquet_by_id(tmp_path):
    ds = make_dataset(tmp_path, n=60)
    x = np.load(tmp_path / "vecs.npy")
    order = np.random.default_rng(1).permutation(60)
    shuffled = pd.DataFrame({"item_id": [f"i{k}" for k in order], "vector": list(x[order])})
    shuffled.to_parquet(tmp_path / "shuffled.parquet")
    for name, vectors in [("by_position", tmp_path / "vecs.npy"), ("by_id", tmp_path / "shuffled.parquet")]:
        args = ["tokenize", str(ds), "--vectors", str(vectors), "--codebook-sizes", "4,4", "--out"]
        assert runner.invoke(app, [*args, str(tmp_path / name)]).exit_code == 0
    by_position = SIDTable.load(tmp_path / "by_position" / "sid_table")
    by_id = SIDTable.load(tmp_path / "by_id" / "sid_table")
    assert by_id.item_codes().to_lists() == by_position.item_codes().to_lists()
    # cold start: three new items, their vectors given in another order than the items file
    write_jsonl(tmp_path / "new.jsonl", [{"item_id": f"n{k}", "text": "new", "popularity": 1} for k in range(3)])
    new = clustered(3, 8, 3, seed=5)
    pd.DataFrame({"item_id": ["n2", "n0", "n1"], "vector": list(new[[2, 0, 1]])}).to_parquet(tmp_path / "new.parquet")
    np.save(tmp_path / "new.npy", new)
    for name, vectors in [("by_position", "new.npy"), ("by_id", "new.parquet")]:
        args = ["assign", str(tmp_path / name), "--items", str(tmp_path / "new.jsonl"), "--vectors"]
        res = runner.invoke(app, [*args, str(tmp_path / vectors)])
        assert res.exit_code == 0, res.output
    a, b = (SIDTable.load(tmp_path / name / "sid_table") for name in ("by_position", "by_id"))
    assert a.item_codes().to_lists() == b.item_codes().to_lists() and a.n_items == 63
