"""`semid demo` reruns: what a previous demo wrote is replaced, anything else only with --overwrite, and the
previous retriever is never deleted before the new one is in place. The long steps are stubbed out."""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace

import pytest

import semid.data
import semid.eval.bench
import semid.pipeline
import semid.retrieve.build
from semid.cli import app
from semid.files import recover_folder, replace_folder
from tests.helpers import runner


@pytest.fixture
def stubbed(monkeypatch):
    """The demo's steps as stubs; each run's retriever is a folder whose retriever.json says which run it is."""
    runs = {"n": 0}

    def tokenize_dataset(data_dir, out_dir, method, overwrite=False, **config):
        (out_dir / "sid_table").mkdir(parents=True, exist_ok=True)
        (out_dir / "sid_table" / "CURRENT").write_text(f"run {runs['n']}")
        return SimpleNamespace(table=None)

    def run_bench(cfg, out):
        runs["n"] += 1
        folder = out / "runs" / "rq_kmeans" / "seed0" / "retriever"
        (folder / "model").mkdir(parents=True, exist_ok=True)
        (folder / "retriever.json").write_text(f"run {runs['n']}")
        (folder / "model" / "weights").write_bytes(os.urandom(64))
        return SimpleNamespace(to_markdown=lambda: "", failed={})

    ds = SimpleNamespace(n_items=3, meta={"n_queries": {}})
    length = {"mean": 1.0, "head": {"mean": None, "n_items": 0}, "tail": {"mean": 1.0, "n_items": 3}}
    diag = {"n_items": 3, "n_sids": 3, "collision_rate": 0.0, "layers": [], "length": length}
    monkeypatch.setattr(semid.data, "prepare_dataset", lambda name, out: ds)
    monkeypatch.setattr(semid.pipeline, "embed_dataset", lambda data_dir: None)
    monkeypatch.setattr(semid.pipeline, "tokenize_dataset", tokenize_dataset)
    monkeypatch.setattr(semid.pipeline, "diagnose_table", lambda table, out, title: diag)
    monkeypatch.setattr(semid.retrieve.build, "input_kind", lambda ds: "text")
    monkeypatch.setattr(semid.eval.bench, "run_bench", run_bench)
    return runs


def demo(out, *options):
    return runner.invoke(app, ["demo", "--out", str(out), *options])


def test_a_retriever_the_demo_did_not_write_is_refused_before_any_work(tmp_path, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("the demo started its long work")

    monkeypatch.setattr(semid.data, "prepare_dataset", no_work)
    (tmp_path / "retriever").mkdir()
    (tmp_path / "retriever" / "retriever.json").write_text("mine")
    res = demo(tmp_path)
    assert res.exit_code == 2, res.output
    assert "retriever: was not written by `semid demo`" in res.output and "--overwrite" in res.output
    assert (tmp_path / "retriever" / "retriever.json").read_text() == "mine"


def test_a_rerun_replaces_only_what_the_previous_demo_wrote(tmp_path, stubbed):
    assert demo(tmp_path).exit_code == 0
    assert (tmp_path / "retriever" / "retriever.json").read_text() == "run 1"
    res = demo(tmp_path)  # its own outputs: no --overwrite needed
    assert res.exit_code == 0, res.output
    assert (tmp_path / "retriever" / "retriever.json").read_text() == "run 2"
    (tmp_path / "retriever" / "model" / "weights").write_bytes(b"retrained by the user")
    res = demo(tmp_path)
    assert res.exit_code == 2 and "retriever: was not written by `semid demo`" in res.output, res.output
    assert (tmp_path / "retriever" / "model" / "weights").read_bytes() == b"retrained by the user"
    res = demo(tmp_path, "--overwrite")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "retriever" / "retriever.json").read_text() == "run 3"
    (tmp_path / "rq_kmeans" / "sid_table" / "CURRENT").write_text("grown by semid assign")
    res = demo(tmp_path)
    assert res.exit_code == 2 and "rq_kmeans: was not written by `semid demo`" in res.output, res.output
    assert (tmp_path / "rq_kmeans" / "sid_table" / "CURRENT").read_text() == "grown by semid assign"


def test_a_failed_copy_keeps_the_previous_retriever(tmp_path, stubbed, monkeypatch):
    assert demo(tmp_path).exit_code == 0
    before = (tmp_path / "retriever" / "model" / "weights").read_bytes()

    def disk_full(src, dst, *args, **kwargs):
        os.makedirs(dst)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copytree", disk_full)
    res = demo(tmp_path)
    assert res.exit_code == 2 and "No space left on device" in res.output, res.output
    assert (tmp_path / "retriever" / "retriever.json").read_text() == "run 1"
    assert (tmp_path / "retriever" / "model" / "weights").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench", "retriever", "rq_kmeans"]  # no half copy left


def test_a_kill_between_the_two_renames_is_undone(tmp_path, monkeypatch):
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text(name)
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "f").write_text("old")
    real, calls = os.replace, []

    def killed_on_second(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the old folder is aside, the new one not yet in
        real(src, dst)

    monkeypatch.setattr(os, "replace", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        replace_folder(tmp_path / "new", tmp_path / "dst")
    monkeypatch.setattr(os, "replace", real)
    assert not (tmp_path / "dst").exists() and (tmp_path / ".dst.old" / "f").read_text() == "old"
    recover_folder(tmp_path / "dst")
    assert (tmp_path / "dst" / "f").read_text() == "old"
    assert not (tmp_path / ".dst.old").exists() and not (tmp_path / ".dst.new").exists()
    replace_folder(tmp_path / "new", tmp_path / "dst")
    assert (tmp_path / "dst" / "f").read_text() == "new" and not (tmp_path / ".dst.old").exists()


def test_the_old_train_queries_spelling_still_caps_the_training_records_with_a_warning(tmp_path, stubbed, monkeypatch):
    seen = []
    stub = semid.eval.bench.run_bench
    monkeypatch.setattr(
        semid.eval.bench, "run_bench", lambda cfg, out: seen.append(cfg.max_train_records) or stub(cfg, out)
    )
    old = demo(tmp_path, "--train-queries", "7")
    assert old.exit_code == 0 and "--train-queries is deprecated; use --max-train-records" in old.output
    assert demo(tmp_path, "--max-train-records", "7").exit_code == 0 and seen == [7, 7]
    both = demo(tmp_path, "--train-queries", "7", "--max-train-records", "7")
    assert both.exit_code == 2 and seen == [7, 7]
