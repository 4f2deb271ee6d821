"""benchmarks/bench_tau_sweep.py end to end on the WordNet test asset: a tiny bench per budget, its rows,
table and figure, and a rerun that resumes."""

import json

import pytest
from benchmarks import bench_tau_sweep

from semid.data import prepare_dataset
from semid.pipeline import embed_dataset
from tests.helpers import ASSETS

BUDGETS = [1, 2, 3, 5]
TINY = ["--seeds", "1", "--epochs", "1", "--codebook-sizes", "4,4", "--d-model", "32", "--batch-size", "16"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("tau_sweep")
    prepare_dataset("wordnet", root / "data", wordnet_dir=ASSETS / "wordnet")
    embed_dataset(root / "data")
    argv = ["--dataset", str(root / "data"), "--out", str(root / "out"), "--min-items", "1,2,3,5", *TINY]
    argv += ["--beam", "8"]
    return bench_tau_sweep.main(argv), argv


def test_a_row_per_budget_and_the_figure_beside_the_table(sweep):
    path, _ = sweep
    assert path.name == "tau_sweep_wordnet.json"  # the dataset's own name, not its folder's
    result = json.loads(path.read_text())
    rows = result["rows"]
    assert [r["min_items"] for r in rows] == BUDGETS and result["failed"] == {}
    warm = result["data"]["n_items"] - result["data"]["n_cold_items"]
    for row in rows:
        assert row["tau"] == pytest.approx((row["min_items"] - 0.5) / warm)  # min_items over the warm items
        assert row["n_sids"] >= 1 and row["ret_per"] > 0 and 0 <= row["hallucination"] <= 1
        assert 1.0 <= row["length_tail"] <= 2.0 and set(row["recall"]) == set(row["exact_recall"])
    full = rows[0]  # min_items 1: every prefix is shared by at least one item, so no code stops early
    assert full["length_head"] == full["length_tail"] == 2.0
    assert rows[-1]["length_tail"] <= full["length_tail"] and rows[-1]["n_sids"] <= full["n_sids"]
    md = path.with_suffix(".md").read_text()
    assert "![SA²CRQ depth budgets on wordnet](tau_sweep_wordnet.png)" in md
    assert sum(line.startswith("| ") for line in md.splitlines()) == 1 + len(BUDGETS)
    assert path.with_suffix(".png").stat().st_size > 20_000
    page = (path.parent / "tau_sweep_wordnet" / "report.html").read_text()
    assert "SA²CRQ depth budgets" in page and "Time to quality" in page
    assert page.count("src='data:image/png;base64,") == 5


def test_a_rerun_resumes_the_finished_budgets(sweep):
    path, argv = sweep
    done = path.parent / "tau_sweep_wordnet" / "runs" / "sa2crq_m3" / "seed0" / "result.json"
    stamp = done.stat().st_mtime_ns
    before = json.loads(path.read_text())
    assert bench_tau_sweep.main(argv) == path
    assert done.stat().st_mtime_ns == stamp
    assert json.loads(path.read_text())["rows"] == before["rows"]


def test_a_single_budget_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench_tau_sweep.arguments(["--dataset", "wordnet", "--min-items", "5"])
    assert "at least two budgets" in capsys.readouterr().err
