"""/metrics counters, and whether they count what the abuse run's clients saw."""

from __future__ import annotations

from typing import Any

from benchmarks.bench_serve import metric_samples
from benchmarks.serve_abuse.misbehaving import KindLog, bad_payloads
from benchmarks.serve_abuse.well_formed import WellFormed


def counters(port: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in metric_samples(port):
        if s.name == "semid_requests_total":
            out[f"requests {s.labels['endpoint']} {s.labels['status']}"] = s.value
        elif s.name == "semid_connections_refused_total":
            out[f"refused {s.labels['reason']}"] = s.value
    return out


def metrics_check(
    before: dict[str, float], after: dict[str, float], logs: dict[str, KindLog], wf: WellFormed
) -> list[dict[str, Any]]:
    """What the abuse run's clients saw (or caused) vs what /metrics counted meanwhile."""

    def seen(kinds: list[str], status: str) -> int:
        return sum(logs[k].statuses.get(status, 0) for k in kinds)

    payload_kinds = list(bad_payloads())
    expected = {
        "requests /search 200": wf.statuses.get("200", 0),
        "requests /search 422": seen(payload_kinds, "422"),
        "requests /search 413": seen([*payload_kinds, "oversized_chunked_body"], "413"),
        "requests /search 408": seen(["slow_body"], "408"),
        "requests /search 400": logs["abandoned_body"].attempts,  # the app answers a hang-up with 400
        "requests /healthz 200": seen(["idle_keepalive"], "200"),
        "refused header_timeout": seen(["idle_connection", "unfinished_headers", "slowloris_headers"], "408"),
        "refused bad_http": seen(["not_http"], "400"),
    }
    keys = sorted(set(expected) | {k for k in after if after[k] != before.get(k, 0.0) and "/metrics" not in k})
    rows = []
    for key in keys:
        delta = after.get(key, 0.0) - before.get(key, 0.0)
        exp = expected.get(key)
        rows.append({"counter": key, "clients": exp, "metrics_delta": delta, "match": exp is not None and exp == delta})
    return rows
