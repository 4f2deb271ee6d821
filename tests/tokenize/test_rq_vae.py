import json
import math

import numpy as np
import pytest
import torch

from semid.codes import Codes
from semid.errors import DataError
from semid.sid.diagnostics import compute_diagnostics
from semid.tokenize import RQVAE, load_tokenizer
from semid.tokenize.rq_vae_train import RQVAETrainer
from tests.tokenize.helpers import RQ_VAE_SIZES, small_rq_vae, vectors_with_head, zipf_catalogue


def test_reconstruction_falls_and_no_codebook_collapse():
    x, _ = vectors_with_head()
    tok = small_rq_vae(epochs=10).fit(x)
    recon = [row["recon"] for row in tok.history]
    assert recon[-1] < 0.8 * recon[0]
    diag = compute_diagnostics(tok.encode(x), RQ_VAE_SIZES)
    assert all(layer["utilization"] > 0.5 for layer in diag["layers"])
    assert diag["n_sids"] > 100  # not "all items map to one SID"


def test_acrq_anchors_bit_identical_and_frozen():
    x, is_head = vectors_with_head()
    stage1 = small_rq_vae(anchored=True, head_codebook_sizes=[4, 8, 16], tail_epochs=0).fit(x, is_head=is_head)
    both = small_rq_vae(anchored=True, head_codebook_sizes=[4, 8, 16], tail_epochs=4).fit(x, is_head=is_head)
    for a, b in zip(stage1._module().layers(), both._module().layers(), strict=True):
        assert torch.equal(a.anchors, b.anchors)
        assert all(p is not b.anchors for p in both._module().parameters())  # a buffer, never optimised
    tail = both.encode(x[~is_head])
    assert (tail.codes[:, 0] >= 4).any()  # tail items use extension codes


@pytest.mark.parametrize("adaptive", [False, True], ids=["acrq_vae", "sa2crq_vae"])
def test_tail_stage_leaves_head_codes_bit_identical_by_default(monkeypatch, adaptive):
    """ACRQ's anchors are the head items' codes: at the default options the tail stage trains extension codes
    only, so every head item keeps, bit for bit, the code (and under SA²CRQ the depth) the head stage gave it."""
    x, is_head = vectors_with_head()
    after_head: dict[str, Codes] = {}
    fit_stage = RQVAETrainer.fit_stage

    def recording(self, x_stage, stage):
        codebooks, codes = fit_stage(self, x_stage, stage)
        if stage.name == "head":
            full = Codes.full(self._module().codes(torch.from_numpy(x_stage)).numpy().astype(np.int32))
            after_head["codes"] = full if codes is None else codes
        return codebooks, codes

    monkeypatch.setattr(RQVAETrainer, "fit_stage", recording)
    tok = small_rq_vae(adaptive=adaptive, anchored=True, head_codebook_sizes=[4, 8, 16], min_items=20)
    tok.fit(x, is_head=is_head)
    assert [r["stage"] for r in tok.history].count("tail") == tok.config.epochs  # the tail stage did train
    head = tok.encode(x[is_head], is_head=np.ones(int(is_head.sum()), dtype=bool))
    np.testing.assert_array_equal(head.codes, after_head["codes"].codes)
    np.testing.assert_array_equal(head.lengths, after_head["codes"].lengths)
    assert (tok.encode(x[~is_head]).codes[:, 0] >= 4).any()  # while tail items took extension codes


def test_head_stage_sees_as_many_items_as_epochs_over_the_catalogue():
    x, is_head = zipf_catalogue(1000)  # ~9% head
    kw = dict(anchored=True, head_codebook_sizes=[4, 8, 16], epochs=1, tail_epochs=1)
    stages = [r["stage"] for r in small_rq_vae(**kw).fit(x, is_head=is_head).history]
    assert stages == ["head"] * math.ceil(1000 / is_head.sum()) + ["tail"]
    stages = [r["stage"] for r in small_rq_vae(**kw, head_epochs=2).fit(x, is_head=is_head).history]
    assert stages == ["head", "head", "tail"]


def test_folder_saved_before_the_frozen_tail_stage_loads_as_fitted(tmp_path):
    x, is_head = vectors_with_head(600)
    tok = small_rq_vae(anchored=True, head_codebook_sizes=[4, 8, 16], epochs=1).fit(x, is_head=is_head)
    folder = tok.save(tmp_path / "t")
    payload = json.loads((folder / "config.json").read_text())
    for key in ("freeze_encoder_in_tail", "head_epochs"):
        del payload["config"][key]
    (folder / "config.json").write_text(json.dumps(payload))
    back = load_tokenizer(folder)
    assert isinstance(back, RQVAE)
    assert not back.config.freeze_encoder_in_tail and back.config.head_epochs == 1  # what fits then did
    np.testing.assert_array_equal(back.encode(x, is_head=is_head).codes, tok.encode(x, is_head=is_head).codes)


def test_sarq_vae_depths_and_save_load(tmp_path):
    x, is_head = vectors_with_head()
    tok = small_rq_vae(adaptive=True, anchored=True, head_codebook_sizes=[4, 8, 16], min_items=20).fit(
        x, is_head=is_head
    )
    codes = tok.encode(x, is_head=is_head)
    assert codes.lengths.min() >= 1 and codes.lengths.max() <= 3
    tok.save(tmp_path / "t")
    back = load_tokenizer(tmp_path / "t")
    assert back.method == "sa2crq_vae"
    np.testing.assert_array_equal(back.encode(x, is_head=is_head).codes, codes.codes)
    np.testing.assert_allclose(back.decode(codes), tok.decode(codes), atol=1e-6)


def test_resume_from_checkpoint(tmp_path):
    x, _ = vectors_with_head(1500)
    first = small_rq_vae(epochs=3, checkpoint_dir=str(tmp_path / "ckpt")).fit(x)
    resumed = small_rq_vae(epochs=5, checkpoint_dir=str(tmp_path / "ckpt")).fit(x)
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2, 3, 4]
    assert resumed.history[:3] == first.history
    with pytest.raises(DataError, match="another config"):
        small_rq_vae(epochs=5, latent_dim=4, checkpoint_dir=str(tmp_path / "ckpt")).fit(x)


def test_errors():
    x, _ = vectors_with_head(500)
    with pytest.raises(DataError, match="needs head items"):
        small_rq_vae(anchored=True).fit(x)
    with pytest.raises(DataError, match="larger than the number of items"):
        small_rq_vae(codebook_sizes=[1024]).fit(x)
    with pytest.raises(RuntimeError, match="not fitted"):
        small_rq_vae().encode(x)
