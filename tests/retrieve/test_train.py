"""A tiny T5 learns a tiny catalogue; its beam scores are its own summed log-probabilities."""

import json

import numpy as np
import pytest
import torch

from semid.cli import app
from semid.errors import DataError
from semid.retrieve.beam import beam_search
from semid.retrieve.build import BuildConfig
from semid.retrieve.model import ModelConfig, pad_batch
from semid.retrieve.retriever import Retriever
from semid.retrieve.t5_backbone import t5_step_fn
from semid.retrieve.train import TrainConfig, check_train_config, lr_factor, train_retriever
from tests.helpers import WORDS, runner


def test_tiny_model_learns_its_training_pairs(tiny):
    root, retriever, history = tiny
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    results = retriever.search([f"the {w}" for w in WORDS], k=1, beam=8)
    hits = sum(r.item_ids[:1] == [f"i{k}"] for k, r in enumerate(results))
    assert hits >= 18  # near-perfect recall@1 on its own training pairs
    again = Retriever.load(root / "art").search(["the apple"], k=3)
    assert again[0].item_ids == results[0].item_ids[:1] + again[0].item_ids[1:]


def test_what_valid_recall_is_measured_on_is_said(tiny):
    from semid.cli.models import _trained

    root, _, history = tiny
    assert all(row["valid_queries"] == 1 for row in history)  # eval_queries=1 of the one valid record
    closing = _trained(history, root / "art")
    assert "valid Recall@10" in closing and "on 1 sampled valid records" in closing


def test_scores_are_the_models_summed_logprobs(tiny):
    _, retriever, _ = tiny
    inputs = retriever.encode_inputs(["the castle"])
    ids, mask = pad_batch(inputs)
    vocab, local = retriever.vocab, retriever.vocab.local()
    res = beam_search(t5_step_fn(retriever.model, ids, mask, 6, vocab), 1, local, retriever.trie, 6)
    for w in range(6):
        if not np.isfinite(res.scores[0, w]):
            continue
        tokens = local.tokens(retriever.table.sid_code_matrix())[res.sids[0, w]]
        total = 0.0
        for i, tok in enumerate(tokens):
            lp = t5_step_fn(retriever.model, ids, mask, 1, vocab)(torch.tensor([tokens[:i]], dtype=torch.long), None)
            total += float(lp[0, tok])
        assert res.scores[0, w] == pytest.approx(total, abs=1e-4)


def test_retrieve_cli_and_bad_queries(tiny):
    root, retriever, _ = tiny
    res = runner.invoke(app, ["retrieve", str(root / "art"), "the river", "-k", "2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index("{") :].splitlines()[0])
    assert len(out["items"]) == 2 and out["hallucinated_sids"] == 0
    res = runner.invoke(app, ["retrieve", str(root / "art"), "  "])
    assert res.exit_code == 2 and "query 0 is empty" in res.output
    unconstrained = retriever.search(["the river"], k=5, beam=16, constrained=False)[0]
    assert unconstrained.n_sids_generated == 16


def test_retrieve_answers_each_stdin_line_with_the_model_loaded_once(tiny):
    root, retriever, _ = tiny
    res = runner.invoke(app, ["retrieve", str(root / "art"), "--stdin", "-k", "1"], input="the river\n\nthe apple\n")
    assert res.exit_code == 0, res.output
    answers = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    expected = retriever.search(["the river", "the apple"], k=1)
    assert [a["items"] for a in answers] == [r.item_ids for r in expected]  # blank lines skipped, order kept


def test_hf_generate_with_the_trie_constraint_returns_real_sids(tiny):
    from transformers import LogitsProcessorList

    from semid.retrieve.hf import SIDConstraint

    _, retriever, _ = tiny
    vocab = retriever.vocab
    ids, mask = pad_batch(retriever.encode_inputs(["the castle", "the tiger"]))
    out = retriever.model.generate(
        input_ids=ids,
        attention_mask=mask,
        num_beams=8,
        num_return_sequences=8,
        max_new_tokens=len(vocab.codebook_sizes) + 1,
        logits_processor=LogitsProcessorList([SIDConstraint(retriever.trie, vocab)]),
        do_sample=False,
    )
    real = {tuple(t) for t in vocab.tokens(retriever.table.sid_code_matrix())}
    for row in out.tolist():
        seq = row[1:]
        seq = seq[: seq.index(vocab.eos) + 1] if vocab.eos in seq else seq
        assert tuple(seq) in real


def test_torchrun_ddp_on_two_cpu_processes(tiny, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root, _, _ = tiny
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "semid.cli",
        "train",
        str(root / "ds"),
        str(root / "tok"),
        "--out",
        str(tmp_path / "art"),
        "--epochs",
        "2",
        "--d-model",
        "32",
        "--layers",
        "1",
        "--decoder-layers",
        "1",
        "--batch-size",
        "8",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = json.loads((tmp_path / "art" / "train_history.json").read_text())["epochs"]
    assert [row["epoch"] for row in history] == [1, 2]
    assert Retriever.load(tmp_path / "art").search(["the apple"], k=2)[0].item_ids


def test_training_resumes_from_its_checkpoint(tiny, tmp_path):
    root, _, _ = tiny
    model_cfg = ModelConfig(d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=16, dropout=0.0)
    first = TrainConfig(epochs=2, batch_size=16, warmup_steps=2, eval_queries=0, show_progress=False)
    build = BuildConfig(backbone="t5", t5=model_cfg)
    _, h2 = train_retriever(root / "ds", root / "tok", tmp_path / "art", build, first)
    more = TrainConfig(epochs=3, batch_size=16, warmup_steps=2, eval_queries=0, show_progress=False)
    _, h3 = train_retriever(root / "ds", root / "tok", tmp_path / "art", build, more)
    assert [r["epoch"] for r in h3] == [1, 2, 3]
    assert h3[:2] == h2
    other = ModelConfig(d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=8)
    with pytest.raises(DataError, match=r"another training run \(model settings differ\)"):
        train_retriever(root / "ds", root / "tok", tmp_path / "art", BuildConfig(backbone="t5", t5=other), more)


def test_a_checkpoint_is_not_resumed_on_other_sids(tiny, tmp_path):
    """A tokenizer refit elsewhere (another CPU's floats) can give other SIDs: the checkpoint must say so."""
    from semid.codes import Codes
    from semid.data.format import load_dataset
    from semid.pipeline import resolve_table_dir
    from semid.retrieve.train import fit_retriever
    from semid.sid.table import SIDTable

    root, _, _ = tiny
    ds, table = load_dataset(root / "ds"), SIDTable.load(resolve_table_dir(root / "tok"))
    model_cfg = ModelConfig(d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=8)
    build = BuildConfig(backbone="t5", t5=model_cfg)
    cfg = TrainConfig(epochs=1, batch_size=16, eval_queries=0, show_progress=False)
    fit_retriever(ds, table, build, cfg, tmp_path / "art")
    codes = table.item_codes()
    swap = np.arange(table.n_items)
    swap[[0, 1]] = [1, 0]  # items i0 and i1 trade SIDs: the same SIDs, the same number of pairs
    moved = SIDTable.build(
        table.item_ids, Codes(codes.codes[swap], codes.lengths[swap]), table.codebook_sizes, table.popularity
    )
    assert moved.fingerprint() != table.fingerprint() and moved.n_sids == table.n_sids
    assert SIDTable.build(table.item_ids, codes, table.codebook_sizes).fingerprint() == table.fingerprint()
    with pytest.raises(DataError, match=r"another training run \(item -> SID tables differ\)"):
        fit_retriever(ds, moved, build, cfg, tmp_path / "art")
    fit_retriever(ds, table, build, cfg, tmp_path / "art")  # its own table resumes (nothing left to train)
    ckpt = tmp_path / "art" / "checkpoint" / "last.pt"
    state = torch.load(ckpt, weights_only=True)
    del state["identity"]["sids"]
    torch.save(state, ckpt)
    fit_retriever(ds, moved, build, cfg, tmp_path / "art")  # written before checkpoints named their table: resumed


def test_a_planted_or_broken_checkpoint_never_runs_and_is_named(tiny, tmp_path):
    import pickle

    root, _, _ = tiny
    model_cfg = ModelConfig(d_model=16, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=8)
    build = BuildConfig(backbone="t5", t5=model_cfg)
    cfg = TrainConfig(epochs=1, batch_size=16, eval_queries=0, show_progress=False)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    ckpt = tmp_path / "art" / "checkpoint" / "last.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(pickle.dumps({"identity": Payload()}))
    with pytest.raises(DataError, match=r"last\.pt is not a readable semid checkpoint"):
        train_retriever(root / "ds", root / "tok", tmp_path / "art", build, cfg)
    assert not marker.exists()
    ckpt.write_bytes(b"")
    with pytest.raises(DataError, match=r"last\.pt is not a readable"):
        train_retriever(root / "ds", root / "tok", tmp_path / "art", build, cfg)


def test_lr_factor_warms_up_then_follows_the_schedule():
    constant, cosine = lr_factor("constant", 4, 20), lr_factor("cosine", 4, 20)
    assert [constant(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0] == [cosine(s) for s in range(4)]
    assert constant(19) == 1.0
    assert cosine(4) == 1.0 and abs(cosine(12) - 0.5) < 1e-12 and cosine(20) == 0.0
    assert all(cosine(s) >= cosine(s + 1) for s in range(4, 25))


def test_unknown_lr_schedule_fails_before_work():
    with pytest.raises(ValueError, match="lr_schedule must be one of constant, cosine"):
        check_train_config(TrainConfig(lr_schedule="linear"))
