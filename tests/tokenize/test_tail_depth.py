"""SA²CRQ's tail-stage depth rule (semid.tokenize.tail_depth) on a long-tailed catalogue, both quantizers."""

import json

import numpy as np
import pytest

from semid.codes import Codes
from semid.errors import DataError
from semid.sid.diagnostics import sid_group_sizes
from semid.tokenize import AdaptiveRQ, AdaptiveRQConfig, load_tokenizer, make_tokenizer
from semid.tokenize.prefix import PrefixTables
from semid.tokenize.rq_vae_train import RQVAETrainer
from tests.tokenize.helpers import small_rq_vae, zipf_catalogue

SIZES = [16, 32, 32]  # head stage: [4, 16, 32]
HEAD_SIZES = [4, 16, 32]


def fit_recording(x, is_head, **options):
    """An SA²CRQ on residual k-means fitted on (x, is_head), and what each stage returned: name -> (codebooks,
    codes of that stage's items as the fit cut them)."""
    config = AdaptiveRQConfig(adaptive=True, anchored=True, codebook_sizes=SIZES, show_progress=False, **options)
    tok = AdaptiveRQ(config)
    stages = {}
    fit_stage = tok.fit_stage

    def recording(x_stage, stage):
        codebooks, codes = fit_stage(x_stage, stage)
        stages[stage.name] = ([cb.copy() for cb in codebooks], codes)
        return codebooks, codes

    tok.fit_stage = recording
    return tok.fit(x, is_head=is_head), stages


def fit_codes(stages, is_head) -> Codes:
    """Every training item's code as the two stages cut them."""
    codes = np.empty((is_head.size, len(SIZES)), dtype=np.int32)
    lengths = np.empty(is_head.size, dtype=np.int32)
    for name, rows in (("head", is_head), ("tail", ~is_head)):
        codes[rows], lengths[rows] = stages[name][1].codes, stages[name][1].lengths
    return Codes(codes, lengths)


def short_sid_sizes(codes: Codes) -> np.ndarray:
    """Items per SID over the SIDs shorter than the full length."""
    short = codes.lengths < codes.n_layers
    return sid_group_sizes(Codes(codes.codes[short], codes.lengths[short]))


@pytest.fixture(scope="module")
def catalogue():
    return zipf_catalogue()


@pytest.fixture(scope="module")
def fitted(catalogue):
    x, is_head = catalogue
    return {rule: fit_recording(x, is_head, tail_depth=rule) for rule in ("catalogue", "head_tables")}


@pytest.mark.parametrize("rule", ["catalogue", "head_tables"])
def test_tail_stage_leaves_anchors_and_head_codes_bit_identical(catalogue, fitted, rule):
    x, is_head = catalogue
    tok, stages = fitted[rule]
    head_codebooks, head_codes = stages["head"]
    for layer, m in enumerate(HEAD_SIZES):
        np.testing.assert_array_equal(tok.codebooks[layer][:m], head_codebooks[layer])
    after = tok.encode(x[is_head], is_head=np.ones(int(is_head.sum()), bool))
    np.testing.assert_array_equal(after.codes, head_codes.codes)
    np.testing.assert_array_equal(after.lengths, head_codes.lengths)


@pytest.mark.parametrize("rule", ["catalogue", "head_tables"])
def test_encode_of_training_items_is_the_fit_and_survives_save_load(catalogue, fitted, rule, tmp_path):
    x, is_head = catalogue
    tok, stages = fitted[rule]
    expected = fit_codes(stages, is_head)
    back = load_tokenizer(tok.save(tmp_path / rule))
    for t in (tok, back):
        got = t.encode(x, is_head=is_head)
        np.testing.assert_array_equal(got.codes, expected.codes)
        np.testing.assert_array_equal(got.lengths, expected.lengths)
        cold = t.encode(x[~is_head])  # new items (`semid assign`): cut as the fit cut tail items
        np.testing.assert_array_equal(cold.codes, expected.codes[~is_head])
    if rule == "catalogue":  # the saved catalogue tables count exactly the fit's codes
        ours, theirs = back.catalogue, PrefixTables.from_codes(expected)
        assert ours.n_train == is_head.size
        for k1, c1, k2, c2 in zip(ours.keys, ours.counts, theirs.keys, theirs.counts, strict=True):
            np.testing.assert_array_equal(k1, k2)
            np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("budget", [{"min_items": 3}, {"min_items": 8}, {"tau": 0.01}])
def test_every_short_sid_holds_at_most_tau_times_catalogue_items(catalogue, budget):
    """The rule's guarantee: a SID shorter than L holds <= tau * n_items items (< min_items); full-length
    SIDs are the last layer's collisions, which no depth rule bounds."""
    x, is_head = catalogue
    tok, _ = fit_recording(x, is_head, **budget)
    if "min_items" in budget:
        assert tok.tau * x.shape[0] == pytest.approx(budget["min_items"] - 0.5)  # tau over the whole catalogue
    codes = tok.encode(x, is_head=is_head)
    assert short_sid_sizes(codes).max() <= int(tok.tau * x.shape[0])
    assert codes.lengths[is_head].mean() > codes.lengths[~is_head].mean()  # head longer than tail


def test_literal_head_tables_rule_is_kept_and_is_what_the_bound_fixes(catalogue, fitted):
    x, is_head = catalogue
    tok, _ = fitted["head_tables"]
    assert tok.catalogue is None and tok.tables.n_train == int(is_head.sum())
    assert tok.tau * is_head.sum() == pytest.approx(8 - 0.5)  # default min_items, over head items
    tail = tok.encode(x[~is_head])
    on_extension = tail.codes[:, 0] >= HEAD_SIZES[0]  # a prefix the head never saw: P = 0, stop
    assert on_extension.any() and (tail.lengths[on_extension] == 1).all()
    assert short_sid_sizes(tok.encode(x, is_head=is_head)).max() > 8  # no bound: tail items pile up


def test_fit_is_deterministic_for_a_seed(catalogue, fitted):
    x, is_head = catalogue
    tok, _ = fitted["catalogue"]
    again, _ = fit_recording(x, is_head, tail_depth="catalogue")
    np.testing.assert_array_equal(again.encode(x, is_head=is_head).codes, tok.encode(x, is_head=is_head).codes)
    for a, b in zip(again.catalogue.counts, tok.catalogue.counts, strict=True):
        np.testing.assert_array_equal(a, b)


def test_folder_saved_before_the_option_loads_with_the_old_rule(catalogue, fitted, tmp_path):
    x, is_head = catalogue
    tok, _ = fitted["head_tables"]
    folder = tok.save(tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["config"]["tail_depth"]  # what semid wrote before tail_depth existed
    (folder / "config.json").write_text(json.dumps(config))
    back = load_tokenizer(folder)
    assert back.config.tail_depth == "head_tables" and back.catalogue is None
    np.testing.assert_array_equal(back.encode(x, is_head=is_head).codes, tok.encode(x, is_head=is_head).codes)
    assert make_tokenizer("sa2crq").config.tail_depth == "catalogue"  # new fits: the new rule


def test_bad_tail_depth_and_missing_catalogue_tables_are_clear_errors(fitted, tmp_path):
    with pytest.raises(DataError, match="tail_depth must be one of"):
        make_tokenizer("sa2crq", tail_depth="head")
    tok, _ = fitted["head_tables"]
    folder = tok.save(tmp_path / "broken")
    config = json.loads((folder / "config.json").read_text())
    config["config"]["tail_depth"] = "catalogue"  # tensors without catalogue tables under the new rule
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataError, match="no catalogue tables"):
        load_tokenizer(tmp_path / "broken")


def test_rq_vae_tail_rule(monkeypatch):
    """The same rule on the RQ-VAE quantizer (its encoder frozen in the tail stage by default: head SIDs stay)."""
    x, is_head = zipf_catalogue(2000)
    stages = {}
    fit_stage = RQVAETrainer.fit_stage

    def recording(self, x_stage, stage):
        codebooks, codes = fit_stage(self, x_stage, stage)
        stages[stage.name] = (codebooks, codes)
        return codebooks, codes

    monkeypatch.setattr(RQVAETrainer, "fit_stage", recording)
    options = dict(adaptive=True, anchored=True, head_codebook_sizes=[4, 8, 16])
    tok = small_rq_vae(**options, epochs=3, min_items=8).fit(x, is_head=is_head)
    codes = tok.encode(x, is_head=is_head)
    expected = fit_codes(stages, is_head)
    np.testing.assert_array_equal(codes.codes, expected.codes)
    assert short_sid_sizes(codes).max() <= int(tok.tau * x.shape[0])
    assert codes.lengths[is_head].mean() > codes.lengths[~is_head].mean()
