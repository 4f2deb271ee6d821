"""NCI-style pseudo-queries: spans of each item's own text, trained towards its SID."""

import numpy as np
import pytest

from semid.retrieve.pseudo_queries import pseudo_queries


def test_spans_are_runs_of_the_items_own_words_and_seeded():
    texts = ["a red wooden boat on the river", "lamp", "", "old brass lamp"]
    spans, source = pseudo_queries(texts, 3, seed=0)
    assert source.tolist() == [0, 0, 0, 1, 1, 1, 3, 3, 3]  # an empty text gives none
    for span, i in zip(spans, source, strict=True):
        assert span in texts[i] and len(span.split()) == min(len(texts[i].split()), max(2, len(texts[i].split()) // 2))
    assert spans[3:6] == ["lamp"] * 3  # shorter than a span: the whole text
    assert pseudo_queries(texts, 3, seed=0)[0] == spans and pseudo_queries(texts, 3, seed=1)[0] != spans
    assert pseudo_queries(texts, 0, seed=0)[0] == []
    with pytest.raises(ValueError, match=">= 0"):
        pseudo_queries(texts, -1, seed=0)


def test_training_pairs_add_pseudo_queries_towards_each_items_sid():
    from semid.retrieve.build import training_pairs
    from tests.retrieve.helpers import untrained_text_retriever

    ds, retriever = untrained_text_retriever()
    inputs, targets = training_pairs(retriever.backbone, ds, retriever.table, True, None, 0)
    more_inputs, more_targets = training_pairs(retriever.backbone, ds, retriever.table, True, None, 0, 2)
    assert len(more_inputs) == len(more_targets) == len(inputs) + 2 * ds.n_items
    sid_tokens = retriever.vocab.tokens(retriever.table.item_codes())
    rows = retriever.table.lookup(ds.items["item_id"].tolist())
    assert more_targets[len(targets) :] == [sid_tokens[int(r)] for r in np.repeat(rows, 2)]


def test_a_negative_count_is_refused_before_any_work(tmp_path):
    from semid.cli import app
    from semid.eval.bench import BenchConfig
    from tests.helpers import runner

    res = runner.invoke(
        app, ["train", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "--pseudo-queries", "-1"]
    )
    assert res.exit_code == 2 and "--pseudo-queries" in res.output
    res = runner.invoke(app, ["bench", "--out", str(tmp_path / "b"), "--pseudo-queries", "-1"])
    assert res.exit_code == 2 and "--pseudo-queries" in res.output
    with pytest.raises(ValueError, match="pseudo_queries must be >= 0"):
        BenchConfig(pseudo_queries=-1).check()
