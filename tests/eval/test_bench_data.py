"""`BenchData`'s one rule for every method's lists: history items out (where the data has no repeat
consumption), then the top max(KS); Ret-Per counts what is left before the cut."""

import numpy as np
import pandas as pd

from semid.eval.bench import BenchData
from semid.eval.metrics import KS, items_retrieved, ret_per


def data(exclude_seen: bool) -> BenchData:
    test = pd.DataFrame({"history": [["a", "b"], ["c"], []], "target": ["x", "y", "z"]})
    mask = np.ones(3, dtype=bool)
    return BenchData(None, None, None, None, [], test, {"head": mask}, "history", exclude_seen)


def test_history_items_are_left_out_before_the_cut_and_before_counting():
    run = [["a", "x", "b", "q"], ["c", "c2"], ["z"]]
    d = data(exclude_seen=True)
    assert d.drop_seen(run) == [["x", "q"], ["c2"], ["z"]]
    assert d.drop_seen(run[1:], slice(1, 3)) == [["c2"], ["z"]]  # a batch: its own records' histories
    assert items_retrieved(d.drop_seen(run)).tolist() == [2, 1, 1]
    long = [[f"i{j}" for j in range(max(KS) + 5)], ["c", "y"], ["z"]]
    assert [len(r) for r in d.finish(long)] == [max(KS), 1, 1]
    assert ret_per(d.drop_seen(long)) == (max(KS) + 5 + 1 + 1) / 3  # not cut at K


def test_with_repeat_consumption_nothing_is_left_out():
    run = [["a", "x"], ["c"], ["z"]]
    assert data(exclude_seen=False).drop_seen(run) == run
    assert data(exclude_seen=False).finish(run) == run


def test_collaborative_vectors_come_from_warm_training_records_and_leave_the_baselines_content(tmp_path):
    import pytest

    from semid.data.format import build_dataset, save_dataset
    from semid.errors import DataError
    from semid.eval.bench import BenchConfig
    from semid.eval.bench.data import prepare_bench_data
    from tests.helpers import click_log

    ds, content = click_log()
    save_dataset(ds, tmp_path / "ds")
    np.save(tmp_path / "ds" / "item_vectors.npy", content)
    cfg = BenchConfig(dataset=str(tmp_path / "ds"), collaborative=True, show_progress=False)
    d = prepare_bench_data(cfg, tmp_path / "out")
    assert d.collaborative and d.vectors is not d.sid_vectors
    np.testing.assert_array_equal(d.vectors, content)  # dense retrieval still reads the content vectors
    assert d.sid_vectors.shape == (ds.n_items, content.shape[1] + min(64, d.warm.n_items - 2))  # SVD rank
    assert len(d.warm_sid_vectors) == d.warm.n_items
    text = ds.queries.assign(history=[[] for _ in range(len(ds.queries))], query="words")
    save_dataset(build_dataset("text", ds.items, text, {}), tmp_path / "text")
    np.save(tmp_path / "text" / "item_vectors.npy", content)
    with pytest.raises(DataError, match="--collaborative needs a click log"):
        prepare_bench_data(BenchConfig(dataset=str(tmp_path / "text"), collaborative=True), tmp_path / "o2")
