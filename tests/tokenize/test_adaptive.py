import dataclasses

import numpy as np
import pytest

from semid.errors import DataError
from semid.tokenize import AdaptiveRQ, Codes, load_tokenizer, make_tokenizer
from semid.tokenize.adaptive import AdaptiveRQConfig
from semid.tokenize.prefix import PrefixTables, apply_depths, resolve_tau
from semid.tokenize.rq_vae import RQVAEConfig
from semid.tokenize.staging import Stage
from tests.helpers import clustered


def long_tailed(seed=0):
    """Head items in a few dense clusters, tail items scattered: the density split SARQ is built for."""
    rng = np.random.default_rng(seed)
    head = clustered(3000, 16, 8, seed=seed + 1, spread=0.05)
    tail = rng.normal(size=(1500, 16)).astype(np.float32)
    is_head = np.r_[np.ones(3000, bool), np.zeros(1500, bool)]
    return np.vstack([head, tail]), is_head


SIZES = [16, 32, 32]


def sarq_config(**kw):
    return AdaptiveRQConfig(adaptive=True, anchored=False, **kw)


def acrq_config(**kw):
    return AdaptiveRQConfig(adaptive=False, anchored=True, **kw)


def sa2crq_config(**kw):
    return AdaptiveRQConfig(adaptive=True, anchored=True, **kw)


def fit(config, x, is_head):
    tok = AdaptiveRQ(dataclasses.replace(config, show_progress=False))
    return tok.fit(x, is_head=is_head)


def test_prefix_tables_count_and_depth_rule():
    codes = Codes.from_lists([[0, 1, 2], [0, 1, 3], [0, 2, 0], [1, 0, 0]], n_layers=3)
    tables = PrefixTables.from_codes(codes)
    assert tables.count(np.array([[0], [1], [2]])).tolist() == [3, 1, 0]
    assert tables.count(np.array([[0, 1], [0, 2], [5, 5]])).tolist() == [2, 1, 0]
    # tau = 0.3: P([0]) = .75 continues, P([1]) = .25 stops; P([0,1]) = .5 continues, P([0,2]) = .25 stops
    cut = apply_depths(codes.codes, tables, 0.3)
    assert cut.to_lists() == [(0, 1, 2), (0, 1, 3), (0, 2), (1,)]
    back = PrefixTables.from_tensors(tables.to_tensors(), 3)
    assert back.count(np.array([[0, 1]])).tolist() == [2] and back.n_train == 4


def test_min_items_is_tau_in_items():
    assert resolve_tau(None, 5, 1000) * 1000 == pytest.approx(4.5)  # count > 4.5  <=>  count >= 5
    with pytest.raises(ValueError, match="exactly one"):
        resolve_tau(0.1, 5, 10)


@pytest.mark.parametrize("cls", [AdaptiveRQConfig, RQVAEConfig])
def test_depth_budget_defaults_to_8_items_and_refuses_two(cls):
    assert (cls().tau, cls().min_items) == (None, 8)
    assert (cls(tau=0.01).tau, cls(tau=0.01).min_items) == (0.01, None)
    assert (cls(min_items=3).tau, cls(min_items=3).min_items) == (None, 3)
    reloaded = cls(**dataclasses.asdict(cls(tau=0.01)))  # what load() does with a saved config
    assert (reloaded.tau, reloaded.min_items) == (0.01, None)
    with pytest.raises(ValueError, match="not both"):  # was: min_items silently dropped
        cls(tau=0.01, min_items=8)
    with pytest.raises(DataError, match=r"bad option for sarq.*not both"):
        make_tokenizer("sarq", tau=0.01, min_items=3)


def test_sarq_head_codes_longer_than_tail_and_depths_in_range():
    x, is_head = long_tailed()
    tok = fit(sarq_config(codebook_sizes=SIZES, min_items=10), x, is_head)
    codes = tok.encode(x)
    assert codes.lengths.min() >= 1 and codes.lengths.max() <= 3
    assert codes.lengths[is_head].mean() > codes.lengths[~is_head].mean()
    codes.validate(SIZES)


def test_larger_tau_never_lengthens_a_code():
    x, is_head = long_tailed()
    tok = fit(sarq_config(codebook_sizes=SIZES, min_items=2), x, is_head)
    previous = tok.encode(x).lengths
    for tau in (1e-3, 3e-3, 1e-2, 5e-2, 0.2):
        lengths = tok.with_tau(tau).encode(x).lengths
        assert (lengths <= previous).all()
        previous = lengths
    assert previous.mean() < 2  # a strict budget really shortens


def test_decode_uses_exactly_the_items_own_layers():
    x, is_head = long_tailed()
    tok = fit(sarq_config(codebook_sizes=SIZES, min_items=10), x, is_head)
    codes = tok.encode(x)
    expected = np.zeros_like(x)
    for i in range(0, len(x), 97):
        for layer in range(codes.lengths[i]):
            expected[i] += tok.codebooks[layer][codes.codes[i, layer]]
    np.testing.assert_allclose(tok.decode(codes)[::97], expected[::97], atol=1e-6)


@pytest.mark.parametrize("build", [acrq_config, sa2crq_config])
def test_anchors_bit_identical_after_tail_stage(build):
    x, is_head = long_tailed()
    head_sizes = [8, 16, 32]
    cfg = build(codebook_sizes=SIZES, head_codebook_sizes=head_sizes, min_items=10)
    tok = fit(cfg, x, is_head)
    stage1 = AdaptiveRQ(dataclasses.replace(cfg, show_progress=False))
    anchors, _ = stage1.fit_stage(x[is_head], Stage("head", head_sizes, tok.tau))  # the head stage alone, same budget
    for layer, m in enumerate(head_sizes):
        assert tok.codebooks[layer].shape[0] == SIZES[layer]
        np.testing.assert_array_equal(tok.codebooks[layer][:m], anchors[layer])  # bit for bit
    tail_codes = tok.encode(x[~is_head])
    assert (tail_codes.codes[:, 0] >= head_sizes[0]).any()  # tail items use extension codes
    head_codes = tok.encode(x[is_head], is_head=np.ones(int(is_head.sum()), bool))
    for layer, m in enumerate(head_sizes):
        used = head_codes.lengths > layer
        assert (head_codes.codes[used, layer] < m).all()  # head items stay on anchors


def test_save_load_and_new_items_deterministic(tmp_path):
    x, is_head = long_tailed()
    for method in ("sarq", "acrq", "sa2crq"):
        tok = make_tokenizer(method, codebook_sizes=SIZES, show_progress=False).fit(x, is_head=is_head)
        tok.save(tmp_path / method)
        back = load_tokenizer(tmp_path / method)
        assert back.method == method
        new = clustered(40, 16, 8, seed=99)
        np.testing.assert_array_equal(back.encode(new).codes, tok.encode(new).codes)
        np.testing.assert_array_equal(back.encode(x, is_head=is_head).codes, tok.encode(x, is_head=is_head).codes)


def test_acrq_config_errors():
    x, is_head = long_tailed()
    with pytest.raises(DataError, match="needs head items"):
        make_tokenizer("acrq", codebook_sizes=SIZES, show_progress=False).fit(x)
    with pytest.raises(DataError, match="must not decrease"):
        make_tokenizer("acrq", codebook_sizes=SIZES, head_codebook_sizes=[16, 8, 8], show_progress=False).fit(
            x, is_head=is_head
        )
    with pytest.raises(DataError, match="exceed"):
        make_tokenizer("acrq", codebook_sizes=SIZES, head_codebook_sizes=[8, 64, 64], show_progress=False).fit(
            x, is_head=is_head
        )
    with pytest.raises(DataError, match=r"head_codebook_sizes must be positive, got \[0, 0, 0\]"):  # was a faiss trace
        make_tokenizer("acrq", codebook_sizes=SIZES, head_codebook_sizes=[0, 0, 0], show_progress=False).fit(
            x, is_head=is_head
        )
    with pytest.raises(DataError, match="bad option for sarq"):
        make_tokenizer("sarq", no_such_option=1)
