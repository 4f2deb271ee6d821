"""SA²CRQ depth budgets in a bench: sa2crq_m<N> as a method, the sweep's rows, table and figure (no training)."""

import pytest
from matplotlib.figure import Figure

from semid.errors import DataError
from semid.eval.bench import BenchConfig, BenchResults
from semid.eval.bench.config import ALL_METHODS, generative_spec, is_generative, needs_head
from semid.eval.bench.depth_budgets import budget_rows, budget_table, plot_budget_sweep, sa2crq_budgets

DATA = {"n_items": 100, "n_cold_items": 10, "n_test_queries": 40, "n_test": {"head": 0, "tail": 30, "cold": 10}}


def run(min_items: int, tail_r10: float, tail_r100: float) -> dict:
    """One seed's result: no head test queries (NaN, as evaluate gives an empty group)."""
    nan = float("nan")
    splits = {
        "all": {"recall@10": tail_r10, "recall@100": tail_r100, "ret_per": 10.0 * min_items, "hallucination": 0.1},
        "head": {"recall@10": nan, "recall@100": nan},
        "tail": {"recall@10": tail_r10, "recall@100": tail_r100},
    }
    return {
        "splits": splits,
        "tau": (min_items - 0.5) / 90,
        "n_sids": 90 // min_items,
        "code_length_head": 3.0,
        "code_length_tail": 3.0 - min_items / 10,
        "code_lengths": [0, 5, 5, 80],
    }


def results(budgets: list[int]) -> dict:
    methods = {"rq_kmeans": {"seed0": run(1, 0.5, 0.9)}, "sarq": {"seed0": run(5, 0.5, 0.9)}}
    for m in budgets:
        methods[f"sa2crq_m{m}"] = {"seed0": run(m, 0.2, 0.6), "seed1": run(m, 0.4, 0.6)}
        methods[f"sa2crq_m{m}+exact"] = {"seed0": run(m, 0.5, 0.6)}
    return {"dataset": "toy", "data": DATA, "methods": methods}


def test_any_sa2crq_budget_is_a_method_but_all_stays_the_listed_ones():
    assert generative_spec("sa2crq_m20") == ("sa2crq", {"min_items": 20}, False)
    assert generative_spec("sa2crq_m5") == ("sa2crq", {"min_items": 5}, False)
    assert needs_head("sa2crq_m20") and not needs_head("rq_kmeans")
    for bad in ("sa2crq_m0", "sa2crq_m05", "sa2crq_m", "sa2crq_m3+exact", "sarq_m3"):
        assert not is_generative(bad), bad
    assert "sa2crq_m20" not in ALL_METHODS
    BenchConfig(dataset="wordnet", methods=["sa2crq_m2", "sa2crq_m20"]).check()
    with pytest.raises(DataError, match=r"unknown method\(s\) \['sa2crq_m0'\].*sa2crq_m<N>"):
        BenchConfig(dataset="wordnet", methods=["sa2crq_m0"]).check()


def test_rows_are_the_budgets_in_order_with_means_over_seeds():
    res = results([10, 2, 5, 20])
    assert list(sa2crq_budgets(res["methods"])) == ["sa2crq_m2", "sa2crq_m5", "sa2crq_m10", "sa2crq_m20"]
    rows = budget_rows(res)
    assert [r["min_items"] for r in rows] == [2, 5, 10, 20]
    first = rows[0]
    assert first["seeds"] == 2 and first["tau"] == pytest.approx(1.5 / 90) and first["n_sids"] == 45
    assert first["length_tail"] == pytest.approx(2.8) and first["ret_per"] == 20.0
    mean, ci = first["recall"]["tail R@10"]
    assert mean == pytest.approx(0.3) and ci > 0  # two seeds that disagree
    assert first["recall"]["tail R@100"] == [pytest.approx(0.6), 0.0]
    assert first["recall"]["head R@10"] is None  # no head queries: nothing, not 0
    assert first["exact_recall"]["tail R@10"] == [0.5, 0.0]  # the +exact row of the same budget


def test_table_has_a_line_per_budget_and_na_for_no_queries():
    rows = budget_rows(results([3, 5, 10]))
    lines = budget_table(rows).splitlines()
    assert len(lines) == 2 + 3
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:3] == ["min_items", "tau", "seeds"] and "exact tail R@10" in header
    first = [c.strip() for c in lines[2].strip("|").split("|")]
    assert first[0] == "3" and first[header.index("tail R@10")].startswith("0.3000 ± ")
    assert first[header.index("head R@100")] == "n/a" and first[header.index("exact tail R@10")] == "0.5000"
    without_exact = [{k: v for k, v in r.items() if k != "exact_recall"} for r in rows]
    assert "exact" not in budget_table(without_exact)


def test_figure_has_four_panels_and_one_legend_outside(tmp_path):
    rows = budget_rows(results([2, 3, 5, 10]))
    fig = plot_budget_sweep(rows, "toy")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 5  # four panels + the code-length axis twinned with #SIDs
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "#SIDs (left axis)" in labels and "tail test targets, exact rank (item vectors)" in labels
    assert not any(label.startswith("head test targets") for label in labels)  # no head queries: no head line
    assert fig.axes[2].get_xticklabels()[0].get_text() == f"2\n{1.5 / 90:.1e}"  # min_items over its tau
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 20_000


@pytest.mark.parametrize(("budgets", "figures"), [([3, 5, 10], 4), ([3, 5], 3)])
def test_bench_report_shows_the_sweep_from_three_budgets(budgets, figures):
    page = BenchResults.from_dict(results(budgets)).to_html()
    assert page.count("src='data:image/png;base64,") == figures
    assert ("SA²CRQ depth budgets" in page) == (figures == 4)
