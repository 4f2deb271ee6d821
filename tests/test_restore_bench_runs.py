"""A bench folder rebuilt from a committed results.json holds every run, with its exact-rank row and its machine."""

import json
from pathlib import Path

import pytest
from benchmarks.restore_bench_runs import restore_runs

from semid.eval.bench import BenchResults

WORDNET = Path(__file__).parents[1] / "benchmarks" / "results" / "bench" / "wordnet"


def test_restored_runs_give_back_every_row(tmp_path):
    written = restore_runs(WORDNET, tmp_path)
    committed = BenchResults.load(WORDNET)
    assert len(written) == sum(len(s) for m, s in committed.methods.items() if not m.endswith("+exact"))
    assert json.loads((tmp_path / "bench_config.json").read_text()) == json.loads(
        (WORDNET / "bench_config.json").read_text()
    )
    run = json.loads((tmp_path / "runs" / "rq_kmeans" / "seed1" / "result.json").read_text())
    assert run["exact_rank"] == committed.methods["rq_kmeans+exact"]["seed1"]
    assert run["machine"] == "AMD EPYC, 2 cores, GPU: none"  # where the committed runs were made
    assert restore_runs(WORDNET, tmp_path) == []  # runs already there are left alone


def test_a_folder_that_is_not_a_bench_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match=f"{tmp_path}: no results.json or bench_config.json"):
        restore_runs(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written
