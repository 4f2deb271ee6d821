"""`semid train`, `semid retrieve` and `semid serve`: the generative retriever, trained, asked and served.

Option defaults are spelled out here, not read from TrainConfig / BatchConfig / ServeConfig, because
importing those loads torch on every `semid` call; tests/test_cli_defaults.py keeps them equal.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from semid.cli.common import (
    DEVICE_HELP,
    FINETUNE_LAYERS_HELP,
    FINETUNE_LR_HELP,
    LR_SCHEDULE_HELP,
    MAX_TRAIN_RECORDS_HELP,
    PSEUDO_QUERIES_HELP,
    console,
    no_hf_progress_bars,
)
from semid.cold_share import DEFAULT_COLD_SHARE, check_cold
from semid.errors import SemidError

if TYPE_CHECKING:
    from semid.retrieve.retriever import Retriever

COLD_SHARE_HELP = (
    "the most of each top-n (0 to 1) that may go to cold items (not in the table the model was trained on, e.g. "
    "added by `semid assign`) found through prefixes of the generated SIDs: every 1/share-th place"
)


def train(
    data_dir: Path = typer.Argument(..., help="dataset folder"),
    tokenize_dir: Path = typer.Argument(..., help="a `semid tokenize` output folder (its sid_table/ is used)"),
    out: Path = typer.Option(..., "--out", help="retriever artifact folder (rerun to resume from its checkpoint)"),
    backbone: str = typer.Option("minilm", help="minilm (frozen MiniLM / item vectors + small SID decoder) or t5"),
    epochs: int = typer.Option(10, help="at most this many epochs (the one with the best valid Recall@10 is kept)"),
    patience: int = typer.Option(0, help="stop after this many epochs without a better valid Recall@10 (0: never)"),
    batch_size: int = typer.Option(512, help="pairs per step"),
    lr: float = typer.Option(3e-3, help="peak learning rate"),
    lr_schedule: str = typer.Option("cosine", help=LR_SCHEDULE_HELP),
    d_model: int = typer.Option(128, help="model width"),
    layers: int | None = typer.Option(None, help="encoder layers (default: t5 4; minilm's history encoder 0)"),
    decoder_layers: int = typer.Option(2, help="decoder layers"),
    finetune_layers: int = typer.Option(0, help=FINETUNE_LAYERS_HELP),
    finetune_lr: float = typer.Option(1e-4, help=FINETUNE_LR_HELP),
    max_train_records: int | None = typer.Option(None, help=MAX_TRAIN_RECORDS_HELP),
    eval_queries: int = typer.Option(1000, help="valid records decoded after each epoch (seeded sample)"),
    pretrained: str | None = typer.Option(None, help="t5: local Hugging Face T5 checkpoint folder to start from"),
    no_index_pairs: bool = typer.Option(False, help="skip the item text -> SID indexing pairs"),
    pseudo_queries: int = typer.Option(0, min=0, help=PSEUDO_QUERIES_HELP),
    seed: int = typer.Option(0, help="random seed"),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
) -> None:
    """Train the generative retriever (query or history -> SID) for --epochs, keeping the epoch with the best
    valid Recall@10 (--patience: stop early)."""
    from semid.retrieve.build import BuildConfig
    from semid.retrieve.model import ModelConfig
    from semid.retrieve.sid_model import SIDModelConfig
    from semid.retrieve.train import TrainConfig, train_retriever

    t5_layers = 4 if layers is None else layers
    if d_model < 1 or decoder_layers < 1 or (layers or 0) < 0 or (backbone == "t5" and t5_layers < 1):
        raise ValueError("--d-model and --decoder-layers must be >= 1, --layers >= 0 (>= 1 for t5)")
    t5 = ModelConfig(
        d_model=d_model,
        d_ff=4 * d_model,
        num_layers=t5_layers,
        num_decoder_layers=decoder_layers,
        pretrained=pretrained,
    )
    minilm = SIDModelConfig(
        d_model=d_model, encoder_layers=layers or 0, decoder_layers=decoder_layers, finetune_layers=finetune_layers
    )
    cfg = TrainConfig(
        epochs=epochs,
        patience=patience,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=lr_schedule,
        finetune_lr=finetune_lr,
        index_pairs=not no_index_pairs,
        pseudo_queries=pseudo_queries,
        max_train_records=max_train_records,
        eval_queries=eval_queries,
        seed=seed,
        device=device,
    )
    _, history = train_retriever(data_dir, tokenize_dir, out, BuildConfig(backbone, minilm, t5), cfg)
    console.print(_trained(history, out), soft_wrap=True)


def _trained(history: list[dict[str, Any]], out: Path) -> str:
    """The closing line of `semid train`: the epoch kept and what its valid recall was measured on."""
    scored = [h for h in history if "valid_recall@10" in h]
    if not scored:
        return f"trained {len(history)} epochs (no valid records: the last epoch is kept) -> {out}"
    best = max(scored, key=lambda h: (h["valid_recall@10"], h["epoch"]))  # ties: the later epoch, as training
    n = f"{best['valid_queries']:,}" if "valid_queries" in best else "the"  # older checkpoints did not say
    return (
        f"trained {len(history)} epochs; kept epoch {best['epoch']}: valid Recall@10 {best['valid_recall@10']:.4f} "
        f"on {n} sampled valid records (--eval-queries) -> {out}"
    )


def retrieve(
    artifact: Path = typer.Argument(..., help="a `semid train` output folder"),
    query: list[str] = typer.Argument(None, help="query text(s)"),
    history: str | None = typer.Option(None, help="comma-separated item ids, oldest first (history models)"),
    k: int = typer.Option(10, "-k", "--k", help="items to return"),
    beam: int = typer.Option(20, help="beam width"),
    unconstrained: bool = typer.Option(False, help="decode without the trie (shows hallucinated SIDs)"),
    rank: str = typer.Option(
        "beam",
        help="order of the items: beam (by their SID's beam score) or exact (the beam's items by query . item "
        "vector; minilm backbone)",
    ),
    cold_share: float = typer.Option(DEFAULT_COLD_SHARE, help=COLD_SHARE_HELP),
    sid_table: Path | None = typer.Option(
        None,
        help="SID table to search instead of the artifact's own (a `semid tokenize` folder after `semid assign`); "
        "the items it adds are cold (--cold-share)",
    ),
    stdin: bool = typer.Option(
        False,
        "--stdin",
        help="answer each line of standard input as it comes (a query; for history models comma-separated item "
        "ids): the model loads once",
    ),
) -> None:
    """Retrieve items for a query (or a user history) from the CLI: one JSON line per query."""
    no_hf_progress_bars()  # keep stdout to the JSON lines
    check_cold(cold_share)  # before the model loads
    ret = _load(artifact, sid_table)
    search = {"k": k, "beam": beam, "constrained": not unconstrained, "rank": rank, "cold_share": cold_share}
    answer = functools.partial(_answer, ret, search=search)
    if stdin:
        for line in sys.stdin:
            if line.strip():
                try:
                    answer(histories=[_ids(line)] if ret.input_kind == "history" else None, query=[line.strip()])
                except (SemidError, ValueError) as exc:  # one bad line, not the session
                    print(json.dumps({"error": str(exc)}), flush=True)
    elif history is not None or query:
        answer(histories=[_ids(history)] if history is not None else None, query=query)
    else:
        raise ValueError("give a query, --history or --stdin")


def _load(artifact: Path, sid_table: Path | None, device: str | None = None) -> Retriever:
    """The retriever artifact, over `sid_table` when given (its added items cold)."""
    from semid.assigned_vectors import apply_assigned_vectors
    from semid.pipeline import resolve_table_dir
    from semid.retrieve.retriever import Retriever
    from semid.sid.table import SIDTable

    ret = Retriever.load(artifact, device=device)
    if sid_table is None:
        return ret
    table_dir = resolve_table_dir(sid_table)
    ret = ret.with_table(SIDTable.load(table_dir))
    note = apply_assigned_vectors(ret, table_dir)  # cold items ranked by their own vectors where they fit
    if note:
        console.print(f"[bold yellow]warning:[/] {escape(note)}")
    return ret


def _ids(text: str) -> list[str]:
    return [h.strip() for h in text.split(",") if h.strip()]


def _answer(
    ret: Retriever,
    *,
    histories: list[list[str]] | None,
    query: list[str],
    search: dict[str, Any],
) -> None:
    """Search and print one JSON line per query (or history), warning when a history is longer than read."""
    from semid.history_limit import cut_histories, cut_message

    if histories is not None:
        results = ret.search(histories=histories, **search)
        n_cut, limit = cut_histories(ret.backbone, histories)
        if n_cut and limit is not None:
            console.print(f"[bold yellow]warning:[/] {escape(cut_message(limit, n_cut, len(histories)))}")
    else:
        results = ret.search(list(query), **search)
    for res in results:
        line = {
            "items": res.item_ids,
            "scores": [round(s, 4) for s in res.scores],
            "sids": [list(s) for s in res.sids],
            "hallucinated_sids": res.n_hallucinated,
        }
        if search["cold_share"]:
            line["cold_slots"] = [i for i, cold in enumerate(res.in_cold_slot) if cold]
        print(json.dumps(line), flush=True)


def serve(
    artifact: Path = typer.Argument(..., help="a `semid train` output folder"),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    beam: int = typer.Option(20, help="beam width of every search"),
    max_batch: int = typer.Option(32, help="requests per decoder call"),
    max_wait_ms: float = typer.Option(5.0, help="how long a batch waits for more requests"),
    max_queue: int = typer.Option(256, help="waiting requests beyond this get 503"),
    max_k: int = typer.Option(1000, help="largest k a request may ask for"),
    rank: str = typer.Option(
        "beam",
        help="order of the items when a request gives no 'rank': beam (by their SID's beam score) or exact (the "
        "beam's items by query . item vector; minilm backbone)",
    ),
    cold_share: float = typer.Option(
        DEFAULT_COLD_SHARE, help=f"{COLD_SHARE_HELP}, when a request gives no 'cold_share'"
    ),
    sid_table: Path | None = typer.Option(
        None,
        help="SID table to serve and hot-reload (a `semid tokenize` folder after `semid assign`); "
        "default: the artifact's own",
    ),
    reload_interval: float = typer.Option(2.0, help="seconds between checks of the SID table for changes"),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    admin_token: str | None = typer.Option(
        None,
        envvar="SEMID_ADMIN_TOKEN",
        help="token for /admin/reload, /metrics and /docs (as 'Authorization: Bearer <token>'); without one they "
        "are open on a loopback --host and off on any other. Prefer the env var: arguments show in `ps`",
    ),
    header_timeout: float = typer.Option(10.0, help="seconds a client has to send a request's head (408 after)"),
    body_timeout: float = typer.Option(10.0, help="seconds a client has to send a request's body (408 after)"),
    keep_alive: int = typer.Option(5, help="seconds an idle connection stays open between requests"),
    max_connections: int = typer.Option(256, help="open connections beyond this get 503 and are closed"),
) -> None:
    """Serve the retriever over HTTP: POST /search, GET /healthz, GET /metrics, POST /admin/reload."""
    from semid.files import TABLE_DIR
    from semid.pipeline import resolve_table_dir
    from semid.serve import BatchConfig, ServeConfig, create_app
    from semid.serve.server import ServerLimits, admin_notice, is_loopback, run

    limits = ServerLimits(header_timeout, keep_alive, max_connections)
    ret = _load(artifact, sid_table, device)
    table_dir = resolve_table_dir(sid_table) if sid_table is not None else artifact / TABLE_DIR
    cfg = ServeConfig(
        batch=BatchConfig(max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue, beam=beam),
        max_k=max_k,
        rank=rank,
        cold_share=cold_share,
        table_dir=table_dir,
        reload_interval_s=reload_interval,
        body_timeout_s=body_timeout,
        admin_token=admin_token,
        admin_open=is_loopback(host),
    )
    api = create_app(ret, cfg)
    warn, notice = admin_notice(host, admin_token)
    console.print(f"[bold yellow]warning:[/] {escape(notice)}" if warn else escape(notice), soft_wrap=True)
    console.print(f"serving {artifact} ({ret.table.n_items:,} items) on http://{host}:{port}")
    run(api, host, port, limits)
