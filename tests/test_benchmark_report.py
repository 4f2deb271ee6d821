"""benchmarks/report.py: every benchmark script writes its result the same way, and the committed results
still come out the same when written through it."""

import importlib
import json
from pathlib import Path

import pytest
from benchmarks import report

from semid.machine import describe

RESULTS = Path(__file__).parents[1] / "benchmarks" / "results"
COMMITTED = sorted(RESULTS.glob("*.json"))
MARKDOWN_BY = {
    "tokenizers_": "bench_tokenizers",
    "serve_abuse_": "bench_serve_abuse",
    "serve_": "bench_serve",
    "tau_sweep_": "bench_tau_sweep",
}


def test_result_gets_this_machine_and_its_markdown(tmp_path):
    payload = {"benchmark": "fake", "rows": [{"qps": 12.5}], "artifact": Path("runs/demo")}

    def markdown(result):
        return f"# {result['benchmark']} on {result['machine']['cpu']}\n"

    path = report.write_result("fake_1", payload, tmp_path / "new", markdown)
    assert path == tmp_path / "new" / "fake_1.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    machine = describe()
    assert written == {"benchmark": "fake", "rows": [{"qps": 12.5}], "artifact": "runs/demo", "machine": machine}
    assert {"cpu", "cores_available", "memory_gib", "python", "torch", "gpu"} <= set(machine)
    assert path.with_suffix(".md").read_text(encoding="utf-8") == f"# fake on {machine['cpu']}\n"
    assert "machine" not in payload  # the caller's payload is left as it was


def test_no_markdown_file_unless_asked_and_a_stale_machine_is_replaced(tmp_path):
    path = report.write_result("fake", {"rows": [], "machine": {"cpu": "the old box"}}, tmp_path)
    assert json.loads(path.read_text(encoding="utf-8"))["machine"] == describe()
    assert [p.name for p in tmp_path.iterdir()] == ["fake.json"]


def test_the_committed_results_are_found():
    assert len(COMMITTED) >= 10  # else the test below checks nothing


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda p: p.stem)
def test_committed_results_read_the_same_when_written_again(committed, tmp_path, monkeypatch):
    old = json.loads(committed.read_text(encoding="utf-8"))
    monkeypatch.setattr(report, "describe", lambda: old["machine"])  # as if measured on the same machine
    script = next((s for prefix, s in MARKDOWN_BY.items() if committed.stem.startswith(prefix)), None)
    markdown = importlib.import_module(f"benchmarks.{script}").markdown if script else None
    payload = {k: v for k, v in old.items() if k != "machine"}
    path = report.write_result(committed.stem, payload, tmp_path, markdown)
    assert json.loads(path.read_text(encoding="utf-8")) == old  # same keys, same values
    if script:
        assert path.with_suffix(".md").read_text(encoding="utf-8") == committed.with_suffix(".md").read_text()


def test_dataset_scripts_require_a_bundled_dataset():
    args = report.parser(None, dataset=True).parse_args(["--dataset", "wordnet"])
    assert (args.dataset, args.runs, args.out) == ("wordnet", "runs", Path("benchmarks/results"))
    with pytest.raises(SystemExit):
        report.parser(None, dataset=True).parse_args(["--dataset", "imdb"])
