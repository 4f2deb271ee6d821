"""Shared by the retriever tests: a 200-item phrase catalogue and a random SID table over it."""

import numpy as np

from semid.data.format import build_dataset
from semid.sid.table import SIDTable
from semid.tokenize import Codes

ADJECTIVES = ["red", "tiny", "wooden", "frozen", "ancient", "noisy", "silver", "sweet", "broken", "hidden"]
NOUNS = ["boat", "castle", "violin", "garden", "rocket", "tiger", "lamp", "bridge", "forest", "clock"]
NOUNS += ["apple", "mountain", "letter", "horse", "mirror", "candle", "river", "kettle", "window", "drum"]


def text_dataset():
    """200 items ("a red boat"), one paraphrased query each ("boat, red")."""
    items, queries = [], []
    for a in ADJECTIVES:
        for n in NOUNS:
            items.append({"item_id": f"{a}-{n}", "text": f"a {a} {n}", "popularity": 1})
            queries.append({"query_id": f"q-{a}-{n}", "split": "train", "query": f"{n}, {a}", "target": f"{a}-{n}"})
    queries.append({"query_id": "v0", "split": "valid", "query": "boat, red", "target": "red-boat"})
    import pandas as pd

    return build_dataset("phrases", pd.DataFrame(items), pd.DataFrame(queries), {})


def untrained_text_retriever():
    """(dataset, an untrained minilm retriever over it): 200 items on at most 64 SIDs, every SID shared."""
    import torch

    from semid.retrieve.build import BuildConfig, build_backbone
    from semid.retrieve.retriever import Retriever

    ds = text_dataset()
    table = fixed_table(ds, sizes=(8, 8))
    torch.manual_seed(0)
    return ds, Retriever(build_backbone(BuildConfig(), ds, table, "text", torch.device("cpu"), False), table)


def random_vector_retriever(build):
    """(dataset, an untrained retriever of `build` over it, SIDs as `fixed_table` (8, 8)); the minilm backbone's
    item vectors are random, of MiniLM's width (queries are embedded by it): no catalogue to embed."""
    import torch

    from semid.retrieve.build import build_backbone
    from semid.retrieve.retriever import Retriever

    ds = text_dataset()
    table = fixed_table(ds, sizes=(8, 8))
    vectors = np.random.default_rng(0).normal(size=(ds.n_items, 384)).astype(np.float32)
    torch.manual_seed(0)
    return ds, Retriever(build_backbone(build, ds, table, "text", torch.device("cpu"), False, vectors), table)


COLD_IDS = [f"cold{i}" for i in range(30)]


def cold_text_retriever(sizes=(4, 4, 4)):
    """(an untrained minilm retriever over `fixed_table`, the same model over that table grown by the items
    COLD_IDS on random SIDs): 64 SIDs for 200 items, so cold items share prefixes of every depth with the SIDs
    a beam generates. The cold items are more popular than every trained one (coldness is not popularity)."""
    import torch

    from semid.retrieve.build import BuildConfig, build_backbone
    from semid.retrieve.retriever import Retriever

    ds = text_dataset()
    table = fixed_table(ds, sizes=sizes)
    torch.manual_seed(0)
    trained = Retriever(build_backbone(BuildConfig(), ds, table, "text", torch.device("cpu"), False), table)
    n = len(COLD_IDS)
    codes = Codes.full(np.random.default_rng(7).integers(0, sizes[0], size=(n, len(sizes))).astype(np.int32))
    return trained, trained.with_table(table.extend(COLD_IDS, codes, np.full(n, 5)))


def fixed_table(ds, sizes=(16, 16)) -> SIDTable:
    rng = np.random.default_rng(0)
    codes = Codes.full(rng.integers(0, sizes[0], size=(ds.n_items, len(sizes))).astype(np.int32))
    return SIDTable.build(ds.items["item_id"].tolist(), codes, list(sizes), ds.items["popularity"].to_numpy())
