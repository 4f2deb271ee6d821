"""The papers' claims (`claims.CLAIMS`) measured on bench results, each with a verdict by one written rule
(`RULE`), and the Markdown table of them: a row per claim, a column per dataset.

Our figure for a claim is the mean over seeds of the per-seed paired difference (a ratio for Ret-Per)
between the two methods, with its Student-t 95% CI (`mean_ci`, the bench tables' own). Seeds pair by
index: seed N of every method shares the dataset split and seeds its tokenizer and retriever with N. The
paired interval is valid even where the two runs share nothing but the index, and narrower where they do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from semid.eval.bench.checks import too_few, whole_catalogue
from semid.eval.bench.claims import CLAIMS, Claim, Effect, Expect
from semid.eval.bench.config import EXACT_SUFFIX
from semid.eval.bench.results import BenchResults, column_label, mean_ci

Verdict = Literal["reproduced", "not reproduced", "inconclusive"]
Ranking = Literal["beam", "exact"]  # exact: the +exact rows (the same beams' items ranked by item vector)
RULE = (
    "Verdict rule: reproduced when the 95% CI lies wholly on the paper's side of no effect (0 for a "
    "difference, 1 for a ratio); not reproduced when it holds no value on the paper's side (no effect, or "
    "the opposite); inconclusive otherwise: the CI straddles no effect, fewer than 2 paired seeds, or a "
    "method not run or failed. 'Keeps head recall' (not lower) is reproduced when the CI's lower end is above "
    "-{margin} (a loss of at most {margin}), not reproduced when the whole CI is below 0 and reaches -{margin}. "
    "Only the direction is tested: an effect far smaller than the paper's still reproduces its direction."
)


@dataclass(frozen=True)
class ClaimCheck:
    claim: Claim
    verdict: Verdict
    reason: str  # why inconclusive (not run, one seed, the CI straddles no effect); "" otherwise
    effect: float | None = None  # mean paired difference or ratio
    ci: tuple[float, float] | None = None  # its 95% CI (None with fewer than 2 paired seeds)
    seeds: int = 0  # paired seeds
    method_mean: float | None = None  # each method's mean over the paired seeds
    baseline_mean: float | None = None


def seed_values(results: BenchResults, method: str, split: str | None, metric: str) -> dict[str, float]:
    """seed -> value of `method`'s runs that have it (a split without test queries has NaN: left out)."""
    out = {}
    for seed, run in results.methods.get(method, {}).items():
        value = run.get(metric) if split is None else run["splits"].get(split, {}).get(metric)
        if isinstance(value, int | float) and not math.isnan(value):
            out[seed] = float(value)
    return out


def paired_effects(method: Mapping[str, float], baseline: Mapping[str, float], effect: Effect) -> list[float]:
    """Per-seed difference (or ratio) on the seeds both have; a ratio over a zero baseline is left out."""
    seeds = sorted(set(method) & set(baseline))
    if effect == "difference":
        return [method[s] - baseline[s] for s in seeds]
    return [method[s] / baseline[s] for s in seeds if baseline[s] != 0]


def verdict(expect: Expect, ci: tuple[float, float] | None, null: float, margin: float = 0.0) -> tuple[Verdict, str]:
    """The rule (`RULE`) on a CI of the effect; `null` is no effect (0 or 1)."""
    if ci is None:
        return "inconclusive", "fewer than 2 paired seeds: no CI"
    lo, hi = ci
    if expect == "higher":
        reproduced, opposite = lo > null, hi <= null
    elif expect == "lower":
        reproduced, opposite = hi < null, lo >= null
    else:  # not_lower: a loss within the margin still keeps the claim
        reproduced, opposite = lo > null - margin, hi < null and lo <= null - margin
    if reproduced:
        return "reproduced", ""
    if opposite:
        return "not reproduced", ""
    return "inconclusive", "the CI includes no effect"


def check_claim(claim: Claim, results: BenchResults, ranking: Ranking = "beam") -> ClaimCheck:
    """`claim` on one bench; a method not run or failed gives an inconclusive check saying so."""
    ranked = ranking == "exact" and claim.metric.startswith(("recall@", "mrr@", "ndcg@"))
    names = [m + EXACT_SUFFIX if ranked else m for m in (claim.method, claim.baseline)]
    missing = [m for m in names if m not in results.methods]
    if missing:
        why = [f"{m} failed ({next(iter(results.failed[m].values()))})" for m in missing if m in results.failed]
        why += [f"{m} not run" for m in missing if m not in results.failed]
        return ClaimCheck(claim, "inconclusive", "; ".join(why))
    method, baseline = (seed_values(results, m, claim.split, claim.metric) for m in names)
    empty = [m for m, values in zip(names, (method, baseline), strict=True) if not values]
    if empty:
        return ClaimCheck(claim, "inconclusive", f"no {_metric_label(claim)} for {', '.join(empty)}")
    effects = paired_effects(method, baseline, claim.effect)
    if not effects:
        return ClaimCheck(claim, "inconclusive", "no seed in common")
    mean, half = mean_ci(effects)
    ci = (mean - half, mean + half) if len(effects) >= 2 else None
    null = 1.0 if claim.effect == "ratio" else 0.0
    outcome, reason = verdict(claim.expect, ci, null, claim.margin)
    seeds = sorted(set(method) & set(baseline))
    return ClaimCheck(
        claim,
        outcome,
        reason,
        mean,
        ci,
        len(effects),
        sum(method[s] for s in seeds) / len(seeds),
        sum(baseline[s] for s in seeds) / len(seeds),
    )


def check_claims(
    benches: Mapping[str, BenchResults], claims: Sequence[Claim] = CLAIMS, ranking: Ranking = "beam"
) -> dict[str, list[ClaimCheck]]:
    """dataset label -> the checks of `claims` on that bench, in the order of `claims`."""
    return {label: [check_claim(c, results, ranking) for c in claims] for label, results in benches.items()}


def _metric_label(claim: Claim) -> str:
    """As the bench table names its columns (R@2000, tail R@2000, Hallu); a value of the run by its key."""
    return claim.metric.replace("_", " ") if claim.split is None else column_label(f"{claim.split}:{claim.metric}")


def _value(claim: Claim, value: float) -> str:
    if claim.metric == "ret_per":
        return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    return f"{value:.2f}" if claim.metric.startswith("code_length") else f"{value:.4f}"


def _effect(claim: Claim, value: float) -> str:
    return f"×{value:.2f}" if claim.effect == "ratio" else f"{value:+.4f}"


def paper_cell(claim: Claim) -> str:
    p, effect = claim.paper, claim.paper_effect()
    text = "no number"
    if p.method is not None and p.baseline is not None and effect is not None:
        text = f"{_value(claim, p.method)} vs {_value(claim, p.baseline)} ({_effect(claim, effect)})"
    return "<br>".join(part for part in (text, p.source, p.note) if part)


def check_cell(check: ClaimCheck) -> str:
    c = check.claim
    lines = []
    if check.effect is not None and check.method_mean is not None and check.baseline_mean is not None:
        interval = f" [{_effect(c, check.ci[0])}, {_effect(c, check.ci[1])}]" if check.ci else ""
        lines.append(f"{_effect(c, check.effect)}{interval}")
        means = f"{_value(c, check.method_mean)} vs {_value(c, check.baseline_mean)}"
        lines.append(f"{means}, {check.seeds} seed{'s' if check.seeds != 1 else ''}")
    lines.append(f"**{check.verdict}**" + (f": {check.reason}" if check.reason else ""))
    paper = c.paper_effect()
    if check.ci is not None and paper is not None and not check.ci[0] <= paper <= check.ci[1]:
        lines.append(f"paper's {_effect(c, paper)} {'above' if paper > check.ci[1] else 'below'} our CI")
    return "<br>".join(line.replace("|", "\\|") for line in lines)


def claims_table(checks: Mapping[str, list[ClaimCheck]], claims: Sequence[Claim] = CLAIMS) -> str:
    """The Markdown table: a row per claim, the paper's figure, and our figure and verdict per dataset."""
    labels = list(checks)
    header = ["claim", "ours: methods, metric", "paper", *labels]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, claim in enumerate(claims):
        ours = f"{claim.method} vs {claim.baseline}, {_metric_label(claim)}"
        cells = [claim.text, ours, paper_cell(claim), *(check_cell(checks[label][i]) for label in labels)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def dataset_notes(label: str, results: BenchResults, source: str, claims: Sequence[Claim] = CLAIMS) -> list[str]:
    """What a reader needs to weigh that bench's column: where it came from, its budget, and the data's
    limits for the metrics the claims use."""
    d, c = results.data, results.config or {}
    seeds = max((len(s) for s in results.methods.values()), default=0)
    notes = [
        f"{label}: `{source}`, {d['n_items']:,} items, {d['n_test_queries']:,} test queries (head "
        f"{d['n_test']['head']}, tail {d['n_test']['tail']}, cold {d['n_test']['cold']}), up to {seeds} seeds, "
        f"{c.get('backbone', 't5')} backbone, {c.get('epochs', '?')} epochs, codebooks {c.get('codebook_sizes', '?')}"
        + (", content + collaborative item vectors" if c.get("collaborative") else "")
        + "."
    ]
    ks = sorted({int(cl.metric.split("@")[1]) for cl in claims if cl.metric.startswith("recall@")})
    share = ", ".join(f"R@{k} is {k / d['n_items']:.2%}" for k in ks)
    notes.append(f"{label}: {share} of the catalogue (the paper's R@2k: 0.04% of 5M items).")
    if any(whole_catalogue(k, d) for k in ks):
        notes.append(f"{label}: K >= the catalogue's {d['n_items']:,} items for some K: those recalls are weak.")
    few = sorted({cl.split for cl in claims if cl.split not in (None, "all") and too_few(cl.split, d)})
    if few:
        notes.append(f"{label}: fewer than 30 {'/'.join(few)} test queries: too few to read.")
    taus = {m: r.get("tau") for m in {cl.method for cl in claims} for r in results.methods.get(m, {}).values()}
    notes += [f"{label}: {m} resolved to tau {t:.2e}." for m, t in sorted(taus.items()) if isinstance(t, float)]
    return notes


def tokenizer_notes(label: str, payload: Mapping[str, Any]) -> list[str]:
    """Code lengths per depth budget from a tokenizer benchmark (benchmarks/results/tokenizers_*.json): one
    fit per budget, so no CI; beside the budget rows of the table."""
    notes = []
    for method in ("sarq", "sa2crq"):
        rows = [
            r
            for r in payload.get("rows", [])
            if r["method"] == method
            and "min_items" in r["options"]
            and set(r["options"]) <= {"min_items", "tail_depth"}
            and r["options"].get("tail_depth", "catalogue") == "catalogue"
        ]
        rows.sort(key=lambda r: r["options"]["min_items"])
        if len(rows) < 2:
            continue

        budgets = " → ".join(str(r["options"]["min_items"]) for r in rows)
        notes.append(
            f"{label} tokenizer benchmark ({payload.get('n_items', '?'):,} items, one fit each, no CI): {method} "
            f"min_items {budgets}: mean code length head {_sequence(rows, 'length_head', '.2f')}, tail "
            f"{_sequence(rows, 'length_tail', '.2f')}; #SID {_sequence(rows, 'n_sids', ',')}."
        )
    return notes


def _sequence(rows: list[dict[str, Any]], key: str, spec: str) -> str:
    return " → ".join(format(r[key], spec) for r in rows)
