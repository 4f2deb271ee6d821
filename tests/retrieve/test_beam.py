import itertools

import numpy as np
import pytest
import torch

from semid.retrieve import SIDVocab, TrieTensors, beam_search
from semid.sid import SIDTable
from semid.sid.trie import SIDTrie
from semid.tokenize import Codes


def random_table(seed, n_items=60, sizes=(4, 3, 3)):
    """Random variable-length SIDs with shared prefixes (short SIDs may prefix longer ones)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_items):
        length = int(rng.integers(1, len(sizes) + 1))
        rows.append([int(rng.integers(0, sizes[layer])) for layer in range(length)])
    codes = Codes.from_lists(rows, n_layers=len(sizes))
    return SIDTable.build([f"i{k}" for k in range(n_items)], codes, list(sizes))


class ToyModel:
    """Log-probabilities that depend on the whole prefix, deterministically (a fixed random function)."""

    def __init__(self, vocab_size, seed=0):
        self.vocab_size, self.seed = vocab_size, seed

    def logprobs(self, prefix):
        h = hash((self.seed, *prefix)) % (2**32)
        logits = np.random.default_rng(h).normal(scale=3.0, size=self.vocab_size)
        return logits - np.log(np.exp(logits).sum())

    def step(self, prefix, reorder=None):
        rows = [self.logprobs(tuple(int(t) for t in p)) for p in prefix]
        return torch.tensor(np.stack(rows), dtype=torch.float32)


def brute_force(table, vocab, model):
    """Exact score of every SID: summed log-probs of its tokens and EOS."""
    out = {}
    for sid, toks in enumerate(vocab.tokens(table.sid_code_matrix())):
        out[sid] = sum(model.logprobs(tuple(toks[:i]))[tok] for i, tok in enumerate(toks))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_every_constrained_output_is_a_real_sid(seed):
    table = random_table(seed)
    vocab = SIDVocab(base=5, codebook_sizes=tuple(table.codebook_sizes))
    trie = TrieTensors.from_trie(SIDTrie.from_table(table))
    model = ToyModel(vocab.size, seed)
    res = beam_search(model.step, 3, vocab, trie, beam_size=8)
    found = res.sids[np.isfinite(res.scores)]
    assert (found >= 0).all()
    real = set(table.sid_code_matrix().to_lists())
    for b, w in itertools.product(range(3), range(8)):
        if np.isfinite(res.scores[b, w]):
            code = tuple(int(c) for c in res.codes[b, w, : res.lengths[b, w]])
            assert code in real
            assert table.sid_code_matrix().to_lists()[res.sids[b, w]] == code


@pytest.mark.parametrize("seed", range(4))
def test_wide_beam_returns_all_sids_with_exact_scores(seed):
    table = random_table(seed, n_items=25)
    vocab = SIDVocab(base=3, codebook_sizes=tuple(table.codebook_sizes))
    trie = TrieTensors.from_trie(SIDTrie.from_table(table))
    model = ToyModel(vocab.size, seed)
    res = beam_search(model.step, 1, vocab, trie, beam_size=table.n_sids + 3)
    exact = brute_force(table, vocab, model)
    got = {int(s): float(sc) for s, sc in zip(res.sids[0], res.scores[0], strict=True) if s >= 0}
    assert set(got) == set(range(table.n_sids))
    for sid, score in exact.items():
        assert got[sid] == pytest.approx(score, abs=1e-4)
    assert (np.diff(res.scores[0][: table.n_sids]) <= 1e-6).all()  # best first


def test_unconstrained_mode_can_hallucinate_and_reports_it():
    table = random_table(0, n_items=6)
    vocab = SIDVocab(base=3, codebook_sizes=tuple(table.codebook_sizes))
    trie = TrieTensors.from_trie(SIDTrie.from_table(table))
    res = beam_search(ToyModel(vocab.size, 1).step, 4, vocab, trie, beam_size=16, constrained=False)
    valid = np.isfinite(res.scores)
    assert valid.all()  # unconstrained beams always find sequences
    real = table.sid_code_matrix().to_lists()
    for b, w in itertools.product(range(4), range(16)):
        code = tuple(int(c) for c in res.codes[b, w, : res.lengths[b, w]])
        assert (res.sids[b, w] >= 0) == (code in real)
    assert (res.sids < 0).any()  # 6 SIDs among 4*3*3 paths: most free generations match nothing


@pytest.mark.parametrize("seed", range(3))
def test_children_table_agrees_with_edge_search(seed):
    table = random_table(seed, n_items=40, sizes=(5, 4, 6))
    trie = SIDTrie.from_table(table)
    tensors = TrieTensors.from_trie(trie)
    for depth, width in enumerate(table.codebook_sizes):
        nodes = torch.from_numpy(np.append(np.flatnonzero(trie.node_depth == depth), -1))
        _, want = tensors.lookup(nodes[:, None], torch.arange(width)[None, :])
        assert torch.equal(tensors.children(nodes, width), want)
