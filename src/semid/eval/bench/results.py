"""`BenchResults`: what a bench run measured, and its three renderings (results.json, results.md,
report.html), in the manner of ranx's `Report`.

``methods`` maps method -> ``seed<N>`` -> that run's result: ``splits`` (split -> metric -> value, with
``ret_per`` and, for generative methods, ``hallucination`` under ``all``), timings and, for generative
methods, the SID statistics, and the machine it ran on (``machine``; runs from before it was recorded ran on
the results' own ``machine``, the one that wrote them); ``failed`` maps method -> ``seed<N>`` -> why that run
failed. The table shows the mean ± 95% CI over seeds, the best value in bold, a row per failed method, and
marks where the data cannot support a column (semid.eval.bench.checks).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semid.eval.bench.checks import FEW, WHOLE_CATALOGUE, too_few, whole_catalogue
from semid.eval.bench.config import EXACT_SUFFIX, GENERATIVE, current_names, is_generative
from semid.eval.metrics import FEW_TEST_QUERIES
from semid.files import write_text_atomic
from semid.machine import machine_label
from semid.reporting import NOT_AVAILABLE

RESULTS_JSON, RESULTS_MD, REPORT_HTML = "results.json", "results.md", "report.html"
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
TABLE_COLUMNS = [
    ("all", "recall@10"),
    ("all", "recall@100"),
    ("all", "recall@1000"),
    ("all", "recall@2000"),
    ("all", "mrr@10"),
    ("all", "ndcg@10"),
    ("head", "recall@100"),
    ("tail", "recall@100"),
    ("cold", "recall@100"),
    ("all", "hallucination"),
    ("all", "ret_per"),
]
OPTIONAL_COLUMNS = {("all", "ndcg@10")}  # shown only when a run recorded it: benches before NDCG did not


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student t; 0 for one value)."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    if arr.size == 1:
        return float(arr[0]), 0.0
    t = T_975.get(arr.size - 1, 1.96)
    return float(arr.mean()), float(t * arr.std(ddof=1) / math.sqrt(arr.size))


@dataclass
class BenchResults:
    dataset: str
    data: dict[str, Any]  # catalogue and test-set sizes: n_items, n_cold_items, n_test_queries, n_test, input_kind
    methods: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # method -> seed<N> -> result
    config: dict[str, Any] | None = None  # the BenchConfig, as a dict
    machine: dict[str, Any] | None = None  # semid.machine.describe()
    failed: dict[str, dict[str, str]] = field(default_factory=dict)  # method -> seed<N> -> why it failed

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResults:
        methods, failed = d.get("methods", {}), d.get("failed", {})
        return cls(d["dataset"], d["data"], methods, d.get("config"), d.get("machine"), failed)

    @classmethod
    def load(cls, path: str | Path) -> BenchResults:
        """From a results.json, or the folder holding one."""
        p = Path(path)
        return cls.from_dict(json.loads((p / RESULTS_JSON if p.is_dir() else p).read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        """The results.json payload."""
        return {
            "dataset": self.dataset,
            "machine": self.machine,
            "config": self.config,
            "data": self.data,
            "methods": self.methods,
            **({"failed": self.failed} if self.failed else {}),
        }

    def table_columns(self) -> list[tuple[str, str]]:
        """TABLE_COLUMNS, less a metric no run recorded (NDCG@10 in a results.json from before it was measured)."""
        recorded = {
            (split, metric)
            for seeds in self.methods.values()
            for run in seeds.values()
            for split, values in run["splits"].items()
            for metric in values
        }
        return [c for c in TABLE_COLUMNS if c not in OPTIONAL_COLUMNS or c in recorded]

    def summary(self) -> dict[str, dict[str, tuple[float, float]]]:
        """method -> "split:metric" -> (mean, 95% CI half-width) over seeds, for the table's columns."""
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for method, seeds in self.methods.items():
            row = {}
            for split, metric in self.table_columns():
                vals = [s["splits"].get(split, {}).get(metric) for s in seeds.values()]
                if (split, metric) in OPTIONAL_COLUMNS and None in vals:  # a mean over some seeds only would mislead
                    vals = []
                row[f"{split}:{metric}"] = mean_ci([v for v in vals if v is not None])
            out[method] = row
        return out

    def _partial_columns_note(self, summary: dict[str, dict[str, tuple[float, float]]], cols: list[str]) -> str:
        """What a bold in a column some rows did not record means: best among the rows that did."""
        optional = [c for c in cols if tuple(c.split(":", 1)) in OPTIONAL_COLUMNS]
        partial = [c for c in optional if any(math.isnan(row[c][0]) for row in summary.values())]
        if not partial:
            return ""
        names = ", ".join(self._label(c) for c in partial)
        return (
            f" {names}: only for the rows whose every run recorded it (– for runs made before it was measured); "
            "its bold is the best among those rows."
        )

    def to_markdown(self) -> str:
        summary = self.summary()
        cols = [f"{s}:{m}" for s, m in self.table_columns()]
        best: dict[str, float] = {}
        for col in cols:
            vals = [summary[m][col][0] for m in summary if not math.isnan(summary[m][col][0])]
            if len(vals) >= 2 and not col.endswith("ret_per"):  # Ret-Per describes, it does not rank
                best[col] = min(vals) if col.endswith("hallucination") else max(vals)
        d = self.data
        lines = [
            f"# semid bench: {self.dataset}",
            "",
            f"{d['n_items']:,} items ({d['n_cold_items']} cold), {d['n_test_queries']} test queries "
            f"(head {d['n_test']['head']}, tail {d['n_test']['tail']}, cold {d['n_test']['cold']}); "
            f"mean ± 95% CI over seeds; best in bold (lowest for Hallu; Ret-Per not ranked). Hallu is measured by "
            "unconstrained decoding; baselines are deterministic (one run) and return K items by construction."
            + self._partial_columns_note(summary, cols),
            "",
            *self._budget_lines(),
            "",
            "| method | seeds | " + " | ".join(self._label(c) for c in cols) + " |",
            "|---|---|" + "---|" * len(cols),
        ]
        for method, row in summary.items():
            cells = [
                NOT_AVAILABLE if self._no_queries(col) else _cell(col, *row[col], best=best.get(col)) for col in cols
            ]
            lines.append(f"| {method} | {self._seeds(method)} | " + " | ".join(cells) + " |")
        for method, seeds in self.failed.items():
            if method not in summary:  # no seed finished: the row says why
                reason = next(iter(seeds.values()))
                cells = [f"failed: {_escape(reason)}", *["–"] * (len(cols) - 1)]
                lines.append(f"| {method} | {self._seeds(method)} | " + " | ".join(cells) + " |")
        return "\n".join([*lines, *self._footnotes(), *self._epoch_lines()]) + "\n"

    def _epoch_lines(self) -> list[str]:
        from semid.eval.bench.training_curves import epoch_table  # it builds on mean_ci, from here

        table = epoch_table(self.methods)
        return ["", *table] if table else []

    def _seeds(self, method: str) -> str:
        n, failed = len(self.methods.get(method, {})), len(self.failed.get(method, {}))
        return f"{n} ({failed} failed)" if failed else str(n)

    def _label(self, col: str) -> str:
        split, metric = col.split(":")
        label = column_label(col)
        if split == "all" and metric.startswith("recall@") and whole_catalogue(int(metric.split("@")[1]), self.data):
            return label + WHOLE_CATALOGUE
        return label + FEW if split != "all" and too_few(split, self.data) else label

    def _footnotes(self) -> list[str]:
        d, notes = self.data, []
        if any(whole_catalogue(int(m.split("@")[1]), d) for s, m in TABLE_COLUMNS if s == "all" and "recall@" in m):
            notes.append(
                f"{WHOLE_CATALOGUE} K >= the catalogue's {d['n_items']:,} items: a method that returns K items finds "
                "every target, so 1.0 there is by construction."
            )
        few = [f"{s} {d['n_test'][s]}" for s, _ in TABLE_COLUMNS if s != "all" and too_few(s, d)]
        if few:
            notes.append(f"{FEW} fewer than {FEW_TEST_QUERIES} test queries ({', '.join(few)}): too few to read.")
        for method, seeds in self.failed.items():
            in_row = None if method in self.methods else next(iter(seeds.values()))  # the failed row's reason
            notes += [f"{method} {seed} failed: {_escape(why)}" for seed, why in seeds.items() if why != in_row]
        return ["", *notes] if notes else []

    def to_html(self) -> str:
        from semid.eval.bench.report import render_html

        return render_html(self.to_dict(), self.to_markdown())

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write results.json, results.md and report.html into `out_dir`; their paths by name."""
        out = Path(out_dir)
        paths = {name: out / name for name in (RESULTS_JSON, RESULTS_MD, REPORT_HTML)}
        write_text_atomic(paths[RESULTS_JSON], json.dumps(self.to_dict(), indent=2) + "\n")
        write_text_atomic(paths[RESULTS_MD], self.to_markdown())
        write_text_atomic(paths[REPORT_HTML], self.to_html())
        return paths

    def _no_queries(self, col: str) -> bool:
        """A column of a test-target group (head, tail, cold) with no test queries: n/a, not a score."""
        return self.data.get("n_test", {}).get(col.split(":")[0]) == 0

    def _budget_lines(self) -> list[str]:
        c, m = self.config, self.machine
        lines = []
        if c:
            ran = [*self.methods, *(x for x in self.failed if x not in self.methods)]
            lines.append(_budget(c, [x for x in ran if is_generative(x)], self.data.get("input_kind")))
        lines += self._machine_lines(machine_label(m) if m else None)
        return lines

    def _machine_lines(self, writer: str | None) -> list[str]:
        """ "Machine: ..." or, when the runs were made on several (a bench resumed elsewhere), each with its methods."""
        where: dict[str, list[str]] = {}
        for method, seeds in self.methods.items():
            if method.endswith(EXACT_SUFFIX):  # the same runs as the method's own row
                continue
            for run in seeds.values():
                label = run.get("machine", writer)
                if label is not None and method not in where.setdefault(label, []):
                    where[label].append(method)
        if len(where) > 1:
            return ["Machines: " + "; ".join(f"{label} ({', '.join(ms)})" for label, ms in where.items()) + "."]
        label = next(iter(where), writer)
        return [f"Machine: {label}."] if label else []


def _budget(c: dict[str, Any], generative: list[str], input_kind: str | None) -> str:
    """The budget line: the settings of the methods that ran, no others."""
    catalogue = f"a seeded subset of {c['max_items']:,} items" if c.get("max_items") else "complete"
    if not generative:
        return f"Budget: baselines only (deterministic, one run each); catalogue {catalogue}."
    arch = "MiniLM (frozen) + SID decoder" if c.get("backbone", "t5") == "minilm" else "T5 from scratch"
    cap = current_names(c).get("max_train_records")  # results.json of older benches: max_train_queries
    records = f"a seeded sample of {cap:,} training records" if cap else "every training record"
    index = " + one indexing pair per warm item" if input_kind == "text" else ""
    if index and c.get("pseudo_queries"):
        index += f" and {c['pseudo_queries']} pseudo-queries (spans of its text)"
    epochs = f"{c['epochs']} epoch(s), no early stopping (the epoch with the best valid R@10 kept)"
    if c.get("patience"):
        epochs = (
            f"at most {c['epochs']} epoch(s) with early stopping after {c['patience']} epochs without a better "
            "valid R@10 (best epoch kept)"
        )
    schedule = f" ({c['lr_schedule']} decay)" if c.get("lr_schedule", "constant") != "constant" else ""
    parts = [
        f"Budget (the same for every generative method): {arch}, d_model {c['d_model']}, {c['layers']}+"
        f"{c['decoder_layers']} layers, {epochs}, batch {c['batch_size']}, "
        f"lr {c['lr']}{schedule}, {records}{index}, beam {c['beam']}"
    ]
    own = {"dsi": "no codebooks", "nci": f"codebooks {GENERATIVE['nci'][1]['codebook_sizes']}"}
    rq = [x for x in generative if x not in own]
    if rq:
        parts.append(f"codebooks {c['codebook_sizes']} ({', '.join(rq)})")
    parts += [f"{own[x]} ({x})" for x in generative if x in own]
    if "tiger" in generative:
        parts.append(f"TIGER RQ-VAE {c['rq_vae_epochs']} epochs")
    if c.get("collaborative"):
        parts.append("item vectors: content joined to collaborative vectors from the warm training records")
    return "; ".join(parts) + f"; catalogue {catalogue}."


def _escape(text: str) -> str:
    """A reason as one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _cell(col: str, mean: float, ci: float, best: float | None) -> str:
    if math.isnan(mean):
        return "–"
    items = col.endswith("ret_per")  # a count of items, not a rate
    text = f"{mean:.1f}" if items else f"{mean:.4f}"
    if ci > 0:
        text += f" ± {ci:.1f}" if items else f" ± {ci:.4f}"
    return f"**{text}**" if mean == best else text


def column_label(col: str) -> str:
    split, metric = col.split(":")
    short = metric.replace("recall@", "R@").replace("mrr@", "MRR@").replace("ndcg@", "NDCG@")
    short = {"hallucination": "Hallu", "ret_per": "Ret-Per"}.get(short, short)
    return short if split == "all" else f"{split} {short}"
