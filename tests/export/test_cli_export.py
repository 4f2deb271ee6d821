from __future__ import annotations

import json

from semid.cli import app
from semid.embed.encoder import default_model_path
from tests.helpers import data_import, make_dataset, runner, write_jsonl


def export(*args):
    return runner.invoke(app, ["export", "hf", *map(str, args)])


def test_export_end_to_end_and_again_only_with_overwrite(catalogue, tmp_path):
    _, ds, tok, _ = catalogue
    res = export(tok, "--data", ds, "--out", tmp_path / "x", "--max-history", "5")
    assert res.exit_code == 0, res.output
    assert "120 items" in res.output and "train 360, valid 15, test 15" in res.output
    assert "histories longer than --max-history 5" in res.output
    meta = json.loads((tmp_path / "x" / "export.json").read_text())
    assert meta["config"]["max_history"] == 5 and meta["first_id"] == 2
    res = export(tok, "--data", ds, "--out", tmp_path / "x")
    assert res.exit_code == 2 and "not empty; pass --overwrite" in res.output
    res = export(tok, "--data", ds, "--out", tmp_path / "x", "--overwrite", "--base-tokenizer", default_model_path())
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "x" / "export.json").read_text())["first_id"] == 30522
    res = export(tok, "--data", ds, "--out", tmp_path / "y", "--base-tokenizer", tmp_path / "x" / "tokenizer")
    assert res.exit_code == 2 and "already has the SID token '<sid_end>'" in res.output
    assert not (tmp_path / "y").exists()


def test_missing_folders_are_named(catalogue, tmp_path):
    _, ds, tok, _ = catalogue
    res = export(tmp_path / "nope", "--data", ds, "--out", tmp_path / "x")
    assert res.exit_code == 2 and "nope: no such folder" in res.output
    res = export(ds, "--data", ds, "--out", tmp_path / "x")
    assert res.exit_code == 2 and "no SID table here" in res.output
    res = export(tok, "--data", tmp_path / "nodata", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "nodata: no dataset folder" in res.output
    res = export(tok, "--data", ds, "--out", tmp_path / "x", "--base-tokenizer", tmp_path / "notok")
    assert res.exit_code == 2 and "notok: no local tokenizer folder" in res.output
    (tmp_path / "emptytok").mkdir()
    res = export(tok, "--data", ds, "--out", tmp_path / "x", "--base-tokenizer", tmp_path / "emptytok")
    assert res.exit_code == 2 and "emptytok: not a Hugging Face tokenizer folder" in res.output
    res = export(tok, "--data", ds, "--out", tok / "inside")
    assert res.exit_code == 2 and "overlaps the input" in res.output
    res = export(tok, "--data", ds, "--out", tmp_path / "x", "--max-history", "0")
    assert res.exit_code == 2 and "--max-history: must be >= 1" in res.output
    assert not (tmp_path / "x").exists()


def test_table_and_dataset_that_do_not_match(catalogue, tmp_path):
    _, _, tok, _ = catalogue
    other = tmp_path / "other"
    other.mkdir()
    items = [{"item_id": f"x{k}", "text": f"other {k}", "popularity": 1} for k in range(5)]
    queries = [{"query_id": "q", "split": "train", "query": "a", "target": "x0"}]
    res = data_import(write_jsonl(other / "items.jsonl", items), write_jsonl(other / "q.jsonl", queries), other / "ds")
    assert res.exit_code == 0, res.output
    res = export(tok, "--data", other / "ds", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "5 of the dataset's 5 items have no SID" in res.output and "'x0'" in res.output
    subset = make_dataset(tmp_path, n=30)  # items i0..i29: all in the table, which has 90 more
    res = export(tok, "--data", subset, "--out", tmp_path / "y")
    assert res.exit_code == 0, res.output
    assert "warning: 90 items of the SID table are not in" in res.output
    assert len((tmp_path / "y" / "item_sids.jsonl").read_text().splitlines()) == 120
    assert len((tmp_path / "y" / "sft" / "train.jsonl").read_text().splitlines()) == 30 + 2 * 30
