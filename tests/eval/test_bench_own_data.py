"""`semid bench` on a catalogue the user imported, as a new user runs it: named by its folder, its own name in
every output, what the data cannot support said before the work and marked in the table, and a method that
cannot run (ACRQ without a popularity signal) one row saying why while every other row is there."""

import json

import pytest

from semid.cli import app
from tests.helpers import WORDS, data_import, runner, write_jsonl

N_ITEMS, N_TRAINED = 60, 40  # items past N_TRAINED are only ever test targets: the cold candidates
METHODS = "popularity,bm25,sasrec,acrq,rq_kmeans"


def catalogue(tmp_path):
    """Headlines-like text queries over a catalogue with no popularity signal (every popularity 0)."""
    text = [f"{WORDS[k % 20]} {WORDS[(3 * k + 1) % 20]} story {k}" for k in range(N_ITEMS)]
    items = [{"item_id": f"a{k}", "text": text[k], "popularity": 0} for k in range(N_ITEMS)]
    queries = [{"split": "train", "query": f"news about {text[k]}", "target": f"a{k}"} for k in range(N_TRAINED)]
    queries += [{"split": "valid", "query": f"latest on {text[k]}", "target": f"a{k}"} for k in range(10)]
    queries += [{"split": "test", "query": f"what of {text[k]}", "target": f"a{k}"} for k in range(35, N_ITEMS)]
    for k, q in enumerate(queries):
        q["query_id"] = f"q{k}"
    return write_jsonl(tmp_path / "items.jsonl", items), write_jsonl(tmp_path / "queries.jsonl", queries)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    res = data_import(*catalogue(root), root / "headlines")
    assert res.exit_code == 0, res.output
    embedded = runner.invoke(app, ["embed", str(root / "headlines")])
    assert embedded.exit_code == 0, embedded.output
    return root, res.output


def bench(dataset, out, *extra):
    args = ["bench", "--dataset", str(dataset), "--out", str(out), "--methods", METHODS, "--seeds", "1"]
    args += ["--codebook-sizes", "4,4", "--epochs", "1", "--d-model", "32", "--batch-size", "16", "--beam", "8"]
    return runner.invoke(app, [*args, "--cold-fraction", "0.5", *extra])


def test_import_says_what_the_data_cannot_support(imported):
    _, output = imported
    assert "headlines: 60 items (head 0)" in output  # named after its folder
    assert "no head items" in output and "'popularity'" in output and "acrq" in output
    assert "only 25 'test' records" in output


@pytest.fixture(scope="module")
def benched(imported):
    root, _ = imported
    return root / "out", bench(root / "headlines", root / "out")


def test_bench_on_an_imported_folder_names_it_and_keeps_every_row(benched):
    out, res = benched
    assert res.exit_code == 1, res.output  # a method failed: said by the exit code, after writing everything
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"] == "headlines"
    assert set(results["methods"]) == {"popularity", "bm25", "rq_kmeans", "rq_kmeans+exact"}
    assert "needs head items" in results["failed"]["acrq"]["seed0"]
    assert "sasrec needs history data; the headlines queries are text" in results["failed"]["sasrec"]["seed0"]
    md = (out / "results.md").read_text()
    assert md.startswith("# semid bench: headlines") and "movielens" not in md
    acrq = next(line for line in md.splitlines() if line.startswith("| acrq |"))
    assert "| 0 (1 failed) | failed: " in acrq and "acrq needs head items" in acrq
    for method in ("popularity", "bm25", "rq_kmeans"):
        row = next(line for line in md.splitlines() if line.startswith(f"| {method} |"))
        r10 = row.split("|")[3].strip(" *")
        assert "failed" not in row and 0.0 <= float(r10) <= 1.0  # measured values
    assert "TIGER" not in md and "capped at" not in md  # the budget line describes what ran
    assert "codebooks [4, 4] (rq_kmeans, acrq)" in md
    assert "headlines" in (out / "report.html").read_text()


def test_what_the_numbers_cannot_show_is_warned_before_and_marked_in_the_table(benched):
    out, res = benched
    for warning in ("no head items", "acrq cannot run", "no head test queries", "cold test queries (< 30)"):
        assert warning in res.output, warning
    assert "K >= the catalogue's 60 items" in res.output
    assert res.output.index("no head items") < res.output.index("| popularity |")  # before the work
    md = (out / "results.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| method |"))
    assert "| R@10 |" in header and "R@100†" in header and "R@2000†" in header  # K >= 60 items
    assert "| head R@100 |" in header and "cold R@100‡" in header  # no head queries: n/a cells, not a mark
    head = header.split(" | ").index("head R@100")
    assert {line.split(" | ")[head] for line in md.splitlines() if line.startswith("| popularity |")} == {"n/a"}
    assert "† K >= the catalogue's 60 items" in md and "‡ fewer than 30 test queries" in md
    data = json.loads((out / "results.json").read_text())["data"]
    assert data["n_head_items"] == 0 and data["n_test"]["head"] == 0 and 0 < data["n_test"]["cold"] < 30


def test_a_rerun_retries_only_the_failed_method(benched, imported):
    out, _ = benched
    kept = out / "runs" / "rq_kmeans" / "seed0" / "result.json"
    stamp = kept.stat().st_mtime_ns
    res = bench(imported[0] / "headlines", out)
    assert res.exit_code == 1 and kept.stat().st_mtime_ns == stamp
    assert "needs head items" in (out / "runs" / "acrq" / "seed0" / "error.txt").read_text()


def test_an_unknown_dataset_points_to_import_before_writing_anything(tmp_path):
    res = bench(tmp_path / "nowhere", tmp_path / "out")
    assert res.exit_code == 2
    assert "unknown dataset" in res.output and "semid data import" in res.output and "movielens" in res.output
    assert not (tmp_path / "out").exists()
    (tmp_path / "bare").mkdir()
    for f in ("items.parquet", "queries.parquet", "meta.json"):
        (tmp_path / "bare" / f).write_text("")
    res = bench(tmp_path / "bare", tmp_path / "out")
    assert res.exit_code == 2 and "semid embed" in res.output and not (tmp_path / "out").exists()


def test_a_folder_benched_with_the_old_data_dir_spelling_resumes(imported, tmp_path):
    root, _ = imported
    args = ["bench", "--dataset", str(root / "headlines"), "--methods", "popularity", "--out", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    config = json.loads((tmp_path / "bench_config.json").read_text())
    config.update(dataset="movielens", data_dir=str(root / "headlines"))  # as --dataset NAME --data-dir DIR wrote it
    del config["collaborative"]  # a setting added later: the old folder had its default
    (tmp_path / "bench_config.json").write_text(json.dumps(config))
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output


def test_a_folder_benched_before_finetune_layers_existed_resumes_with_minilm_frozen(imported, tmp_path):
    root, _ = imported
    args = ["bench", "--dataset", str(root / "headlines"), "--methods", "popularity", "--out", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    config = json.loads((tmp_path / "bench_config.json").read_text())
    del config["finetune_layers"], config["finetune_lr"]  # as written before the settings existed
    (tmp_path / "bench_config.json").write_text(json.dumps(config))
    assert runner.invoke(app, args).exit_code == 0
    refused = runner.invoke(app, [*args, "--finetune-layers", "1"])
    assert refused.exit_code == 2 and "finetune_layers" in refused.output


def test_fine_tuning_minilm_on_history_data_is_refused_before_the_work(imported, tmp_path):
    root, _ = imported
    clicks = [
        {"query_id": f"h{k}", "split": ["train", "valid", "test"][k % 3], "history": [f"a{k}"], "target": f"a{k + 1}"}
        for k in range(30)
    ]
    res = data_import(root / "items.jsonl", write_jsonl(tmp_path / "clicks.jsonl", clicks), tmp_path / "clicks")
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["embed", str(tmp_path / "clicks")]).exit_code == 0
    args = ["bench", "--dataset", str(tmp_path / "clicks"), "--methods", "popularity", "--out", str(tmp_path / "out")]
    refused = runner.invoke(app, [*args, "--finetune-layers", "1"])
    assert refused.exit_code == 2 and "--finetune-layers" in refused.output and "histories" in refused.output
    assert not (tmp_path / "out" / "bench_config.json").exists()


def test_a_folder_benched_before_lr_schedule_existed_ran_a_constant_rate(imported, tmp_path):
    root, _ = imported
    args = ["bench", "--dataset", str(root / "headlines"), "--methods", "popularity", "--out", str(tmp_path)]
    assert runner.invoke(app, [*args, "--lr-schedule", "constant"]).exit_code == 0
    config = json.loads((tmp_path / "bench_config.json").read_text())
    del config["lr_schedule"]  # as written before the setting existed, when every run had a constant rate
    (tmp_path / "bench_config.json").write_text(json.dumps(config))
    assert runner.invoke(app, [*args, "--lr-schedule", "constant"]).exit_code == 0
    refused = runner.invoke(app, args)  # today's default, cosine, is another budget
    assert refused.exit_code == 2 and "lr_schedule" in refused.output


def test_a_folder_benched_with_the_old_max_train_queries_name_resumes_with_the_same_budget(imported, tmp_path):
    from dataclasses import asdict

    from semid.eval.bench import BenchConfig
    from semid.eval.bench.run import LOOSE, recorded_budget

    root, _ = imported
    args = ["bench", "--dataset", str(root / "headlines"), "--methods", "popularity", "--out", str(tmp_path)]
    assert runner.invoke(app, [*args, "--max-train-records", "20"]).exit_code == 0
    config = json.loads((tmp_path / "bench_config.json").read_text())
    config["max_train_queries"] = config.pop("max_train_records")  # as written before the rename
    (tmp_path / "bench_config.json").write_text(json.dumps(config))
    budget = asdict(BenchConfig(dataset=str(root / "headlines"), max_train_records=20))
    assert recorded_budget(tmp_path) == {k: v for k, v in budget.items() if k not in LOOSE}
    assert runner.invoke(app, [*args, "--max-train-records", "20"]).exit_code == 0
    old = runner.invoke(app, [*args, "--max-train-queries", "20"])  # users' scripts: the old flag still works
    assert old.exit_code == 0 and "--max-train-queries is deprecated; use --max-train-records" in old.output
    other = runner.invoke(app, [*args, "--max-train-records", "10"])
    assert other.exit_code == 2 and "other settings (max_train_records)" in other.output
    assert "max_train_queries" in (tmp_path / "bench_config.json").read_text()  # the folder's record is kept as is
