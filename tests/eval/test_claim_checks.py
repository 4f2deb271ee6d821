"""The papers' claims on bench results: the verdict rule, the paired CI, methods not run, the table."""

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from semid.eval.bench import BenchResults
from semid.eval.bench.claim_checks import (
    check_claim,
    check_claims,
    claims_table,
    dataset_notes,
    tokenizer_notes,
    verdict,
)
from semid.eval.bench.claims import CLAIMS, Claim, PaperFigure
from semid.eval.bench.config import SPLIT_NAMES, generative_spec

RESULTS = Path(__file__).parents[2] / "benchmarks" / "results"
DATA = {"n_items": 5000, "n_cold_items": 10, "n_test_queries": 100, "n_test": {"head": 50, "tail": 40, "cold": 10}}
T_2DF = 4.303  # Student t, 97.5%, 2 degrees of freedom
R2K = Claim("A beats B", "sarq", "tiger", "all", "recall@2000", "higher", "difference", PaperFigure("P", 0.7, 0.6))
RET_PER = replace(R2K, metric="ret_per", effect="ratio", paper=PaperFigure("P", 900, 500))


def bench(**methods: list[float]) -> BenchResults:
    """A bench whose methods have these values of R2K's metric (and Ret-Per 100x it), one per seed."""
    runs = {
        name: {
            f"seed{i}": {"splits": {"all": {"recall@2000": v, "ret_per": 100 * v}, "head": {"recall@2000": math.nan}}}
            for i, v in enumerate(values)
        }
        for name, values in methods.items()
    }
    return BenchResults("toy", DATA, runs)


@pytest.mark.parametrize(
    ("expect", "ci", "null", "want"),
    [
        ("higher", (0.01, 0.05), 0.0, "reproduced"),
        ("higher", (-0.05, -0.01), 0.0, "not reproduced"),  # the opposite
        ("higher", (-0.02, 0.0), 0.0, "not reproduced"),  # no value on the paper's side
        ("higher", (-0.01, 0.02), 0.0, "inconclusive"),
        ("lower", (-0.05, -0.01), 0.0, "reproduced"),
        ("lower", (0.0, 0.03), 0.0, "not reproduced"),
        ("lower", (-0.05, 0.01), 0.0, "inconclusive"),
        ("higher", (1.1, 1.5), 1.0, "reproduced"),  # a ratio
        ("higher", (0.5, 0.9), 1.0, "not reproduced"),
        ("higher", (0.9, 1.1), 1.0, "inconclusive"),
        ("higher", None, 0.0, "inconclusive"),  # one seed: no CI
    ],
)
def test_the_verdict_rule_on_direction_claims(expect, ci, null, want):
    assert verdict(expect, ci, null)[0] == want


@pytest.mark.parametrize(
    ("ci", "want"),
    [
        ((-0.005, 0.02), "reproduced"),
        ((-0.008, -0.001), "reproduced"),  # lower, but within the margin
        ((-0.05, -0.02), "not reproduced"),
        ((-0.03, -0.001), "not reproduced"),  # surely lower, and maybe by more than the margin
        ((-0.03, 0.01), "inconclusive"),
    ],
)
def test_not_lower_allows_a_loss_within_the_margin(ci, want):
    assert verdict("not_lower", ci, 0.0, margin=0.01)[0] == want


def test_the_ci_is_the_t_interval_of_the_paired_differences():
    check = check_claim(R2K, bench(sarq=[0.3, 0.5, 0.7], tiger=[0.2, 0.3, 0.4]))  # differences 0.1, 0.2, 0.3
    half = T_2DF * 0.1 / math.sqrt(3)
    assert check.effect == pytest.approx(0.2) and check.seeds == 3
    assert check.ci == pytest.approx((0.2 - half, 0.2 + half))  # (-0.048, 0.448): straddles 0
    assert check.verdict == "inconclusive" and "no effect" in check.reason
    assert (check.method_mean, check.baseline_mean) == pytest.approx((0.5, 0.3))
    steady = check_claim(R2K, bench(sarq=[0.3, 0.41, 0.52], tiger=[0.2, 0.3, 0.4]))  # 0.10, 0.11, 0.12
    assert steady.verdict == "reproduced" and steady.ci[0] > 0
    worse = check_claim(R2K, bench(sarq=[0.1, 0.19, 0.28], tiger=[0.2, 0.3, 0.4]))
    assert worse.verdict == "not reproduced" and worse.ci[1] < 0


def test_ret_per_is_a_paired_ratio_and_seeds_pair_by_index():
    check = check_claim(RET_PER, bench(sarq=[1.0, 1.1, 1.2], tiger=[0.5, 0.5, 0.5]))  # ratios 2.0, 2.2, 2.4
    assert check.effect == pytest.approx(2.2)
    assert check.ci == pytest.approx((2.2 - T_2DF * 0.2 / math.sqrt(3), 2.2 + T_2DF * 0.2 / math.sqrt(3)))
    assert check.verdict == "reproduced"
    results = bench(sarq=[0.9, 0.5, 0.6], tiger=[0.1, 0.4, 0.4])
    del results.methods["tiger"]["seed0"]  # only seeds 1 and 2 pair: differences 0.1 and 0.2
    check = check_claim(R2K, results)
    assert check.seeds == 2 and check.effect == pytest.approx(0.15)
    assert check.ci[1] - check.effect == pytest.approx(12.706 * math.sqrt(0.005) / math.sqrt(2))


def test_methods_not_run_failed_or_with_one_seed_are_inconclusive_not_a_crash():
    assert check_claim(R2K, bench(sarq=[0.3, 0.4])).reason == "tiger not run"
    failed = bench(sarq=[0.3, 0.4])
    failed.failed = {"tiger": {"seed0": "DataError: no head items"}}
    assert check_claim(R2K, failed).reason == "tiger failed (DataError: no head items)"
    one = check_claim(R2K, bench(sarq=[0.5], tiger=[0.2]))
    assert one.verdict == "inconclusive" and one.ci is None and one.effect == pytest.approx(0.3)
    head = check_claim(replace(R2K, split="head"), bench(sarq=[0.3, 0.4], tiger=[0.2, 0.3]))
    assert head.verdict == "inconclusive" and head.reason == "no head R@2000 for sarq, tiger"  # NaN: no queries


def test_exact_ranking_reads_the_exact_rows_for_recall_only():
    results = bench(sarq=[0.3, 0.4], tiger=[0.2, 0.3], **{"sarq+exact": [0.9, 0.9]})
    assert check_claim(R2K, results).effect == pytest.approx(0.1)
    assert check_claim(R2K, results, "exact").reason == "tiger+exact not run"
    results.methods["tiger+exact"] = results.methods["tiger"]
    assert check_claim(R2K, results, "exact").effect == pytest.approx(0.65)
    assert check_claim(RET_PER, bench(sarq=[2, 2], tiger=[1, 1]), "exact").effect == pytest.approx(2.0)


def test_the_table_has_a_row_per_claim_and_a_column_per_dataset():
    checks = check_claims({"toy": bench(sarq=[0.3, 0.41, 0.52], tiger=[0.2, 0.3, 0.4]), "empty": bench()})
    table = claims_table(checks)
    rows = [line.split(" | ") for line in table.splitlines()]
    assert len(rows) == 2 + len(CLAIMS) and rows[0][-2:] == ["toy", "empty |"]
    assert all(len(row) == len(rows[0]) for row in rows[2:])
    sarq = next(row for row in rows[2:] if row[1] == "sarq vs tiger, Ret-Per")
    assert "**reproduced**" in sarq[-2] and "**inconclusive**: sarq not run; tiger not run" in sarq[-1]
    own = claims_table(check_claims({"toy": bench(sarq=[0.3, 0.41, 0.52], tiger=[0.2, 0.3, 0.4])}, [R2K]), [R2K])
    assert "+0.1100 [+0.0852, +0.1348]<br>0.4100 vs 0.3000, 3 seeds<br>**reproduced** |" in own
    assert "0.7000 vs 0.6000 (+0.1000)<br>P |" in own  # the paper's +0.1 lies inside our CI: no size remark
    big = replace(R2K, paper=PaperFigure("P", 0.9, 0.6))
    assert "paper's +0.3000 above our CI" in claims_table(
        check_claims({"toy": bench(sarq=[0.3, 0.41, 0.52], tiger=[0.2, 0.3, 0.4])}, [big]), [big]
    )
    assert "**inconclusive**: tiger not run" in claims_table(check_claims({"x": bench(sarq=[1])}, [R2K]), [R2K])


def test_every_claim_names_bench_methods_and_the_papers_numbers_point_its_way():
    for claim in CLAIMS:
        assert generative_spec(claim.method) is not None and generative_spec(claim.baseline) is not None
        assert claim.split is None or claim.split in SPLIT_NAMES
        effect = claim.paper_effect()
        if effect is not None:  # the paper's own figure satisfies the claim under our rule's direction
            null = 1.0 if claim.effect == "ratio" else 0.0
            assert verdict(claim.expect, (effect, effect), null, claim.margin)[0] == "reproduced"
    metrics = {(c.split, c.metric) for c in CLAIMS}  # each is a key a real bench run holds
    run = BenchResults.load(RESULTS / "bench" / "movielens").methods["sa2crq_m10"]["seed0"]
    assert all((run if split is None else run["splits"][split]).get(metric) is not None for split, metric in metrics)


def test_notes_say_where_recall_at_k_is_the_whole_catalogue_and_splits_are_thin():
    small = bench(sarq=[0.3])
    small.data = {**DATA, "n_items": 1500, "n_test": {"head": 12, "tail": 40, "cold": 10}}
    notes = " ".join(dataset_notes("toy", small, "/x"))
    assert "R@2000 is 133.33% of the catalogue" in notes and "K >= the catalogue's 1,500 items" in notes
    assert "fewer than 30 head test queries" in notes
    assert "K >=" not in " ".join(dataset_notes("toy", bench(sarq=[0.3]), "/x"))


def test_tokenizer_notes_list_code_lengths_by_budget():
    payload = json.loads((RESULTS / "tokenizers_movielens.json").read_text())
    notes = tokenizer_notes("movielens", payload)
    assert [n.split(": ")[1].split(" min_items")[0] for n in notes] == ["sarq", "sa2crq"]
    plain = [r for r in payload["rows"] if set(r["options"]) - {"min_items", "tail_depth"} == set()]
    rows = {
        (r["method"], r["options"].get("min_items")): r
        for r in plain
        if r["options"].get("tail_depth") != "head_tables"
    }
    want = " → ".join(f"{rows[('sa2crq', m)]['length_tail']:.2f}" for m in (3, 5, 10))
    assert f"tail {want};" in notes[1]  # catalogue tail rule only: the literal-rule row is left out
    assert tokenizer_notes("x", {"rows": []}) == []
