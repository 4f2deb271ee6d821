"""`BenchResults`: the committed bench tables load, render and save unchanged."""

import json
from pathlib import Path

import pytest

from semid.eval.bench import BenchResults
from semid.eval.harness import results_markdown

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
    assert results_markdown(json.loads(path.read_text())) == results.to_markdown()
    page = saved["report.html"].read_text()
    assert page.count('<img src="data:image/png;base64,') == 3 and "| method | seeds |" in page
