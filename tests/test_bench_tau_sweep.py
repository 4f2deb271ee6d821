"""benchmarks/bench_tau_sweep.py end to end on the WordNet test asset: a tiny bench per budget, its rows,
table and figure, a rerun that resumes, and a sweep in an existing bench folder (--bench)."""

import json
import shutil
from dataclasses import asdict

import pytest
from benchmarks import bench_tau_sweep

from semid.data import prepare_dataset
from semid.errors import DataError
from semid.eval.bench import BenchConfig
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
    assert "Ret-Per) by test target" in page  # runs made now split Ret-Per by head / tail / cold
    assert page.count("src='data:image/png;base64,") == 6


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


def test_budget_defaults_are_the_bench_s(sweep):
    _, argv = sweep
    cfg = bench_tau_sweep.sweep_config(bench_tau_sweep.arguments(["--dataset", argv[1], "--min-items", "2,3"]))
    mine, bench = asdict(cfg), asdict(BenchConfig())
    assert {k: v for k, v in mine.items() if k not in ("dataset", "methods", "seeds")} == {
        k: v for k, v in bench.items() if k not in ("dataset", "methods", "seeds")
    }
    assert cfg.methods == ["sa2crq_m2", "sa2crq_m3"] and cfg.seeds == 1


def _full_bench(sweep, folder):
    """A copy of the sweep's bench dressed as a full `semid bench` folder: another method's row and one's
    failure beside the budgets, its budget recorded before lr_schedule existed (its runs: a constant rate)."""
    path, _ = sweep
    shutil.copytree(path.parent / "tau_sweep_wordnet", folder)
    results = json.loads((folder / "results.json").read_text())
    results["methods"]["bm25"] = {"seed0": results["methods"]["sa2crq_m1"]["seed0"]}
    results["failed"] = {"acrq": {"seed0": "acrq needs head items"}}
    results["config"]["methods"] = ["bm25", "acrq", *results["config"]["methods"]]
    (folder / "results.json").write_text(json.dumps(results))
    budget = json.loads((folder / "bench_config.json").read_text())
    del budget["lr_schedule"]
    (folder / "bench_config.json").write_text(json.dumps(budget))
    return {p: p.stat().st_mtime_ns for p in (folder / "runs").rglob("result.json")}


def test_a_bench_folder_is_swept_in_place_with_its_own_budget(sweep, tmp_path):
    path, _ = sweep
    full = tmp_path / "full"
    stamps = _full_bench(sweep, full)
    got = bench_tau_sweep.main(["--bench", str(full), "--out", str(tmp_path / "out"), "--min-items", "2,3,4"])
    result = json.loads(got.read_text())
    assert [r["min_items"] for r in result["rows"]] == [2, 3, 4] and result["failed"] == {}
    assert result["rows"][:2] == json.loads(path.read_text())["rows"][1:3]  # read back, as the folder had them
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # no finished run redone
    settings = result["settings"]  # the folder's budget, lr_schedule as recorded before the setting existed
    assert settings["epochs"] == 1 and settings["codebook_sizes"] == [4, 4] and settings["lr_schedule"] == "constant"
    assert json.loads((full / "runs" / "sa2crq_m4" / "seed0" / "result.json").read_text())["splits"]
    assert not (full / "runs" / "acrq").exists() and not (full / "runs" / "bm25").exists()  # not run
    after = json.loads((full / "results.json").read_text())
    assert {"bm25", "sa2crq_m1", "sa2crq_m5", "sa2crq_m4", "sa2crq_m4+exact"} <= set(after["methods"])
    assert after["failed"] == {"acrq": {"seed0": "acrq needs head items"}}
    assert after["config"]["methods"][:2] == ["bm25", "acrq"] and "sa2crq_m4" in after["config"]["methods"]
    md = (full / "results.md").read_text()
    assert "| bm25 |" in md and "| acrq |" in md and "| sa2crq_m4 |" in md
    assert "[../full/results.md](../full/results.md)" in got.with_suffix(".md").read_text()


def test_a_bench_folder_s_budget_is_not_overridden(sweep, tmp_path):
    _full_bench(sweep, tmp_path / "full")
    argv = ["--bench", str(tmp_path / "full"), "--out", str(tmp_path / "out"), "--min-items", "2,3"]
    with pytest.raises(DataError, match=r"another budget: --epochs 3 \(the folder's: 1\)"):
        bench_tau_sweep.main([*argv, "--epochs", "3", "--beam", "8"])
    with pytest.raises(DataError, match=r"--seeds 0: .* ran 1 seeds"):
        bench_tau_sweep.main([*argv, "--seeds", "0"])
    with pytest.raises(DataError, match="holds no `semid bench`"):
        bench_tau_sweep.main(["--bench", str(tmp_path), "--min-items", "2,3"])
