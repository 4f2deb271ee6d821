"""Checkpoints and tokenizer folders: loading never runs code, and a broken file is a DataError naming it."""

import os
import pickle
import stat

import numpy as np
import pytest
import torch

from semid.errors import DataError
from semid.tokenize import load_tokenizer
from semid.tokenize.checkpoint import CHECKPOINT_FILE, LEGACY_FILE, load_checkpoint, save_checkpoint
from tests.tokenize.helpers import small_rq_vae, vectors_with_head


class Planted:
    """Unpickling this writes a file: what a hostile `checkpoint/last.pt` would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the plain pickle
@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_planted_pickle_does_not_run(tmp_path, how):
    x, _ = vectors_with_head(300)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    marker = tmp_path / "pwned"
    payload = {"config": {}, "module": {}, "evil": Planted(str(marker))}
    if how == "pickle":
        (ckpt / LEGACY_FILE).write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, ckpt / LEGACY_FILE)
    with pytest.raises(DataError) as err:
        small_rq_vae(epochs=1, checkpoint_dir=str(ckpt)).fit(x)
    assert not marker.exists(), "the planted pickle ran"
    assert str(err.value).startswith(f"{ckpt / LEGACY_FILE}: ") and "semid does not run it" in str(err.value)
    # the same bytes under the new name are not even parsed as a pickle
    (ckpt / LEGACY_FILE).rename(ckpt / CHECKPOINT_FILE)
    with pytest.raises(DataError, match=f"{CHECKPOINT_FILE}.*not a readable semid checkpoint"):
        small_rq_vae(epochs=1, checkpoint_dir=str(ckpt)).fit(x)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
@pytest.mark.parametrize("name", [CHECKPOINT_FILE, LEGACY_FILE])
def test_broken_checkpoint_is_a_clear_error(tmp_path, damage, name):
    x, _ = vectors_with_head(300)
    ckpt = tmp_path / "ckpt"
    small_rq_vae(epochs=1, checkpoint_dir=str(ckpt)).fit(x)
    if name == LEGACY_FILE:  # what semid < this version wrote (non-adaptive: tensors and plain values only)
        (ckpt / CHECKPOINT_FILE).unlink()
        torch.save({"config": {}, "module": {"w": torch.zeros(3)}}, ckpt / LEGACY_FILE)
    raw = (ckpt / name).read_bytes()
    broken = {"empty": b"", "truncated": raw[: len(raw) // 2], "garbage": b"\x00\xff" * 64}[damage]
    (ckpt / name).write_bytes(broken)
    with pytest.raises(DataError, match=f"{ckpt / name}: not a readable semid checkpoint"):
        small_rq_vae(epochs=2, checkpoint_dir=str(ckpt)).fit(x)


def test_legacy_tensor_checkpoint_still_resumes(tmp_path):
    """A `last.pt` of an older semid holding only tensors and plain values loads (weights_only=True)."""
    x, _ = vectors_with_head(600)
    ckpt = tmp_path / "ckpt"
    first = small_rq_vae(epochs=2, checkpoint_dir=str(ckpt)).fit(x)
    (ckpt / CHECKPOINT_FILE).unlink()
    state = {
        "stage": "all",
        "epochs_done": 2,
        "module": first._module().state_dict(),
        "sizes": [16, 16, 16],
        "anchor_sizes": [0, 0, 0],
        "tables": None,
        "history": first.history,
        "config": {k: v for k, v in vars(first.config).items()},
    }
    torch.save(state, ckpt / LEGACY_FILE)
    resumed = small_rq_vae(epochs=3, checkpoint_dir=str(ckpt)).fit(x)
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2]
    assert resumed.history[:2] == first.history


def test_adaptive_tail_stage_resumes_with_its_prefix_tables(tmp_path):
    x, is_head = vectors_with_head(1500)
    kw = dict(adaptive=True, anchored=True, head_codebook_sizes=[4, 8, 16], min_items=20, epochs=2, head_epochs=2)
    ckpt = tmp_path / "ckpt"
    first = small_rq_vae(tail_epochs=1, checkpoint_dir=str(ckpt), **kw).fit(x, is_head=is_head)
    resumed = small_rq_vae(tail_epochs=2, checkpoint_dir=str(ckpt), **kw).fit(x, is_head=is_head)
    assert [(r["stage"], r["epoch"]) for r in resumed.history] == [("head", 0), ("head", 1), ("tail", 0), ("tail", 1)]
    assert resumed.history[:3] == first.history
    assert resumed.tables is not None and first.tables is not None
    for a, b in zip(resumed.tables.counts, first.tables.counts, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["rq_vae", "sa2crq_vae"])
def test_checkpoint_from_before_tail_depth_resumes_under_the_rule_it_was_fitted_with(tmp_path, method):
    """A checkpoint whose config has no tail_depth was written with the literal head-tables rule: an SA²CRQ
    resumes it under that rule only; for other methods the option does not exist, so it resumes as before."""
    x, is_head = vectors_with_head(600)
    kw = dict(epochs=2, checkpoint_dir=str(tmp_path / "ckpt"))
    if method == "sa2crq_vae":
        kw.update(adaptive=True, anchored=True, head_codebook_sizes=[4, 8, 16], head_epochs=2, tail_epochs=1)
    small_rq_vae(**kw, tail_depth="head_tables").fit(x, is_head=is_head)
    _, meta, tensors = load_checkpoint(tmp_path / "ckpt")
    del meta["config"]["tail_depth"]
    save_checkpoint(tmp_path / "ckpt", meta, tensors)
    if method == "sa2crq_vae":
        with pytest.raises(DataError, match="another config"):
            small_rq_vae(**kw).fit(x, is_head=is_head)  # the new default rule: not the checkpoint's
    one_more = {"epochs": 3} if method == "rq_vae" else {"tail_epochs": 2}
    resumed = small_rq_vae(**{**kw, **one_more}, tail_depth="head_tables").fit(x, is_head=is_head)
    assert len(resumed.history) == 3 + (method == "sa2crq_vae")  # the checkpoint's epochs, then one more
    if method == "rq_vae":
        small_rq_vae(**{**kw, "epochs": 4}).fit(x)  # plain RQ-VAE: the default tail_depth is no mismatch


@pytest.mark.parametrize("method", ["rq_vae", "acrq_vae"])
def test_checkpoint_from_before_the_frozen_tail_stage_resumes_as_it_was_fitted(tmp_path, method):
    """A checkpoint whose config has no freeze_encoder_in_tail / head_epochs trained the encoder in the tail
    stage and the head stage for `epochs`: an ACRQ resumes it only so; for rq_vae the options do not apply."""
    x, is_head = vectors_with_head(600)
    kw = dict(epochs=2, checkpoint_dir=str(tmp_path / "ckpt"))
    if method == "acrq_vae":
        kw.update(anchored=True, head_codebook_sizes=[4, 8, 16], tail_epochs=1)
    legacy = dict(freeze_encoder_in_tail=False, head_epochs=2)
    small_rq_vae(**kw, **legacy).fit(x, is_head=is_head)
    _, meta, tensors = load_checkpoint(tmp_path / "ckpt")
    for key in legacy:
        del meta["config"][key]
    save_checkpoint(tmp_path / "ckpt", meta, tensors)
    if method == "acrq_vae":
        with pytest.raises(DataError, match="another config"):
            small_rq_vae(**kw).fit(x, is_head=is_head)  # the frozen tail stage: not how the checkpoint trained
        resumed = small_rq_vae(**{**kw, "tail_epochs": 2}, **legacy).fit(x, is_head=is_head)
    else:
        resumed = small_rq_vae(**{**kw, "epochs": 3}).fit(x)
    assert len(resumed.history) == 3 + (method == "acrq_vae")  # the checkpoint's epochs, then one more


def test_checkpoint_of_another_shape_is_a_clear_error(tmp_path):
    x, _ = vectors_with_head(300)
    ckpt = tmp_path / "ckpt"
    small_rq_vae(epochs=1, checkpoint_dir=str(ckpt)).fit(x)
    with pytest.raises(DataError, match="does not match this model"):
        small_rq_vae(epochs=2, checkpoint_dir=str(ckpt)).fit(np.hstack([x, x]))


@pytest.mark.parametrize("damage", ["empty", "truncated"])
@pytest.mark.parametrize("name", ["tensors.safetensors", "config.json"])
def test_broken_tokenizer_folder_is_a_clear_error(tmp_path, damage, name):
    x, _ = vectors_with_head(300)
    out = small_rq_vae(epochs=1).fit(x).save(tmp_path / "tok")
    raw = (out / name).read_bytes()
    (out / name).write_bytes(b"" if damage == "empty" else raw[: len(raw) // 2])
    with pytest.raises(DataError, match=f"{out / name}: not a "):
        load_tokenizer(out)


def test_saved_files_follow_the_umask(tmp_path):
    x, _ = vectors_with_head(300)
    previous = os.umask(0o002)
    try:
        small_rq_vae(epochs=1, checkpoint_dir=str(tmp_path / "ckpt")).fit(x).save(tmp_path / "tok")
    finally:
        os.umask(previous)
    for f in (tmp_path / "ckpt" / CHECKPOINT_FILE, tmp_path / "tok" / "tensors.safetensors"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o664, f  # safetensors alone writes 0600
