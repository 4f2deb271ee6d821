"""Round-trip properties of Codes and the SID table on random variable-length codes (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from semid.codes import Codes
from semid.sid.table import SIDTable

SIZES = [5, 3, 4]


@st.composite
def variable_codes(draw):
    n = draw(st.integers(1, 40))
    rows = [
        draw(st.lists(st.integers(0, 2), min_size=1, max_size=len(SIZES))) for _ in range(n)
    ]  # codes < every codebook size, lengths 1..3: many shared SIDs and prefixes
    return Codes.from_lists(rows, n_layers=len(SIZES))


@settings(max_examples=60, deadline=None)
@given(codes=variable_codes(), seed=st.integers(0, 2**31 - 1))
def test_every_item_keeps_its_code_and_each_sid_holds_exactly_its_items(codes, seed, tmp_path_factory):
    ids = [f"item{i}" for i in range(codes.n_items)]
    popularity = np.random.default_rng(seed).integers(0, 100, codes.n_items)
    table = SIDTable.build(ids, codes, SIZES, popularity)
    back = table.item_codes()
    assert back.to_lists() == codes.to_lists()
    assert table.n_sids == len(set(codes.to_lists()))
    sid_of = table.find_sids(codes)
    for sid in range(table.n_sids):
        members = table.items_of_sid(sid)
        assert set(members.tolist()) == set(np.flatnonzero(sid_of == sid).tolist())
        assert list(popularity[members]) == sorted(popularity[members], reverse=True)  # most popular first
    assert table.lookup(ids[::-1]).tolist() == list(range(codes.n_items))[::-1]
    loaded = SIDTable.load(table.save(tmp_path_factory.mktemp("t") / "sid_table"))
    assert loaded.item_codes().to_lists() == codes.to_lists()
    assert np.array_equal(loaded.find_sids(codes), sid_of)
