import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import semid
from semid.cli import app
from semid.tokenize import RQKMeans
from tests.helpers import clustered, data_import, make_dataset, runner, tokenize, write_jsonl


def test_import_tokenize_diagnose(tmp_path):
    ds = make_dataset(tmp_path)
    tokenize(ds, tmp_path / "tok", "8,8")
    assert (tmp_path / "tok" / "tokenizer" / "config.json").exists()
    res = runner.invoke(app, ["diagnose", str(tmp_path / "tok"), "--out", str(tmp_path / "diag")])
    assert res.exit_code == 0, res.output
    diag = json.loads((tmp_path / "diag" / "diagnostics.json").read_text())
    assert diag["n_items"] == 300 and len(diag["layers"]) == 2
    assert (tmp_path / "diag" / "report.html").stat().st_size > 10_000


def test_bad_inputs_exit_2_with_the_location(tmp_path):
    write_jsonl(tmp_path / "items.jsonl", [{"item_id": "a", "text": "", "popularity": 1}])
    write_jsonl(tmp_path / "queries.jsonl", [{"split": "train", "query": "x", "target": "a"}])
    res = data_import(tmp_path / "items.jsonl", tmp_path / "queries.jsonl", tmp_path / "ds")
    assert res.exit_code == 2
    assert "items.jsonl line 1: field 'text' is empty" in res.output


def test_tokenize_errors_are_clear(tmp_path):
    ds = make_dataset(tmp_path, n=50)
    res = runner.invoke(app, ["tokenize", str(ds), "--out", str(tmp_path / "t")])
    assert res.exit_code == 2 and "semid embed" in res.output  # no vectors yet
    res = runner.invoke(
        app,
        [
            "tokenize",
            str(ds),
            "--vectors",
            str(tmp_path / "vecs.npy"),
            "--codebook-sizes",
            "64",
            "--out",
            str(tmp_path / "t"),
        ],
    )
    assert res.exit_code == 2 and "larger than the number of items (50)" in res.output
    res = runner.invoke(app, ["tokenize", str(ds), "--codebook-sizes", "a,b", "--out", str(tmp_path / "t")])
    assert res.exit_code != 0 and "comma-separated integers" in res.output
    res = runner.invoke(app, ["data", "prepare", "imdb", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "unknown dataset 'imdb'" in res.output


def test_vectors_that_crashed_the_process_exit_2_with_a_message(tmp_path):
    """0-dimensional vectors died with SIGFPE (rc 136), 1e30 aborted inside faiss (rc 134): in a subprocess,
    since on a regression they would take the test run down with them."""
    ds = make_dataset(tmp_path, n=50)
    np.save(tmp_path / "zero.npy", np.zeros((50, 0), dtype=np.float32))
    np.save(tmp_path / "huge.npy", clustered(50, 8, 4) * 1e30)
    env = {**os.environ, "PYTHONPATH": str(Path(semid.__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    for name, message in [("zero.npy", "0 dimensions"), ("huge.npy", "row 0: value")]:
        args = ["tokenize", str(ds), "--vectors", str(tmp_path / name), "--codebook-sizes", "4", "--out", "t"]
        proc = subprocess.run(
            [sys.executable, "-m", "semid.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 2 and message in proc.stderr, (name, proc.returncode, proc.stderr[-500:])


def test_identical_vectors_fit_with_a_warning(tmp_path):
    ds = make_dataset(tmp_path, n=50)
    np.save(tmp_path / "same.npy", np.ones((50, 8), dtype=np.float32))
    args = ["tokenize", str(ds), "--vectors", str(tmp_path / "same.npy"), "--codebook-sizes", "4,4"]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    assert "warning: vectors: all 50 vectors are identical" in res.output and "50 items -> 1 SIDs" in res.output


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody may create files in: 0555 for a normal user; for root (which ignores modes) the
    immutable attribute, where the file system and capabilities allow it."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
        yield ro
        ro.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr +i is not available: no read-only folder to test with")
    try:
        yield ro
    finally:
        subprocess.run(["chattr", "-i", str(ro)], check=True)


def test_unwritable_output_paths_fail_before_any_work(tmp_path, read_only_dir, monkeypatch):
    ds = make_dataset(tmp_path, n=50)
    tokenize(ds, tmp_path / "tok", "4")
    (tmp_path / "afile").write_text("not a folder")
    fitted: list[int] = []
    monkeypatch.setattr(RQKMeans, "fit", lambda *a, **k: fitted.append(1))  # the long step must not start
    vecs = ["--vectors", str(tmp_path / "vecs.npy"), "--codebook-sizes", "4"]
    items = ["--items", str(tmp_path / "items.jsonl"), "--queries", str(tmp_path / "queries.jsonl")]
    for out, reason in [
        (tmp_path / "afile" / "sub", "afile is a file, not a folder"),
        (read_only_dir / "x", "ro is not writable"),
    ]:
        for args in (
            ["tokenize", str(ds), *vecs, "--out", str(out)],
            ["data", "import", *items, "--out", str(out)],
            ["data", "prepare", "movielens", "--out", str(out)],
            ["diagnose", str(tmp_path / "tok"), "--out", str(out)],
        ):
            res = runner.invoke(app, args)
            assert res.exit_code == 2 and f"{out}: cannot write" in res.output and reason in res.output, res.output
    res = runner.invoke(app, ["diagnose", str(tmp_path / "tok"), "--out", str(tmp_path / "afile")])
    assert res.exit_code == 2 and "afile is a file" in res.output
    assert not fitted
