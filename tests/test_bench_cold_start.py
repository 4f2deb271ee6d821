"""benchmarks/bench_cold_start.py on a tiny bench's kept artifacts (60 imported headlines, 12 of them cold):
share 0 gives the bench's own figures back, and a share gives the cold items places."""

import json

from benchmarks import bench_cold_start

from semid.cli import app
from tests.eval.test_bench_own_data import catalogue
from tests.helpers import data_import, runner

TINY = ["--seeds", "1", "--epochs", "1", "--codebook-sizes", "4,4,4", "--d-model", "32", "--batch-size", "16"]


def test_share_zero_is_the_bench_and_a_share_places_cold_items(tmp_path):
    assert data_import(*catalogue(tmp_path), tmp_path / "data").exit_code == 0
    assert runner.invoke(app, ["embed", str(tmp_path / "data")]).exit_code == 0
    bench = tmp_path / "bench"
    args = ["bench", "--dataset", str(tmp_path / "data"), "--out", str(bench), "--methods", "rq_kmeans", *TINY]
    res = runner.invoke(app, [*args, "--beam", "8", "--cold-fraction", "0.5", "--keep-artifacts"])
    assert res.exit_code == 0, res.output
    argv = ["--bench", str(bench), "--shares", "0,0.5", "--out", str(tmp_path / "out"), "--name", "cold"]
    result = json.loads(bench_cold_start.main(argv).read_text())
    assert result["reproduces_bench"] == {"seed0": {"max_abs_diff": 0.0, "same": True}}
    assert set(result["summary"]) == {
        "beam eps=0",
        "exact eps=0",
        *(f"{rank} eps=0.5 {order}" for rank in ("beam", "exact") for order in ("prefix", "vector")),
    }
    placed = result["cold_slot_items_in_top100"]
    assert placed["beam eps=0"] == 0 and placed["beam eps=0.5 prefix"] > 0
    md = (tmp_path / "out" / "cold.md").read_text()
    assert "seed0: yes" in md and md.count("| beam eps=0.5 prefix |") == 1
