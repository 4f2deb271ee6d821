"""The verdict and the markdown page of an abuse test result."""

from __future__ import annotations

from typing import Any

from benchmarks.serve_abuse.answers import SCORE_TOL


def verdict(res: dict[str, Any]) -> dict[str, Any]:
    runs = (res["clean"], res["abuse"])
    not_cut = {k: v["outcomes"].get("not_cut_off", 0) for k, v in res["misbehaving"].items()}
    kinds_5xx = {
        k: sum(n for s, n in v["statuses"].items() if s.startswith("5")) for k, v in res["misbehaving"].items()
    }
    return {
        "well_formed_5xx": sum(r["5xx"] for r in runs),
        "well_formed_non_200": sum(r["non_200"] for r in runs),
        "well_formed_wrong_answers": sum(r["wrong_answers"] for r in runs),
        "well_formed_wrong_matching_neither": sum(
            r["wrong_answers"] - r["wrong_answers_equal_to_alone_search"] for r in runs
        ),
        "misbehaving_5xx": sum(kinds_5xx.values()),
        "misbehaving_not_cut_off": sum(not_cut.values()),
        "metrics_all_match": all(row["match"] for row in res["metrics_check"]),
    }


def markdown(res: dict[str, Any]) -> str:
    m, c, a, v = res["machine"], res["clean"], res["abuse"], res["verdict"]
    ratio = res["p99_ratio_abuse_vs_clean"]
    lines = [
        f"# semid serve abuse test ({res['input_kind']} queries, beam {res['beam']}, k {res['ks']})",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cores_available')} cores), GPU: {m.get('gpu') or 'none'}; loopback. "
        f"{res['concurrency']} well-formed clients sending {res['requests_per_run']} requests per run "
        f"({res['distinct_queries']} real test queries in turn), once clean and once with the misbehaving "
        f"clients below running meanwhile ({res['raw_workers_per_kind']} per raw-socket kind, one per payload "
        f"kind with a {res['payload_pause_ms']:g} ms pause). Server: `{' '.join(res['server_options'])}`.",
        "",
        "## Well-formed requests",
        "",
        "| run | requests | 200 | 5xx | wrong answers | QPS | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run, r in (("clean", c), ("with misbehaving clients", a)):
        lines.append(
            f"| {run} | {r['requests']} | {r['ok']} | {r['5xx']} | {r['wrong_answers']} | {r['qps']:.1f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    lines += [
        "",
        f"p99 with misbehaving clients / clean: {f'{ratio:.2f}x' if ratio else 'n/a'}. A wrong answer is an item "
        f"list that differs from `Retriever.search` in this process (same beam and k), or scores more than "
        f"{SCORE_TOL:g} apart. In-process, searching each query alone and in batches of 64 disagree on "
        f"{res['in_process']['batched_vs_alone_differ']} of {res['in_process']['pairs']} (query, k) pairs; of the "
        f"server's wrong answers, {c['wrong_answers_equal_to_alone_search'] + a['wrong_answers_equal_to_alone_search']}"
        " equal the query's answer when searched alone.",
        "",
        "## Misbehaving clients (during the second run)",
        "",
        "| kind | client | attempts | statuses seen | outcome | cut off after s (min / median / max) | limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, d in res["misbehaving"].items():
        t = d["cut_after_s"]
        cut = f"{t['min']:.2f} / {t['median']:.2f} / {t['max']:.2f}" if t else ""
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(d["statuses"].items()))
        outcomes = ", ".join(f"{s}: {n}" for s, n in sorted(d["outcomes"].items()))
        lines.append(f"| {kind} | {d['client']} | {d['attempts']} | {statuses} | {outcomes} | {cut} | {d['limit']} |")
    lines += [
        "",
        "## /metrics during the second run",
        "",
        "| counter | the clients saw (or caused) | /metrics delta | match |",
        "|---|---|---|---|",
    ]
    for row in res["metrics_check"]:
        clients = "" if row["clients"] is None else row["clients"]
        lines.append(f"| {row['counter']} | {clients} | {row['metrics_delta']:g} | {'yes' if row['match'] else 'NO'} |")
    lines += [
        "",
        f"Verdict: {v}. /healthz after the run: {res['healthz_after']}; graceful shutdown: {res['graceful_shutdown']}; "
        f"tracebacks in the server log: {res['server_log_tracebacks']}; whole script {res['total_seconds']:.0f} s.",
        "",
    ]
    return "\n".join(lines)
