import pandas as pd

from semid.data.movielens import MAX_HISTORY, movielens_items_and_queries


def ratings():
    # user 1 rates 4 movies; two share a timestamp, so file order decides; user 2 rates 25 movies
    rows = [
        (1, 10, "Alpha", 1999.0, "Drama|Comedy", 100),
        (1, 20, "Beta", 2001.0, "Horror", 50),
        (1, 30, None, None, "(no genres listed)", 300),
        (1, 40, "Delta", 1980.0, "Drama", 300),
    ]
    rows += [(2, 100 + i, f"M{i}", 2000.0, "Drama", 1000 + i) for i in range(25)]
    return pd.DataFrame(rows, columns=["userId", "movieId", "title", "year", "genres", "timestamp"])


def test_items_text_and_popularity():
    items, _, meta = movielens_items_and_queries(ratings())
    by_id = items.set_index("item_id")
    assert by_id.loc["10", "text"] == "Alpha (1999) | genres: Drama, Comedy"
    assert by_id.loc["30", "text"] == "untitled movie 30"
    assert by_id.loc["10", "popularity"] == 1
    assert meta["n_missing_title"] == 1


def test_leave_one_out_split_and_history():
    _, q, _ = movielens_items_and_queries(ratings())
    u1 = q[q["query_id"].str.startswith("u1_")]
    # time order: 20 (t=50), 10 (t=100), 30 (t=300), 40 (t=300, later in the file)
    assert u1["target"].tolist() == ["10", "30", "40"]
    assert u1["split"].tolist() == ["train", "valid", "test"]
    assert list(u1["history"].iloc[2]) == ["20", "10", "30"]
    u2 = q[q["query_id"].str.startswith("u2_")]
    test = u2[u2["split"] == "test"].iloc[0]
    assert test["target"] == "124" and len(test["history"]) == MAX_HISTORY
    assert list(test["history"])[-1] == "123"
    assert (q.groupby(q["query_id"].str.split("_").str[0])["split"].apply(lambda s: (s == "test").sum()) == 1).all()
