"""The user's files are not overwritten or silently mixed up (issue 12, item 3): data import never writes
over its own inputs, vectors of a replaced catalogue are refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from semid.cli import app
from semid.data.provenance import VECTORS_INFO, vectors_match
from tests.conftest import clustered
from tests.test_cli import make_dataset, runner, write_jsonl


def data_import(items, queries, out):
    return runner.invoke(app, ["data", "import", "--items", str(items), "--queries", str(queries), "--out", str(out)])


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
