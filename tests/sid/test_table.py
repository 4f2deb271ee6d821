import numpy as np
import pytest

from semid.errors import DataError
from semid.sid import SIDTable
from semid.tokenize import Codes

IDS = ["a", "b", "c", "d", "e", "f"]
CODES = Codes.from_lists([[1, 2], [1], [1, 2], [0, 3], [1], [1, 0]], n_layers=2)
POP = np.array([5, 1, 9, 2, 3, 0])


def table():
    return SIDTable.build(IDS, CODES, [4, 4], POP, is_head=POP >= 3)


def test_sids_in_trie_order_with_items_by_popularity():
    t = table()
    assert t.n_sids == 4
    assert t.sid_code_matrix().to_lists() == [(0, 3), (1,), (1, 0), (1, 2)]  # "(1) EOS" before (1, 0)
    assert [IDS[i] for i in t.items_of_sid(1)] == ["e", "b"]  # popularity 3 before 1
    assert [IDS[i] for i in t.items_of_sid(3)] == ["c", "a"]  # popularity 9 before 5
    assert t.sid_sizes().tolist() == [1, 2, 1, 2]


def test_item_codes_roundtrip():
    assert table().item_codes().to_lists() == CODES.to_lists()


def test_find_sids():
    t = table()
    found = t.find_sids(Codes.from_lists([[1], [1, 2], [2], [1, 1], [0, 3]], n_layers=2))
    assert found.tolist() == [1, 3, -1, -1, 0]
    assert t.find_sids(Codes.from_lists([[1, 2, 3]])).tolist() == [-1]  # longer than any SID
    assert t.find_sids(Codes.from_lists([[1]], n_layers=1)).tolist() == [1]


def test_lookup_and_unknown_id():
    t = table()
    assert t.lookup(["c", "a", "f"]).tolist() == [2, 0, 5]
    with pytest.raises(DataError, match="unknown item id 'zz'"):
        t.lookup(["a", "zz"])


def test_save_load_identical(tmp_path):
    t = table()
    t.save(tmp_path / "t")
    t.save(tmp_path / "t")  # overwrite goes through the atomic swap
    back = SIDTable.load(tmp_path / "t")
    assert back.item_codes().to_lists() == CODES.to_lists()
    np.testing.assert_array_equal(back.sid_items, t.sid_items)
    np.testing.assert_array_equal(back.is_head, t.is_head)
    assert back.item_ids.to_pylist() == IDS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]  # no temp folders left behind


def test_bad_builds():
    with pytest.raises(DataError, match="not unique"):
        SIDTable.build(["a", "a"], Codes.from_lists([[0], [1]]), [2])
    with pytest.raises(DataError, match="3 codes for 2 items"):
        SIDTable.build(["a", "b"], Codes.from_lists([[0], [1], [1]]), [2])
    with pytest.raises(DataError, match="codebook size"):
        SIDTable.build(["a", "b"], Codes.from_lists([[0], [5]]), [2])


def test_compact_memory():
    n = 200_000
    rng = np.random.default_rng(0)
    codes = Codes(rng.integers(0, 256, size=(n, 3)).astype(np.int32), rng.integers(1, 4, size=n).astype(np.int32))
    codes.codes[np.arange(3)[None, :] >= codes.lengths[:, None]] = -1
    ids = [f"item{i:07d}" for i in range(n)]
    t = SIDTable.build(ids, codes, [256, 256, 256], rng.integers(0, 100, size=n))
    assert t.nbytes() / n < 50  # arrays + id strings; a dict of tuples would be several hundred
    assert t.item_codes().to_lists()[:100] == codes.to_lists()[:100]
