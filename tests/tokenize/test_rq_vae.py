import numpy as np
import pytest
import torch

from semid.errors import DataError
from semid.sid.diagnostics import compute_diagnostics
from semid.tokenize import load_tokenizer
from tests.tokenize.helpers import RQ_VAE_SIZES, small_rq_vae, vectors_with_head


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


def test_frozen_encoder_keeps_head_sids():
    x, is_head = vectors_with_head()
    kw = dict(anchored=True, head_codebook_sizes=[4, 8, 16], freeze_encoder_in_tail=True)
    stage1 = small_rq_vae(tail_epochs=0, **kw).fit(x, is_head=is_head)
    both = small_rq_vae(tail_epochs=4, **kw).fit(x, is_head=is_head)
    h = np.ones(int(is_head.sum()), dtype=bool)
    np.testing.assert_array_equal(stage1.encode(x[is_head], is_head=h).codes, both.encode(x[is_head], is_head=h).codes)


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
