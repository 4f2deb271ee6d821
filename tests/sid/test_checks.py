"""SIDTable.load refuses a table that is broken or does not hold together, with a DataError naming it."""

import numpy as np
import pytest

from semid.errors import DataError
from semid.sid import SIDTable
from tests.sid.helpers import BROKEN, publish, random_table, same_table


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_or_inconsistent_table_is_refused_with_its_reason(tmp_path, case):
    mutate, reason = BROKEN[case]
    dest = tmp_path / "sid_table"
    random_table(40, 1).save(dest)
    publish(dest, mutate)
    with pytest.raises(DataError, match=reason) as err:
        SIDTable.load(dest)
    assert str(dest) in str(err.value)


def test_the_untouched_copy_loads(tmp_path):
    dest = tmp_path / "sid_table"
    random_table(40, 1).save(dest)
    publish(dest, lambda folder: None)
    assert same_table(SIDTable.load(dest), random_table(40, 1))


def test_an_empty_table_is_consistent(tmp_path):
    from semid.tokenize import Codes

    empty = SIDTable.build([], Codes(np.zeros((0, 2), dtype=np.int32), np.zeros(0, dtype=np.int32)), [4, 4])
    empty.save(tmp_path / "t")
    assert SIDTable.load(tmp_path / "t").n_items == 0
