"""`BenchResults`: the committed bench tables load, render and save unchanged."""

from pathlib import Path

import pytest

from semid.eval.bench import BenchResults
from semid.eval.bench.depth_budgets import MIN_BUDGETS, budget_rows
from semid.eval.bench.report import markdown_html
from semid.eval.bench.training_curves import timed_curves

COMMITTED = sorted((Path(__file__).parents[2] / "benchmarks" / "results").rglob("results.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_committed_results_round_trip_and_render(path, tmp_path):
    assert len(COMMITTED) >= 3
    results = BenchResults.load(path.parent)
    saved = results.save(tmp_path)
    assert saved["results.json"].read_text() == path.read_text()  # byte for byte: the format is unchanged
    md = (path.parent / "results.md").read_text()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert all(line in results.to_markdown() for line in table)  # every row of the committed table
    page = saved["report.html"].read_text()
    sweep = len(budget_rows(results.to_dict())) >= MIN_BUDGETS  # the SA²CRQ budget figure too
    timed = bool(timed_curves(results.methods))  # benches older than epoch_seconds: no time-to-quality figure
    assert page.count("src='data:image/png;base64,") == 3 + sweep + timed
    assert "<th>method</th>" in page and "|---" not in page  # a table, not Markdown as text


def test_a_group_without_test_queries_is_na_not_a_score():
    results = BenchResults.load(COMMITTED[0].parent)
    results.data["n_test"]["cold"] = 0
    for seeds in results.methods.values():
        for run in seeds.values():
            run["splits"]["cold"] = {k: float("nan") for k in run["splits"]["cold"]}
    main_table = results.to_markdown().split("\n## ")[0]  # not the training-per-epoch table below it
    rows = [line.split(" | ") for line in main_table.splitlines() if line.startswith("| ")]
    cold = rows[0].index("cold R@100")
    assert {row[cold] for row in rows[2:]} == {"n/a"}
    assert all(row[cold - 1] != "n/a" for row in rows[2:])  # tail has queries: scores
    table = markdown_html(results.to_markdown())
    assert table.count("<td>n/a</td>") == len(results.methods)


def test_ndcg_column_only_where_a_run_recorded_it():
    results = BenchResults.load(COMMITTED[0].parent)
    assert "NDCG@10" not in results.to_markdown()  # a bench from before NDCG: no column of dashes
    run = next(iter(next(iter(results.methods.values())).values()))
    run["splits"]["all"]["ndcg@10"] = 0.1234
    header = next(line for line in results.to_markdown().splitlines() if line.startswith("| method"))
    assert header.split(" | ").index("NDCG@10") == header.split(" | ").index("MRR@10") + 1
    assert "0.1234" in results.to_markdown()
    several = next(m for m, seeds in results.methods.items() if len(seeds) >= 2)
    next(iter(results.methods[several].values()))["splits"]["all"]["ndcg@10"] = 0.5678
    row = next(line for line in results.to_markdown().splitlines() if line.startswith(f"| {several} |"))
    assert row.split(" | ")[header.split(" | ").index("NDCG@10")] == "–"  # not a mean over one of its seeds
    assert "NDCG@10: only for the rows whose every run recorded it" in results.to_markdown()  # what its bold means
    for seeds in results.methods.values():
        for every in seeds.values():
            every["splits"]["all"]["ndcg@10"] = 0.1
    assert "only for the rows" not in results.to_markdown()


def test_runs_made_on_other_machines_are_named_with_their_methods():
    results = BenchResults.load(COMMITTED[0].parent)
    writer = f"{results.machine['cpu']}, {results.machine['cores_available']} cores, GPU: none"
    assert f"Machine: {writer}." in results.to_markdown()  # no run names its own: all from the writer
    method = next(m for m in results.methods if not m.endswith("+exact"))
    for run in results.methods[method].values():
        run["machine"] = "Other CPU, 2 cores, GPU: none"
    line = next(line for line in results.to_markdown().splitlines() if line.startswith("Machine"))
    others = [m for m in results.methods if m != method and not m.endswith("+exact")]
    # in the table's order: the first method's machine first
    assert line == f"Machines: Other CPU, 2 cores, GPU: none ({method}); {writer} ({', '.join(others)})."
