import numpy as np
import pytest
import pytrec_eval

from semid.eval import (
    evaluate,
    hallucination_rate,
    items_retrieved,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    ret_per,
    retrieval_counts,
)

RUN = [["a", "b", "c", "d"], ["x", "y"], ["p", "p", "q", "r"]]
QRELS = [{"c", "z"}, {"y"}, {"q"}]


def test_recall_hand_computed():
    np.testing.assert_allclose(recall_at_k(RUN, QRELS, 1), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(recall_at_k(RUN, QRELS, 2), [0.0, 1.0, 0.0])
    np.testing.assert_allclose(recall_at_k(RUN, QRELS, 3), [0.5, 1.0, 1.0])  # "p" twice still fills two ranks
    np.testing.assert_allclose(recall_at_k(RUN, QRELS, 1000), [0.5, 1.0, 1.0])  # k beyond the list


def test_mrr_hand_computed():
    np.testing.assert_allclose(mrr_at_k(RUN, QRELS, 10), [1 / 3, 1 / 2, 1 / 3])
    np.testing.assert_allclose(mrr_at_k(RUN, QRELS, 2), [0.0, 0.5, 0.0])


def test_ndcg_hand_computed():
    # q0: "c" at rank 3, two relevant items -> (1/log2 4) / (1 + 1/log2 3); q1: "y" at rank 2 -> 1/log2 3
    np.testing.assert_allclose(ndcg_at_k(RUN, QRELS, 10), [0.5 / (1 + 1 / np.log2(3)), 1 / np.log2(3), 0.5])
    np.testing.assert_allclose(ndcg_at_k(RUN, QRELS, 2), [0.0, 1 / np.log2(3), 0.0])
    np.testing.assert_allclose(ndcg_at_k([["a", "b"]], [{"b", "a"}], 2), [1.0])  # the ideal list
    assert ndcg_at_k([["b", "b", "a"]], [{"b"}], 3).tolist() == [1.0]  # a repeat of a hit gains nothing


def test_duplicates_count_once():
    assert recall_at_k([["a", "a", "a"]], [{"a", "b"}], 3).tolist() == [0.5]
    assert mrr_at_k([["b", "a", "a"]], [{"a"}], 3).tolist() == [0.5]


def test_empty_relevant_set_is_an_error():
    with pytest.raises(ValueError, match="query 1 has no relevant items"):
        recall_at_k([["a"], ["b"]], [{"a"}, set()], 10)
    with pytest.raises(ValueError, match="2 queries"):
        mrr_at_k([["a"], ["b"]], [{"a"}], 10)


def test_ret_per_and_hallucination():
    assert items_retrieved(RUN).tolist() == [4, 2, 3]  # "p" twice is one item
    assert ret_per(RUN) == pytest.approx((4 + 2 + 3) / 3)
    assert hallucination_rate([10, 10], [2, 3]) == 0.25
    with pytest.raises(ValueError):
        hallucination_rate([0], [0])
    with pytest.raises(ValueError):
        hallucination_rate([1], [2])


def test_retrieval_counts_by_group_hand_computed():
    head = np.array([True, False, True])
    none = np.zeros(3, dtype=bool)
    out = retrieval_counts(items_retrieved(RUN), {"head": head, "tail": ~head, "cold": none}, [10, 4, 6], [1, 2, 3])
    assert out["all"] == {"ret_per": pytest.approx(3.0), "hallucination": pytest.approx(6 / 20)}
    assert out["head"] == {"ret_per": pytest.approx(3.5), "hallucination": pytest.approx(4 / 16)}  # pooled, not 0.3
    assert out["tail"] == {"ret_per": 2.0, "hallucination": 0.5}
    assert np.isnan(out["cold"]["ret_per"]) and np.isnan(out["cold"]["hallucination"])
    assert retrieval_counts(np.array([5, 7]))["all"] == {"ret_per": 6.0}  # a baseline: no unconstrained decoding
    with pytest.raises(ValueError, match="one count per query"):
        retrieval_counts(np.array([5, 7]), None, [1, 2], None)
    with pytest.raises(ValueError, match="mask has shape"):
        retrieval_counts(np.array([5, 7]), {"head": head})


def test_evaluate_splits_by_group():
    head = np.array([True, False, True])
    out = evaluate(QRELS, RUN, ["recall@3", "mrr@10"], {"head": head, "tail": ~head})
    assert out["all"]["recall@3"] == pytest.approx(2.5 / 3)
    assert out["head"]["recall@3"] == pytest.approx(0.75) and out["head"]["n_queries"] == 2
    assert out["tail"]["mrr@10"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(QRELS, RUN, ["map@10"])
    assert evaluate(QRELS, RUN, ["ndcg@2"])["all"]["ndcg@2"] == pytest.approx(1 / np.log2(3) / 3)


def test_agrees_with_trec_eval_on_random_runs():
    rng = np.random.default_rng(0)
    items = [f"i{j}" for j in range(60)]
    run, qrels = [], []
    for _ in range(40):
        run.append(list(rng.choice(items, size=int(rng.integers(1, 40)), replace=False)))
        qrels.append(set(rng.choice(items, size=int(rng.integers(1, 6)), replace=False)))
    for k in (1, 10, 100):
        ours_recall, ours_mrr, ours_ndcg = recall_at_k(run, qrels, k), mrr_at_k(run, qrels, k), ndcg_at_k(run, qrels, k)
        trec_qrels = {str(q): dict.fromkeys(rel, 1) for q, rel in enumerate(qrels)}
        # trec_eval ranks by score: give the top k ranks decreasing scores (recip_rank is not cut at k)
        trec_run = {str(q): {item: float(len(r) - i) for i, item in enumerate(r[:k])} for q, r in enumerate(run)}
        measures = {f"recall.{k}", "recip_rank", f"ndcg_cut.{k}"}
        result = pytrec_eval.RelevanceEvaluator(trec_qrels, measures).evaluate(trec_run)
        np.testing.assert_allclose(ours_recall, [result[str(q)][f"recall_{k}"] for q in range(len(run))])
        np.testing.assert_allclose(ours_mrr, [result[str(q)]["recip_rank"] for q in range(len(run))])
        np.testing.assert_allclose(ours_ndcg, [result[str(q)][f"ndcg_cut_{k}"] for q in range(len(run))])
