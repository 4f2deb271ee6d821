"""The load clients' bodies: the wrk script sends exactly the bodies it was given, each as its own JSON string,
round robin; they are of the retriever's input kind, from the test split."""

import json
import re

import pandas as pd
import pytest
from benchmarks.bench_serve import artifact_payloads
from benchmarks.serve_wrk_lua import wrk_script


def test_wrk_script_holds_every_body_as_json():
    bodies = [{"history": ["1", "2"], "k": 10}, {"query": 'a "quoted" text', "k": 5}]
    lua = wrk_script(bodies)
    assert [json.loads(b) for b in re.findall(r"\[\[(.*?)\]\]", lua)] == bodies
    assert 'wrk.format("POST", "/search"' in lua and "bodies[(i % #bodies) + 1]" in lua


def test_load_clients_take_bodies_of_the_retrievers_input_kind_and_refuse_a_folder_without_test_queries(tmp_path):
    (tmp_path / "retriever.json").write_text(json.dumps({"input_kind": "history"}), encoding="utf-8")
    queries = pd.DataFrame({"split": ["train", "test"], "history": [["1"], ["2", "3"]], "query": ["a", "b"]})
    queries.to_parquet(tmp_path / "queries.parquet")
    assert artifact_payloads(tmp_path, tmp_path, 5, 10) == ("history", [{"history": ["2", "3"], "k": 5}])
    queries[queries["split"] == "train"].to_parquet(tmp_path / "queries.parquet")
    with pytest.raises(SystemExit, match=f"{tmp_path}: no test queries"):
        artifact_payloads(tmp_path, tmp_path, 5, 10)
