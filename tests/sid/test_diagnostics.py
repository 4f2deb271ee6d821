import json

import numpy as np
import pytest

from semid.sid.diagnostics import compute_diagnostics, entropy_bits, gini, transition_matrix
from semid.sid.report import plot_lengths, render_report
from semid.tokenize import Codes


def test_gini_and_entropy_hand_values():
    assert gini(np.array([1, 1, 1, 1])) == 0.0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
    assert gini(np.array([1, 3])) == pytest.approx(0.25)  # (2*1-3)*1 + (2*2-3)*3 = 2; 2 / (2*4)
    assert entropy_bits(np.array([1, 1, 1, 1])) == pytest.approx(2.0)
    assert entropy_bits(np.array([2, 0, 0, 0])) == 0.0


def hand_codes():
    # 6 items, 2 layers of size 4: SIDs (0,1) x3, (0,2), (1,) [short], (2,1)
    return Codes.from_lists([[0, 1], [0, 1], [0, 1], [0, 2], [1], [2, 1]], n_layers=2)


def test_diagnostics_on_hand_computed_case():
    is_head = np.array([True, True, False, False, False, False])
    d = compute_diagnostics(hand_codes(), [4, 4], is_head)
    assert d["n_items"] == 6 and d["n_sids"] == 4
    assert d["collision_rate"] == pytest.approx(1 - 4 / 6)
    assert d["colliding_item_share"] == pytest.approx(3 / 6)
    ips = d["items_per_sid"]
    assert ips["mean"] == pytest.approx(1.5) and ips["max"] == 3
    assert ips["p80"] == pytest.approx(np.quantile([1, 1, 1, 3], 0.8))
    l1, l2 = d["layers"]
    assert l1["n_items"] == 6 and l1["utilization"] == 0.75 and l1["top1_share"] == pytest.approx(4 / 6)
    assert l2["n_items"] == 5 and l2["utilization"] == 0.5  # tokens 1 and 2 used, by items that have layer 2
    assert l1["n_prefixes"] == 3 and l1["path_sparsity"] == pytest.approx(3 / 4)
    assert l2["n_prefixes"] == 3 and l2["path_sparsity"] == pytest.approx(3 / 16)
    # layer1 -> layer2 pairs: (0,1), (0,2), (2,1): fan-out of 0 is 2, of 2 is 1; fan-in of 1 is 2, of 2 is 1
    assert l1["fan_out_mean"] == 1.5 and l1["fan_out_max"] == 2 and l1["fan_in_mean"] == 1.5
    assert d["length"]["mean"] == pytest.approx(11 / 6)
    assert d["length"]["head"]["mean"] == 2.0 and d["length"]["tail"]["mean"] == pytest.approx(7 / 4)
    assert d["length"]["tail"]["histogram"] == {"1": 1, "2": 3}
    # Table 2's columns by part: head items (0,1) x2 share one SID; the tail's (0,1), (0,2), (1,), (2,1) are apart
    head, tail = d["sids_by_part"]["head"], d["sids_by_part"]["tail"]
    assert (head["n_items"], head["n_sids"], head["items_per_sid"]["max"]) == (2, 1, 2)
    ips = tail["items_per_sid"]
    assert (tail["n_items"], tail["n_sids"], ips["mean"], ips["p999"], ips["max"]) == (4, 4, 1, 1, 1)
    json.dumps(d)  # JSON-ready


def test_transition_matrix():
    m = transition_matrix(hand_codes(), 0, [4, 4])
    assert m[0, 1] == 3 and m[0, 2] == 1 and m[2, 1] == 1 and m.sum() == 5


def test_report_embeds_four_plots_and_says_na_for_no_head_items():
    codes = hand_codes()
    d = compute_diagnostics(codes, [4, 4], np.zeros(6, dtype=bool))  # all tail
    assert d["length"]["head"] == {"mean": None, "n_items": 0, "histogram": {"1": 0, "2": 0}}
    html = render_report(codes, d)
    assert html.count("data:image/png;base64,") == 4
    assert "collision rate 33.33%" in html
    assert "mean code length 1.83 (head n/a: no head items, tail 1.83)" in html
    assert d["sids_by_part"]["head"] == {"n_items": 0, "n_sids": 0, "items_per_sid": None}
    # the Table 2 rows: all items, head (none: n/a), tail
    assert "<td>head</td><td>0</td><td>0</td><td>n/a</td>" in html
    assert "<td>tail</td><td>6</td><td>4</td><td>1.8</td><td>2.4</td><td>2.9</td><td>3.0</td><td>1.500</td>" in html
    legend = [t.get_text() for t in plot_lengths(d).axes[0].get_legend().get_texts()]
    assert legend == ["head: no items", "tail (mean 1.83)"]
