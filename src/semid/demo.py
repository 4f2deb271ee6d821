"""`semid demo`: the whole pipeline on a bundled dataset, into one folder, as one function (`run_demo`).

prepare -> embed -> tokenize (RQ-KMeans) -> diagnose -> train the default generative retriever on those SIDs
and compare it with popularity, BM25, dense retrieval (and SASRec on history data) on the same test queries,
through `semid.eval.bench.run_bench`. The trained retriever ends in ``<out>/retriever``.

A rerun replaces what the previous demo wrote in the folder, and nothing else. Each folder it replaces
(``retriever/``, ``rq_kmeans/``) carries a fingerprint of what it wrote (`mark_demo_output`); one that no
demo wrote, or that changed since (retrained, grown by `semid assign`), is refused before any work unless
`overwrite`. The new retriever goes in through `semid.files.replace_folder`, so the previous one stays
loadable until it is in place, and `recover_folder` undoes what a demo killed during that swap left.

Importing this module loads neither torch nor pandas (the command line reads `DemoConfig`'s defaults).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from semid.errors import DataError
from semid.files import check_out_dir, recover_folder, replace_folder

if TYPE_CHECKING:
    from semid.eval.bench import BenchResults

DEMO_MARK = ".semid-demo.json"  # in each folder the demo replaces on a rerun: the fingerprint of what it wrote
REPLACED = ("retriever", "rq_kmeans")  # the folders of `out` a rerun replaces


@dataclass
class DemoConfig:
    dataset: str = "movielens"  # a bundled dataset (semid.data.prepare_dataset)
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])  # RQ-KMeans codes per layer
    max_train_records: int | None = None  # seeded sample of the training records (None: all)
    epochs: int = 6  # retriever epochs, cosine decay (the best valid R@10 kept); fits the 10-minute budget
    overwrite: bool = False  # replace a retriever or SID table in the folder that no demo wrote
    collaborative: bool = True  # click logs: SIDs on content + collaborative vectors (semid.embed.collaborative)


@dataclass
class DemoResult:
    diagnostics: dict[str, Any]  # of the RQ-KMeans SIDs (semid.sid.compute_diagnostics)
    bench: BenchResults  # the retriever next to the baselines
    outputs: dict[str, str]  # where to look next: diagnostics, report, bench table, retriever, serve command


class DemoLog(Protocol):
    """What the demo says while it runs (the command line draws it with rich)."""

    def step(self, title: str) -> None: ...
    def info(self, text: str) -> None: ...
    def diagnostics(self, diag: dict[str, Any]) -> None: ...


class _Quiet:
    def step(self, title: str) -> None:
        pass

    def info(self, text: str) -> None:
        pass

    def diagnostics(self, diag: dict[str, Any]) -> None:
        pass


def run_demo(out: str | Path, cfg: DemoConfig | None = None, log: DemoLog | None = None) -> DemoResult:
    """Run the demo into `out` (see the module docstring); DataError before any work when `out` cannot be
    written or holds a retriever or SID table that no demo wrote (unless ``cfg.overwrite``)."""
    from semid.data import prepare_dataset
    from semid.embed.collaborative import CollaborativeConfig
    from semid.eval.bench import BenchConfig, run_bench
    from semid.pipeline import diagnose_table, embed_dataset, tokenize_dataset
    from semid.retrieve.build import input_kind

    cfg, log, out = cfg or DemoConfig(), log or _Quiet(), Path(out)
    data_dir, retriever = out / "data", out / "retriever"
    check_out_dir(out)
    recover_folder(retriever)  # a previous demo killed while swapping retrievers
    if not cfg.overwrite:
        check_demo_outputs(out, REPLACED)
    log.step(f"1/5 prepare {cfg.dataset}")
    ds = prepare_dataset(cfg.dataset, data_dir)
    log.info(f"{ds.n_items:,} items, queries {ds.meta['n_queries']}")
    log.step("2/5 embed item texts (bundled MiniLM)")
    embed_dataset(data_dir)
    history = input_kind(ds) == "history"
    joined = CollaborativeConfig() if cfg.collaborative and history else None
    log.step("3/5 tokenize: RQ-KMeans" + (" on content + collaborative vectors" if joined else ""))
    sizes = list(cfg.codebook_sizes)
    res = tokenize_dataset(
        data_dir, out / "rq_kmeans", "rq_kmeans", overwrite=True, collaborative=joined, codebook_sizes=sizes
    )
    mark_demo_output(out / "rq_kmeans")
    log.step("4/5 diagnose")
    title = f"SID diagnostics: {cfg.dataset}, RQ-KMeans {','.join(map(str, sizes))}"
    diag = diagnose_table(res.table, out, title=title)
    log.diagnostics(diag)
    sequential = ["sasrec"] if history else []
    log.step(f"5/5 train a generative retriever (RQ-KMeans SIDs); compare: BM25, dense, popularity {sequential}")
    bench_cfg = BenchConfig(
        dataset=str(data_dir),
        methods=["popularity", "bm25", "dense", *sequential, "rq_kmeans"],
        seeds=1,
        max_train_records=cfg.max_train_records,
        codebook_sizes=sizes,
        collaborative=joined is not None,
        epochs=cfg.epochs,
        patience=0,
        lr_schedule="cosine",
        beam=100,
        keep_artifacts=True,
    )
    results = run_bench(bench_cfg, out / "bench")
    if "rq_kmeans" in results.failed:  # the demo's retriever; a failed baseline only leaves its row saying why
        raise DataError(f"training the retriever failed: {results.failed['rq_kmeans']['seed0']}", source="semid demo")
    replace_folder(out / "bench" / "runs" / "rq_kmeans" / "seed0" / "retriever", retriever, mark_demo_output)
    outputs = {
        "diagnostics": str(out / "diagnostics.json"),
        "report": str(out / "report.html"),
        "bench": str(out / "bench" / "results.md"),
        "retriever": str(retriever),
        "serve": f"semid serve {retriever}",
    }
    return DemoResult(diag, results, outputs)


def _fingerprint(folder: Path) -> str:
    """sha256 over the relative path and bytes of every file in `folder` (the mark and lock files aside)."""
    h = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (DEMO_MARK, ".lock"))
    for path in files:
        h.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def mark_demo_output(folder: Path) -> None:
    """Record that `semid demo` wrote `folder` as it is now."""
    mark = {"written_by": "semid demo", "sha256": _fingerprint(folder)}
    (folder / DEMO_MARK).write_text(json.dumps(mark, indent=2) + "\n", encoding="utf-8")


def is_demo_output(folder: Path) -> bool:
    """True when `folder` is what `semid demo` wrote there, unchanged since (not retrained, no items assigned)."""
    try:
        mark = json.loads((folder / DEMO_MARK).read_text(encoding="utf-8"))
        return isinstance(mark, dict) and mark.get("sha256") == _fingerprint(folder)
    except (OSError, ValueError):
        return False


def check_demo_outputs(out: Path, folders: Sequence[str]) -> None:
    """DataError, before any work, when one of `folders` in `out` holds something a previous `semid demo` did
    not write (a retriever trained there, a SID table `semid assign` grew): the demo would replace it."""
    for name in folders:
        folder = out / name
        empty = folder.is_dir() and not any(folder.iterdir())
        if folder.exists() and not empty and not is_demo_output(folder):
            raise DataError(
                "was not written by `semid demo` (or changed since) and the demo would replace it; pass "
                "--overwrite to replace it, or choose another --out",
                source=str(folder),
            )
