import numpy as np
import pytest

from semid.data.headtail import head_tail_split


def test_head_is_smallest_prefix_reaching_coverage():
    pop = np.array([10, 50, 0, 30, 10])  # total 100; sorted 50, 30, 10, 10, 0
    assert head_tail_split(pop, 0.8).tolist() == [False, True, False, True, False]  # 50 + 30 = 80%
    # 81% needs one more; ties keep catalogue order, so item 0 (10) comes before item 4 (10)
    assert head_tail_split(pop, 0.81).tolist() == [True, True, False, True, False]
    assert head_tail_split(pop, 1.0).tolist() == [True, True, False, True, True]


def test_zero_popularity_is_never_head():
    assert not head_tail_split(np.array([0, 0, 0]), 0.8).any()
    assert head_tail_split(np.array([5, 0, 0]), 1.0).tolist() == [True, False, False]


@pytest.mark.parametrize("coverage", [0.0, -0.1, 1.5])
def test_bad_coverage(coverage):
    with pytest.raises(ValueError, match="coverage"):
        head_tail_split(np.array([1, 2]), coverage)


def test_negative_or_nan_popularity():
    with pytest.raises(ValueError):
        head_tail_split(np.array([1.0, -1.0]))
    with pytest.raises(ValueError):
        head_tail_split(np.array([1.0, np.nan]))
