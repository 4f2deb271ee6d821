"""The default backbone's decoding step (KV cache, per-query memory, allowed tokens only) against the model's
own teacher-forced scores: step by step inside a real beam search, and as exact SID scores on a tiny catalogue;
and the vectorised SID -> items expansion against a plain loop."""

import numpy as np
import pytest
import torch

from semid.retrieve import TrieTensors, beam_search
from semid.retrieve.backbones import MiniLMBackbone
from semid.retrieve.retriever import Retriever
from semid.retrieve.sid_decode import sid_step_fn
from semid.retrieve.sid_model import SIDModel, SIDModelConfig
from semid.retrieve.vocab import SIDVocab
from semid.sid.trie import SIDTrie
from tests.retrieve.test_beam import random_table

DIM = 12


def random_model(kind, vocab, seed, n_items=0):
    """A small SIDModel whose every part matters (untrained models have a zero decoder projection)."""
    torch.manual_seed(seed)
    cfg = SIDModelConfig(d_model=16, num_heads=2, encoder_layers=1, decoder_layers=2, memory_tokens=3)
    model = SIDModel(cfg, vocab, DIM, kind, n_items)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
        model.log_scale.fill_(1.0)
    if kind == "history":
        tokens = torch.randint(1, vocab.n_sid_tokens, (n_items, len(vocab.codebook_sizes)))
        model.set_items(torch.randn(n_items, DIM), tokens, torch.arange(n_items))
    return model.eval()


def random_inputs(kind, n, n_items, rng):
    if kind == "text":
        return torch.from_numpy(rng.normal(size=(n, DIM)).astype(np.float32))
    rows = rng.integers(0, n_items, size=(n, 5))
    for i in range(n):  # histories of 1-5 items, padded on the left
        rows[i, : i % 5] = -1
    return torch.from_numpy(rows)


def one_query(x, b, n):
    """Query b's row of an encoder output, n times."""
    return None if x is None else x[b : b + 1].expand(n, *x.shape[1:])


def reference_step(model, inputs, beam):
    """Decoding straight from the training-time scores: the whole prefix, every beam its own memory."""
    memory, pad, query = model.encode(inputs)
    memory, query = memory.repeat_interleave(beam, 0), query.repeat_interleave(beam, 0)
    pad = pad.repeat_interleave(beam, 0) if pad is not None else None
    return lambda prefix, reorder: model.scores(memory, pad, query, prefix)[:, -1]


@pytest.mark.parametrize("kind", ["text", "history"])
@pytest.mark.parametrize("constrained", [True, False])
def test_cached_step_matches_full_prefix_scores_along_a_beam_search(kind, constrained):
    table = random_table(0, n_items=80, sizes=(6, 5, 4))
    vocab = SIDVocab(0, tuple(table.codebook_sizes))
    model = random_model(kind, vocab, 1, n_items=30)
    inputs = random_inputs(kind, 4, 30, np.random.default_rng(0))
    trie, beam = TrieTensors.from_trie(SIDTrie.from_table(table)), 7
    fast, slow = sid_step_fn(model, inputs, beam), reference_step(model, inputs, beam)
    seen = []

    def both(prefix, reorder):
        got, want = fast(prefix, reorder), slow(prefix, reorder)
        if prefix.shape[1] == 0:  # the first step: one row per query (every beam's prefix is empty)
            assert got.shape[0] == 4
            want = want[::beam]
        assert torch.equal(torch.isinf(got), torch.isinf(want))
        torch.testing.assert_close(got[torch.isfinite(want)], want[torch.isfinite(want)], atol=1e-5, rtol=1e-5)
        seen.append(prefix.shape[1])
        return got

    res = beam_search(both, 4, vocab, trie, beam, constrained)
    assert seen == [0, 1, 2, 3]  # every step compared, reorders included
    want = beam_search(slow, 4, vocab, trie, beam, constrained)
    np.testing.assert_array_equal(res.sids, want.sids)
    np.testing.assert_allclose(res.scores, want.scores, atol=1e-5)


@pytest.mark.parametrize("kind", ["text", "history"])
def test_wide_beam_gives_every_sid_its_teacher_forced_score(kind):
    """Brute force: score every SID of the catalogue (its tokens and EOS) by the training-time forward pass."""
    table = random_table(3, n_items=40, sizes=(5, 4, 3))
    vocab = SIDVocab(0, tuple(table.codebook_sizes))
    model = random_model(kind, vocab, 2, n_items=15)
    inputs = random_inputs(kind, 3, 15, np.random.default_rng(1))
    n_sids = table.n_sids
    res = beam_search(
        sid_step_fn(model, inputs, n_sids), 3, vocab, TrieTensors.from_trie(SIDTrie.from_table(table)), n_sids
    )
    seqs = vocab.tokens(table.sid_code_matrix())
    width = max(len(s) for s in seqs)
    targets = torch.tensor([s + [0] * (width - len(s)) for s in seqs])
    with torch.no_grad():
        memory, pad, query = model.encode(inputs)
        for b in range(3):
            logp = model.scores(*(one_query(x, b, n_sids) for x in (memory, pad, query)), targets[:, :-1])
            picked = logp.gather(2, targets[:, :, None])[:, :, 0]
            exact = torch.where(torch.arange(width)[None] < torch.tensor([len(s) for s in seqs])[:, None], picked, 0)
            exact_scores = exact.sum(1).numpy()
            assert sorted(res.sids[b].tolist()) == list(range(n_sids))
            np.testing.assert_allclose(res.scores[b], exact_scores[res.sids[b]], atol=1e-4)
            assert (np.diff(res.scores[b]) <= 1e-6).all()


def test_expand_collects_items_sid_by_sid_until_k():
    table = random_table(5, n_items=50, sizes=(3, 3, 2))  # many items share a SID
    vocab = SIDVocab(0, tuple(table.codebook_sizes))
    model = random_model("text", vocab, 0)
    retriever = Retriever(MiniLMBackbone(model, table), table)
    res = retriever.generate(list(np.random.default_rng(2).normal(size=(3, DIM)).astype(np.float32)), beam=6)
    res.sids[1, 2] = -1  # a hallucinated SID among the valid ones is skipped
    sid_lists = table.sid_code_matrix().to_lists()
    for k in (1, 4, 9, 1000):
        for b, got in enumerate(retriever.expand(res, k)):
            want = [
                (str(table.item_ids[int(r)]), float(score), sid_lists[sid])
                for sid, score in zip(res.sids[b], res.scores[b], strict=True)
                if sid >= 0
                for r in table.items_of_sid(int(sid))
            ][:k]
            assert list(zip(got.item_ids, got.scores, got.sids, strict=True)) == want
            assert got.n_sids_generated == int(np.isfinite(res.scores[b]).sum())
