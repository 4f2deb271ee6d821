import json

import pandas as pd
import pytest

from semid.data import build_dataset, load_dataset, read_items, read_queries, save_dataset
from semid.errors import DataError, MissingResourceError


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ITEMS = [
    {"item_id": "a", "text": "red shoe", "popularity": 10},
    {"item_id": "b", "text": "blue shoe", "popularity": 3},
    {"item_id": "c", "text": "green hat", "popularity": 0},
]


def test_read_items_jsonl_roundtrip(tmp_path):
    df = read_items(write_jsonl(tmp_path / "items.jsonl", ITEMS))
    assert df["item_id"].tolist() == ["a", "b", "c"]
    assert df["popularity"].dtype == "int64"


def test_malformed_json_names_line(tmp_path):
    p = tmp_path / "items.jsonl"
    p.write_text(json.dumps(ITEMS[0]) + "\n" + '{"item_id": "b", "text": \n')
    with pytest.raises(DataError, match=r"items.jsonl line 2: malformed JSON"):
        read_items(p)


def test_duplicate_id_names_both_lines(tmp_path):
    rows = [*ITEMS, {"item_id": "b", "text": "again", "popularity": 1}]
    with pytest.raises(DataError, match=r"line 4: duplicate item_id 'b' \(first seen at 2\)"):
        read_items(write_jsonl(tmp_path / "items.jsonl", rows))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"item_id": "d", "text": "   ", "popularity": 1}, "field 'text' is empty"),
        ({"item_id": "", "text": "x", "popularity": 1}, "field 'item_id' is empty"),
        ({"item_id": "d", "text": "x", "popularity": -2}, "field 'popularity' must be an integer >= 0"),
        ({"item_id": "d", "text": "x", "popularity": 1.5}, "field 'popularity' must be an integer >= 0"),
        ({"item_id": "d", "text": "x", "popularity": "many"}, "field 'popularity' must be an integer >= 0"),
        ({"item_id": "d", "text": "x", "popularity": None}, "field 'popularity' must be an integer >= 0"),
    ],
)
def test_bad_item_rows_name_their_line(tmp_path, bad, message):
    with pytest.raises(DataError, match=rf"line 4: {message}"):
        read_items(write_jsonl(tmp_path / "items.jsonl", [*ITEMS, bad]))


def test_missing_column(tmp_path):
    with pytest.raises(DataError, match="missing column"):
        read_items(write_jsonl(tmp_path / "items.jsonl", [{"item_id": "a", "text": "x"}]))


def test_csv_line_numbers_count_the_header(tmp_path):
    p = tmp_path / "items.csv"
    p.write_text("item_id,text,popularity\na,red shoe,1\nb,,2\n")
    with pytest.raises(DataError, match=r"items.csv line 3: field 'text' is empty"):
        read_items(p)


def test_csv_with_too_many_fields(tmp_path):
    p = tmp_path / "items.csv"
    p.write_text("item_id,text,popularity\na,red shoe,1\nb,blue,2,extra,more\n")
    with pytest.raises(DataError, match="malformed CSV"):
        read_items(p)


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "items.txt").write_text("a red shoe\n")
    with pytest.raises(DataError, match="unsupported file type"):
        read_items(tmp_path / "items.txt")
    with pytest.raises(MissingResourceError):
        read_items(tmp_path / "nope.jsonl")


def known():
    return pd.Index(["a", "b", "c"])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"query_id": "q9", "split": "train", "query": "hat", "target": "zzz"},
            "unknown item id 'zzz' in field 'target'",
        ),
        (
            {"query_id": "q9", "split": "train", "history": ["a", "x"], "target": "a"},
            "unknown item id 'x' in field 'history'",
        ),
        ({"query_id": "q9", "split": "train", "query": " ", "history": [], "target": "a"}, "empty query"),
        ({"query_id": "q9", "split": "dev", "query": "hat", "target": "a"}, "field 'split' must be one of"),
        ({"query_id": "q1", "split": "train", "query": "hat", "target": "a"}, "duplicate query_id 'q1'"),
    ],
)
def test_bad_query_rows_name_their_line(tmp_path, bad, message):
    good = {"query_id": "q1", "split": "test", "query": "red", "history": ["b"], "target": "a"}
    with pytest.raises(DataError, match=rf"queries.jsonl line 2: {message}"):
        read_queries(write_jsonl(tmp_path / "queries.jsonl", [good, bad]), known())


def test_build_save_load_roundtrip(tmp_path):
    items = read_items(write_jsonl(tmp_path / "items.jsonl", ITEMS))
    queries = pd.DataFrame(
        {
            "query_id": ["q1", "q2", "q3"],
            "split": ["train", "valid", "test"],
            "query": ["red", "", "hat"],
            "history": [[], ["a", "b"], []],
            "target": ["a", "c", "c"],
        }
    )
    ds = build_dataset("tiny", items, queries, head_coverage=0.7)
    assert ds.items["is_head"].tolist() == [True, False, False]
    assert ds.meta["head_tail"]["n_head"] == 1 and ds.meta["n_queries"] == {"train": 1, "valid": 1, "test": 1}
    save_dataset(ds, tmp_path / "ds")
    back = load_dataset(tmp_path / "ds")
    pd.testing.assert_frame_equal(back.items, ds.items)
    assert back.split("valid")["history"].iloc[0] == ["a", "b"]


def test_load_dataset_missing_folder(tmp_path):
    with pytest.raises(MissingResourceError, match="semid data prepare"):
        load_dataset(tmp_path / "none")
