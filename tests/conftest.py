from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import WORDS


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session writes embeddings to its own cache, never the user's."""
    monkeypatch.setenv("SEMID_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """20 items, their RQ-KMeans SIDs (with dedup) and a tiny T5 trained on them: (root, retriever, history)."""
    from semid.cli import app
    from semid.retrieve.build import BuildConfig
    from semid.retrieve.model import ModelConfig
    from semid.retrieve.train import TrainConfig, train_retriever
    from tests.helpers import data_import, runner, write_jsonl

    root = tmp_path_factory.mktemp("tiny")
    items = [{"item_id": f"i{k}", "text": f"{w} thing", "popularity": 20 - k} for k, w in enumerate(WORDS)]
    queries = [
        {"query_id": f"q{k}", "split": "train", "query": f"the {w}", "target": f"i{k}"} for k, w in enumerate(WORDS)
    ]
    queries += [{"query_id": "v0", "split": "valid", "query": "the apple", "target": "i0"}]
    res = data_import(
        write_jsonl(root / "items.jsonl", items), write_jsonl(root / "queries.jsonl", queries), root / "ds"
    )
    assert res.exit_code == 0, res.output
    rng = np.random.default_rng(0)
    np.save(root / "vecs.npy", rng.normal(size=(20, 8)).astype(np.float32))
    res = runner.invoke(
        app,
        [
            "tokenize",
            str(root / "ds"),
            "--vectors",
            str(root / "vecs.npy"),
            "--codebook-sizes",
            "4,4,4",
            "--dedup",
            "--out",
            str(root / "tok"),
        ],
    )
    assert res.exit_code == 0, res.output
    model_cfg = ModelConfig(d_model=64, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=2, d_kv=32, dropout=0.0)
    cfg = TrainConfig(
        epochs=40, patience=0, batch_size=16, lr=3e-3, warmup_steps=10, eval_queries=1, show_progress=False
    )
    torch.manual_seed(0)
    build = BuildConfig(backbone="t5", t5=model_cfg)
    retriever, history = train_retriever(root / "ds", root / "tok", root / "art", build, cfg)
    return root, retriever, history
