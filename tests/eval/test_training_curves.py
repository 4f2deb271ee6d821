"""Time to quality in a bench's results: valid R@10 per epoch against training minutes, as results.md's
table and the report's figure (hand-made results, no training)."""

import copy

import pytest

from semid.eval.bench import BenchResults
from semid.eval.bench.report import plot_recall_curves, plot_time_to_quality
from semid.eval.bench.training_curves import epoch_table, mean_curve, timed_curves, training_curves

DATA = {"n_items": 100, "n_cold_items": 10, "n_test_queries": 40, "n_test": {"head": 10, "tail": 20, "cold": 10}}


def run(recall: list[float], seconds: list[float]) -> dict:
    splits = {part: {"recall@10": 0.1, "recall@100": 0.3} for part in ("all", "head", "tail", "cold")}
    return {"splits": splits, "valid_recall@10": recall, "epoch_seconds": seconds}


def results() -> dict:
    """Two generative methods with two seeds each (rq_kmeans's stopped at different epochs), a baseline with
    no epochs, and a +exact row carrying its run's epochs (it must add no line and no row)."""
    rq = {"seed0": run([0.1, 0.3, 0.2], [60, 60, 60]), "seed1": run([0.2, 0.4], [30, 90])}
    methods = {
        "bm25": {"seed0": {"splits": run([], [])["splits"]}},
        "rq_kmeans": rq,
        "rq_kmeans+exact": copy.deepcopy(rq),
        "sarq": {"seed0": run([0.1, 0.1], [120, 120]), "seed1": run([0.15, 0.1], [120, 120])},
    }
    return {"dataset": "toy", "data": DATA, "methods": methods}


def without_epoch_times(res: dict) -> dict:
    """As a bench written before epoch_seconds was kept: per-epoch recalls only."""
    for seeds in res["methods"].values():
        for r in seeds.values():
            r["epoch_seconds"] = []
    return res


def test_curves_skip_baselines_and_exact_copies_and_keep_the_best_epoch_as_training_does():
    curves = training_curves(results()["methods"])
    assert list(curves) == ["rq_kmeans", "sarq"]
    assert [c.minutes for c in curves["rq_kmeans"]] == [[1.0, 2.0, 3.0], [0.5, 2.0]]  # cumulative
    assert [c.best_epoch for c in curves["rq_kmeans"]] == [2, 2]
    assert [c.best_epoch for c in curves["sarq"]] == [2, 1]  # a tie goes to the later epoch


def test_the_mean_curve_stops_where_the_shortest_run_stopped():
    minutes, recall = mean_curve(timed_curves(results()["methods"])["rq_kmeans"])
    assert minutes == pytest.approx([0.75, 2.0]) and recall == pytest.approx([0.15, 0.35])


def test_figure_has_a_mean_line_per_method_its_seeds_faint_and_the_legend_outside():
    res = results()
    fig = plot_time_to_quality(res)
    assert fig is not None
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["rq_kmeans (2 seeds)", "sarq (2 seeds)"]
    faint = [line for line in ax.lines if line.get_alpha() == 0.25]
    mean = [line for line in ax.lines if line.get_label() in labels]
    assert len(faint) == 4 and len(mean) == 2 and len(ax.lines) == 6
    assert list(mean[0].get_xdata()) == pytest.approx([0.75, 2.0])
    assert list(faint[0].get_xdata()) == [1.0, 2.0, 3.0]  # each seed drawn to its own last epoch
    assert [len(line.get_xdata()) for line in faint] == [3, 2, 2, 2]  # one marker per epoch
    recall_colours = {line.get_label(): line.get_color() for line in plot_recall_curves(res).axes[0].lines}
    assert mean[0].get_color() == faint[0].get_color() == recall_colours["rq_kmeans"]  # same colour as elsewhere
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1


def test_no_figure_for_baselines_only_or_runs_without_epoch_times():
    res = results()
    baselines = {**res, "methods": {"bm25": res["methods"]["bm25"]}}
    assert plot_time_to_quality(baselines) is None and epoch_table(baselines["methods"]) == []
    old = without_epoch_times(results())
    assert plot_time_to_quality(old) is None and timed_curves(old["methods"]) == {}
    rows = [line for line in epoch_table(old["methods"]) if line.startswith("| rq_kmeans |")]
    assert rows == ["| rq_kmeans | 2 | 3, 2 | 2 | 0.3500 ± 0.6353 | – | – |"]  # epochs known, minutes not


def test_results_md_sums_each_method_up_under_the_main_table():
    md = BenchResults.from_dict(results()).to_markdown()
    main, section = md.split("## Training per epoch")
    assert "| rq_kmeans |" in main and "| bm25 |" in main
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0] == "| method | seeds | epochs | best epoch | best valid R@10 | minutes to best | minutes |"
    assert rows[1:] == [
        "| rq_kmeans | 2 | 3, 2 | 2 | 0.3500 ± 0.6353 | 2.00 | 2.50 |",
        "| sarq | 2 | 2 | 2, 1 | 0.1250 ± 0.3176 | 3.00 | 4.00 |",
    ]


@pytest.mark.parametrize(("res", "figures"), [(results(), 3), (without_epoch_times(results()), 2)])
def test_the_report_shows_the_figure_when_epoch_times_were_kept(res, figures):
    page = BenchResults.from_dict(res).to_html()  # recall@K, head/tail/cold (no code lengths in these runs)
    assert page.count("src='data:image/png;base64,") == figures
    assert ("Time to quality" in page) == (figures == 3)
    assert "<th>best valid R@10</th>" in page  # the table either way
