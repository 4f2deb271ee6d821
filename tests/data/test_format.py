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


def test_invalid_utf8_names_the_file_and_line(tmp_path):  # was "'utf-8' codec can't decode byte 0xe9 ..."
    (tmp_path / "items.csv").write_bytes(b"item_id,text,popularity\na,red,1\nb,caf\xe9,2\n")
    with pytest.raises(DataError, match=r"items.csv line 3: not UTF-8: byte 0xe9 at column 6"):
        read_items(tmp_path / "items.csv")
    (tmp_path / "items.jsonl").write_bytes(b'{"item_id": "a", "text": "caf\xe9", "popularity": 1}\n')
    with pytest.raises(DataError, match=r"items.jsonl line 1: not UTF-8: byte 0xe9"):
        read_items(tmp_path / "items.jsonl")


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    (tmp_path / "items.csv").write_bytes(b"\xef\xbb\xbfitem_id,text,popularity\na,red,1\n")
    assert read_items(tmp_path / "items.csv")["item_id"].tolist() == ["a"]
    (tmp_path / "items.jsonl").write_bytes(b'\xef\xbb\xbf{"item_id": "a", "text": "red", "popularity": 1}\n')
    assert read_items(tmp_path / "items.jsonl")["item_id"].tolist() == ["a"]


def test_empty_files_name_the_file(tmp_path):  # an empty CSV was "No columns to parse from file"
    for name in ("items.csv", "items.jsonl"):
        (tmp_path / name).write_text("")
        with pytest.raises(DataError, match=rf"{name}: the file is empty"):
            read_items(tmp_path / name)
    (tmp_path / "queries.csv").write_text("")
    with pytest.raises(DataError, match=r"queries.csv: the file is empty"):
        read_queries(tmp_path / "queries.csv", pd.Index(["a"]))
    (tmp_path / "header.csv").write_text("item_id,text,popularity\n")
    with pytest.raises(DataError, match=r"header.csv: no items"):
        read_items(tmp_path / "header.csv")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_popularity_above_int64_names_its_row_and_real_value(tmp_path, fmt):
    # was reported as -9223372036854775808 (the wrapped value), or accepted and wrapped
    pops = [1, 2**63 - 1, 2**63, 5]  # the int64 maximum itself is fine
    rows = [{"item_id": f"i{k}", "text": "x", "popularity": p} for k, p in enumerate(pops)]
    if fmt == "jsonl":
        path, where = write_jsonl(tmp_path / "items.jsonl", rows), "line 3"
    elif fmt == "csv":
        path, where = tmp_path / "items.csv", "line 4"
        path.write_text("item_id,text,popularity\n" + "".join(f"i{k},x,{p}\n" for k, p in enumerate(pops)))
    else:
        path, where = tmp_path / "items.parquet", "row 2"
        df = pd.DataFrame(rows)
        df["popularity"] = df["popularity"].astype("uint64")
        df.to_parquet(path)
    with pytest.raises(DataError, match=rf"{where}: field 'popularity' must be .* got '?9223372036854775808'?$"):
        read_items(path)
    rows[2]["popularity"] = 7
    if fmt == "jsonl":
        assert read_items(write_jsonl(path, rows))["popularity"].tolist() == [1, 2**63 - 1, 7, 5]


def test_popularity_far_above_int64_in_csv(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,text,popularity\na,x,1\nb,y,99999999999999999999\nc,z,1e30\n")
    with pytest.raises(DataError, match=r"line 3: .* got '99999999999999999999'"):
        read_items(path)


def test_histories_beside_text_or_mixed_inputs_are_said_not_dropped():
    from semid.errors import SemidWarning
    from semid.retrieve.build import input_kind

    items = pd.DataFrame({"item_id": ["a", "b", "c"], "text": ["x", "y", "z"], "popularity": [3, 2, 1]})
    both = pd.DataFrame(
        {
            "query_id": ["q0", "q1", "q2"],
            "split": ["train", "valid", "test"],
            "query": ["find a", "find b", "find c"],
            "history": [["b"], [], ["a", "b"]],
            "target": ["a", "b", "c"],
        }
    )
    with pytest.warns(SemidWarning, match="2 records have a history as well as query text"):
        ds = build_dataset("both", items, both, {})
    with pytest.warns(SemidWarning, match="those histories are not used"):
        assert input_kind(ds) == "text"
    mixed = both.assign(query=["find a", "", "find c"], history=[[], ["a"], []])
    with pytest.warns(SemidWarning, match=r"records mix inputs \(2 with query text, 1 with a history alone\)"):
        ds = build_dataset("mixed", items, mixed, {})
    with pytest.raises(DataError, match="mixed datasets are not supported"):
        input_kind(ds)
