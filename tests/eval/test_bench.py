"""`semid bench` end to end on a small real catalogue (the WordNet test asset), and its summary maths."""

import json
import shutil

import numpy as np
import pytest

from semid.cli import app
from semid.data import prepare_dataset
from semid.eval.bench import BenchResults, mean_ci
from semid.pipeline import embed_dataset
from tests.helpers import ASSETS, runner

METHODS = ["bm25", "dense", "popularity", "dsi", "nci", "rq_kmeans", "sa2crq_m3"]


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    prepare_dataset("wordnet", root / "data", wordnet_dir=ASSETS / "wordnet")
    embed_dataset(root / "data")
    args = [
        "bench",
        "--dataset",
        str(root / "data"),
        "--out",
        str(root / "out"),
        "--methods",
        ",".join(METHODS),
        "--seeds",
        "2",
        "--codebook-sizes",
        "4,4",
        "--epochs",
        "2",
        "--d-model",
        "32",
        "--batch-size",
        "16",
        "--beam",
        "8",
        "--cold-fraction",
        "0.5",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return root / "out", args


def test_bench_writes_every_method_seed_and_split(bench_out):
    out, _ = bench_out
    results = json.loads((out / "results.json").read_text())
    generative = [m for m in METHODS if m not in ("bm25", "dense", "popularity")]
    exact = {m + "+exact" for m in generative}  # the same runs, items ranked by item vector
    assert set(results["methods"]) == set(METHODS) | exact and results["dataset"] == "wordnet"  # its meta.json name
    assert results["data"]["n_cold_items"] >= 1 and results["data"]["n_test"]["cold"] >= 1
    for method, seeds in results["methods"].items():
        assert len(seeds) == (1 if method in ("bm25", "dense", "popularity") else 2)
        if method in exact:
            continue
        for seed, run in seeds.items():
            assert not (out / "runs" / method / seed / "retriever").exists()  # checkpoints go once scored
            assert "training_resumed" not in run
            for split in ("all", "head", "tail", "cold"):
                assert split in run["splits"]
            assert run["machine"].endswith("cores, GPU: none") and results["machine"]["cpu"] in run["machine"]
            values = [v for k, v in run["splits"]["all"].items() if k.startswith(("recall", "mrr", "ndcg"))]
            assert all(0.0 <= v <= 1.0 for v in values) and "ndcg@10" in run["splits"]["all"]
            # one relevant item per query: 1/rank <= 1/log2(rank + 1) <= 1 at each query, so MRR <= NDCG <= R
            all_ = run["splits"]["all"]
            assert all_["mrr@10"] - 1e-12 <= all_["ndcg@10"] <= all_["recall@10"] + 1e-12
            recalls = [run["splits"]["all"][f"recall@{k}"] for k in (1, 10, 100, 500, 1000, 2000)]
            assert recalls == sorted(recalls)  # recall never falls as K grows
            assert run["splits"]["all"]["ret_per"] > 0
            n = {split: run["splits"][split]["n_queries"] for split in ("head", "tail", "cold")}
            pooled = sum(run["splits"][s]["ret_per"] * n[s] for s in n if n[s]) / sum(n.values())
            assert pooled == pytest.approx(run["splits"]["all"]["ret_per"])  # Ret-Per split by test target too
            if method not in ("bm25", "dense", "popularity"):
                assert 0.0 <= run["splits"]["all"]["hallucination"] <= 1.0
    for m in generative:  # the same candidates in another order: the same recall once K holds them all
        for seed, run in results["methods"][m + "+exact"].items():
            beam_run = results["methods"][m][seed]["splits"]["all"]
            for key in ("recall@2000", "ret_per", "hallucination"):
                assert run["splits"]["all"][key] == beam_run[key]
    # beam 8 over every test query: with more SIDs than the beam, constrained search still only
    # returns real items, so the popularity baseline (all items) must reach recall 1 at K = 2000
    assert results["methods"]["popularity"]["seed0"]["splits"]["all"]["recall@2000"] == 1.0
    md = (out / "results.md").read_text()
    assert all(f"| {m} |" in md for m in METHODS) and "**" in md
    epochs = md.split("## Training per epoch")[1]  # two epochs each (fewer than patience), their minutes kept
    assert all(f"| {m} | 2 | 2 | " in epochs for m in generative) and "+exact" not in epochs and "| –" not in epochs
    assert (out / "report.html").stat().st_size > 20_000
    assert "Time to quality" in (out / "report.html").read_text()


def test_bench_resumes_without_rerunning_finished_methods(bench_out):
    out, args = bench_out
    done = out / "runs" / "rq_kmeans" / "seed0" / "result.json"
    stamp = done.stat().st_mtime_ns
    deprecated = [*args]
    deprecated[deprecated.index("--dataset")] = "--data-dir"  # the old spelling names the same bench
    res = runner.invoke(app, deprecated)
    assert res.exit_code == 0, res.output
    assert "--data-dir is deprecated" in res.output
    assert done.stat().st_mtime_ns == stamp


def test_a_run_cut_off_after_training_resumes_from_its_checkpoint(bench_out, monkeypatch):
    import torch

    import semid.eval.bench.methods as methods

    out, args = bench_out
    mine = [*args]
    mine[mine.index("--out") + 1] = str(out.parent / "cut")
    mine[mine.index("--methods") + 1] = "rq_kmeans"
    mine[mine.index("--seeds") + 1] = "1"

    def cut_off(*_args, **_kwargs):
        raise RuntimeError("cut off while decoding")

    monkeypatch.setattr(methods, "_decode", cut_off)
    res = runner.invoke(app, mine)
    assert res.exit_code == 1 and "failed: rq_kmeans seed0" in res.output  # said, and a row of the table
    run = out.parent / "cut" / "runs" / "rq_kmeans" / "seed0"
    assert "cut off while decoding" in (run / "error.txt").read_text()
    ckpt = run / "retriever" / "checkpoint" / "last.pt"
    state = torch.load(ckpt, weights_only=True)
    state["identity"]["sids"] = "0" * 64  # as if trained on SIDs that a refit on another CPU no longer gives
    torch.save(state, ckpt)
    res = runner.invoke(app, mine)  # that checkpoint is dropped by name, training starts over, cut off again
    assert (
        res.exit_code == 1
        and "item -> SID tables differ); remove it to start over; training rq_kmeans seed0 from the start"
        in " ".join(res.output.split())
    )
    trained = torch.load(ckpt, weights_only=True)
    assert trained["identity"]["sids"] != "0" * 64 and trained["history"] != state["history"]
    monkeypatch.undo()
    res = runner.invoke(app, mine)
    assert res.exit_code == 0, res.output
    result = json.loads((run / "result.json").read_text())
    assert result["epoch_seconds"] == [row["seconds"] for row in trained["history"]]  # resumed, not trained again
    assert result["training_resumed"] and not (run / "retriever").exists() and not (run / "error.txt").exists()


def test_report_only_tables_the_finished_runs_and_starts_none(bench_out):
    out, args = bench_out
    more_seeds = [*args]
    more_seeds[more_seeds.index("--seeds") + 1] = "3"
    under_way = out / "runs" / "nci" / "seed2" / "retriever" / "checkpoint"
    under_way.mkdir(parents=True)
    (under_way / "last.pt").write_bytes(b"\0" * 3 * 2**20)  # as a bench in another shell would have written
    res = runner.invoke(app, [*more_seeds, "--report-only"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "nci seed 2 is not tabled: it has a training checkpoint (3 MiB, written" in said
    assert "rq_kmeans seed 2 is not tabled" not in said  # no checkpoint: nothing to say
    assert not (out / "runs" / "rq_kmeans" / "seed2").exists()
    shutil.rmtree(under_way.parents[1])
    table = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert sorted(table["methods"]["rq_kmeans"]) == ["seed0", "seed1"]


def test_a_run_without_its_own_machine_keeps_the_machine_of_the_table_it_was_in(bench_out, tmp_path):
    out, args = bench_out
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    old_run = moved / "runs" / "bm25" / "seed0" / "result.json"
    run = json.loads(old_run.read_text(encoding="utf-8"))
    del run["machine"]  # written before runs named their machine
    old_run.write_text(json.dumps(run), encoding="utf-8")
    table = json.loads((moved / "results.json").read_text(encoding="utf-8"))
    table["machine"]["cpu"] = "Earlier CPU"
    (moved / "results.json").write_text(json.dumps(table), encoding="utf-8")
    at = args.index("--out") + 1
    res = runner.invoke(app, [*args[:at], str(moved), *args[at + 1 :], "--report-only"])
    assert res.exit_code == 0, res.output
    methods = json.loads((moved / "results.json").read_text(encoding="utf-8"))["methods"]
    assert methods["bm25"]["seed0"]["machine"].startswith("Earlier CPU, ")
    assert not methods["dense"]["seed0"]["machine"].startswith("Earlier CPU")  # it named its own
    assert "Machines: " in (moved / "results.md").read_text(encoding="utf-8")


def test_mean_ci_and_bad_method():
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.303 * 1.0 / np.sqrt(3))
    assert mean_ci([0.5]) == (0.5, 0.0)
    res = runner.invoke(app, ["bench", "--out", "/tmp/never", "--methods", "bm25,nope"])
    assert res.exit_code == 2 and "unknown method(s) ['nope']" in res.output


@pytest.mark.parametrize(
    "setting", [["--backbone", "t5", "--layers", "1", "--finetune-layers", "1"], ["--finetune-layers", "-1"]]
)
def test_fine_tuning_outside_minilm_or_below_zero_is_refused_before_anything_is_written(setting, tmp_path):
    res = runner.invoke(app, ["bench", "--out", str(tmp_path / "out"), "--methods", "bm25", *setting])
    assert res.exit_code == 2 and "--finetune-layers" in res.output
    assert ("minilm backbone" if "t5" in setting else ">= 0") in res.output
    assert not (tmp_path / "out").exists()


def test_markdown_bolds_the_best_and_the_lowest_hallucination():
    def run(r10, hallu):
        return {"splits": {"all": {"recall@10": r10, "hallucination": hallu}}}

    data = {"n_items": 3, "n_cold_items": 0, "n_test_queries": 2, "n_test": {"head": 1, "tail": 1, "cold": 0}}
    results = BenchResults("x", data, {"a": {"seed0": run(0.5, 0.1)}, "b": {"seed0": run(0.2, 0.3)}})
    md = results.to_markdown()
    row_a = next(line for line in md.splitlines() if line.startswith("| a |"))
    assert "**0.5000**" in row_a and "**0.1000**" in row_a


def test_bench_refuses_to_resume_with_another_budget(bench_out):
    _, args = bench_out
    changed = [*args]
    changed[changed.index("--epochs") + 1] = "3"
    res = runner.invoke(app, changed)
    assert res.exit_code == 2 and "other settings (epochs)" in res.output
