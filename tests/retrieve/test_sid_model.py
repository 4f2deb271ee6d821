"""The default (minilm) backbone: codebook-initialised outputs, it learns, the encoder stays frozen and cached,
every constrained output is a real SID, and inputs of the wrong kind get a clear error."""

import json

import numpy as np
import pytest
import torch

from semid.errors import DataError
from semid.retrieve.build import BuildConfig, build_backbone
from semid.retrieve.sid_model import SIDModelConfig, additive_code_vectors
from semid.retrieve.train import TrainConfig, fit_retriever
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable
from semid.tokenize import RQKMeans, RQKMeansConfig
from tests.helpers import clustered
from tests.retrieve.helpers import fixed_table, text_dataset


def test_additive_code_vectors_recover_residual_kmeans_reconstructions():
    x = clustered(600, 16, 12, seed=1, spread=0.2)
    tok = RQKMeans(RQKMeansConfig(codebook_sizes=[8, 8], seed=0)).fit(x)
    codes = tok.encode(x)
    vocab = SIDVocab(0, (8, 8))
    rows = additive_code_vectors(codes, x, vocab)
    offsets = np.array([vocab.layer_start(t) for t in range(2)])
    recon = rows[codes.codes + offsets].sum(axis=1)
    ours = float(((x - recon) ** 2).sum(1).mean())
    theirs = float(((x - tok.decode(codes)) ** 2).sum(1).mean())
    assert ours <= theirs * 1.01  # least squares: never worse than the codebooks themselves
    assert np.all(rows[0] == 0)  # EOS has no vector


@pytest.fixture(scope="module")
def phrases(tmp_path_factory):
    ds = text_dataset()
    torch.manual_seed(0)
    cfg = TrainConfig(
        epochs=25, patience=0, batch_size=32, lr=3e-3, warmup_steps=5, eval_queries=1, show_progress=False
    )
    build = BuildConfig(minilm=SIDModelConfig(d_model=64, decoder_layers=1, dropout=0.0))
    out = tmp_path_factory.mktemp("phrases") / "art"
    retriever, history = fit_retriever(ds, fixed_table(ds), build, cfg, out)
    return ds, retriever, history, out


def test_default_backbone_learns_a_small_catalogue(phrases):
    ds, retriever, history, _ = phrases
    train = ds.split("train")
    found = retriever.search(train["query"].tolist(), k=10, beam=10)
    recall = np.mean([t in r.item_ids for t, r in zip(train["target"], found, strict=True)])
    assert recall >= 0.9, history[-3:]


def test_artifact_reloads_with_the_same_answers(phrases):
    from semid.retrieve.retriever import Retriever

    _, retriever, _, out = phrases
    again = Retriever.load(out)
    assert again.backbone.name == "minilm"
    q = ["lamp, ancient", "river, noisy"]
    assert [r.item_ids for r in again.search(q, k=5)] == [r.item_ids for r in retriever.search(q, k=5)]
    summary = json.loads((out / "train_history.json").read_text())
    assert summary["best_epoch"] >= 1 and len(summary["epochs"]) == 25


def test_every_constrained_output_is_a_real_sid(phrases):
    _, retriever, _, _ = phrases
    res = retriever.generate(retriever.encode_inputs(["boat", "a clock", "x"]), beam=40)
    real = set(retriever.table.sid_code_matrix().to_lists())
    for b in range(3):
        for w in range(40):
            if np.isfinite(res.scores[b, w]):
                assert tuple(res.codes[b, w, : res.lengths[b, w]]) in real and res.sids[b, w] >= 0


def test_encoder_frozen_and_its_outputs_computed_once(monkeypatch):
    from semid.embed import encoder as enc_mod

    calls: list[int] = []
    real_encode = enc_mod.TextEncoder.encode

    def counting(self, texts, show_progress=True):
        calls.append(len(texts))
        return real_encode(self, texts, show_progress)

    monkeypatch.setattr(enc_mod.TextEncoder, "encode", counting)
    ds = text_dataset()
    cfg = TrainConfig(epochs=3, patience=0, batch_size=64, eval_queries=0, show_progress=False)
    retriever, _ = fit_retriever(ds, fixed_table(ds), BuildConfig(minilm=SIDModelConfig(d_model=32)), cfg)
    # item texts (init), training queries, item texts (indexing pairs): once each, not once per epoch
    assert calls == [200, 200, 200]
    st = retriever.backbone._text_encoder._load()
    before = {k: v.clone() for k, v in st.state_dict().items()}
    fit_retriever(ds, fixed_table(ds), BuildConfig(minilm=SIDModelConfig(d_model=32)), cfg)
    assert all(torch.equal(before[k], v) for k, v in st.state_dict().items())


def test_untrained_model_ranks_by_similarity_to_the_reconstruction():
    """Output rows start as the code vectors: an item's own text finds its own SID before any training."""
    from semid.embed.encoder import TextEncoder
    from semid.retrieve.retriever import Retriever

    ds = text_dataset()
    rq_vectors = TextEncoder().encode(ds.items["text"].tolist(), show_progress=False)
    tok = RQKMeans(RQKMeansConfig(codebook_sizes=[32, 32], seed=0)).fit(rq_vectors)
    table = SIDTable.build(ds.items["item_id"].tolist(), tok.encode(rq_vectors), [32, 32], ds.items["popularity"])
    retriever = Retriever(build_backbone(BuildConfig(), ds, table, "text", torch.device("cpu"), False), table)
    found = retriever.search(ds.items["text"].tolist(), k=10, beam=10)
    recall = np.mean([t in r.item_ids for t, r in zip(ds.items["item_id"], found, strict=True)])
    assert recall >= 0.8


def test_inputs_of_the_wrong_kind_and_bad_settings_get_clear_errors(phrases):
    ds, retriever, _, _ = phrases
    with pytest.raises(DataError, match="trained on query text"):
        retriever.search(histories=[["red-boat"]], k=3)
    with pytest.raises(ValueError, match="query 0 is empty"):
        retriever.search([" "], k=3)
    with pytest.raises(ValueError, match="beam must be >= 1"):
        retriever.search(["boat"], k=3, beam=0)
    with pytest.raises(DataError, match="unknown backbone"):
        fit_retriever(ds, fixed_table(ds), BuildConfig(backbone="bert"), TrainConfig(show_progress=False))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        fit_retriever(ds, fixed_table(ds), BuildConfig(), TrainConfig(batch_size=0))
    with pytest.raises(ValueError, match="device must be"):
        fit_retriever(ds, fixed_table(ds), BuildConfig(), TrainConfig(device="bogus"))
