"""The sorted-key lookup every package uses: numpy and torch agree, empty tables find nothing."""

import numpy as np
import torch

from semid.codes import Codes, code_keys, find_sorted


def test_find_sorted_numpy_positions_and_hits():
    keys = np.array([2, 5, 9], dtype=np.int64)
    pos, found = find_sorted(keys, np.array([5, 1, 9, 10, 6]))
    assert pos.tolist() == [1, 0, 2, 2, 2]  # past the end is clamped to the last key
    assert found.tolist() == [True, False, True, False, False]


def test_find_sorted_torch_matches_numpy_for_any_query_shape():
    keys = np.array([0, 3, 4, 8, 12], dtype=np.int64)
    queries = np.array([[3, 7, 12], [-1, 0, 13]], dtype=np.int64)
    pos_np, found_np = find_sorted(keys, queries)
    pos_t, found_t = find_sorted(torch.from_numpy(keys), torch.from_numpy(queries))
    assert pos_t.tolist() == pos_np.tolist() and found_t.tolist() == found_np.tolist()
    assert found_np.tolist() == [[True, False, True], [False, True, False]]


def test_find_sorted_on_empty_keys_finds_nothing():
    pos, found = find_sorted(np.array([], dtype=np.int64), np.array([1, 2]))
    assert pos.tolist() == [0, 0] and not found.any()
    pos_t, found_t = find_sorted(torch.zeros(0, dtype=torch.long), torch.tensor([[1, 2]]))
    assert pos_t.tolist() == [[0, 0]] and not bool(found_t.any())


def test_find_sorted_on_code_keys():
    table = np.unique(code_keys(Codes.from_lists([[1, 2], [1], [0, 3]], n_layers=2).codes))
    query = code_keys(Codes.from_lists([[1], [1, 3], [0, 3]], n_layers=2).codes)
    _, found = find_sorted(table, query)
    assert found.tolist() == [True, False, True]
