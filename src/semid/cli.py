"""`semid` command line: a thin layer over the library (see semid.pipeline)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from semid.cli_helpers import joined_by_id, warnings_shown
from semid.errors import SemidError
from semid.files import check_not_overwriting, check_out_dir

app = typer.Typer(help="Generative retrieval with adaptive semantic IDs.", no_args_is_help=True)
data_app = typer.Typer(help="Prepare and import datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(stderr=True)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers like 256,256,256, got {text!r}") from None
    if not values:
        raise typer.BadParameter("expected at least one codebook size")
    return values


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(code=2)


@data_app.command("prepare")
def data_prepare(
    name: str = typer.Argument(..., help="movielens or wordnet"),
    out: Path = typer.Option(..., "--out", help="dataset folder to write"),
    head_coverage: float = typer.Option(0.8, help="head = most popular items covering this share of popularity"),
    wordnet_dir: Path = typer.Option(Path("/usr/share/wordnet"), help="folder with the WordNet 3.0 data files"),
) -> None:
    """Build a bundled real dataset into the semid on-disk format."""
    from semid.data import prepare_dataset

    try:
        check_out_dir(out)
        with warnings_shown(console):
            ds = prepare_dataset(name, out, head_coverage=head_coverage, wordnet_dir=wordnet_dir)
    except (SemidError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    console.print(
        f"{name}: {ds.n_items:,} items, queries {ds.meta['n_queries']}, "
        f"head {ds.meta['head_tail']['n_head']:,} -> {out}"
    )


@data_app.command("import")
def data_import(
    items: Path = typer.Option(..., help="items file (.jsonl, .csv or .parquet): item_id, text, popularity"),
    queries: Path = typer.Option(..., help="query records file: query_id, split, query and/or history, target"),
    out: Path = typer.Option(..., "--out", help="dataset folder to write"),
    name: str = typer.Option("custom", help="dataset name"),
    head_coverage: float = typer.Option(0.8, help="head = most popular items covering this share of popularity"),
) -> None:
    """Check your own catalogue and click log and write them as a semid dataset."""
    import pandas as pd

    from semid.data import build_dataset, read_items, read_queries, save_dataset
    from semid.data.format import ITEMS_FILE, META_FILE, QUERIES_FILE

    try:
        check_out_dir(out)
        check_not_overwriting([items, queries], [out / ITEMS_FILE, out / QUERIES_FILE, out / META_FILE])
        item_df = read_items(items)
        query_df = read_queries(queries, pd.Index(item_df["item_id"]))
        ds = build_dataset(name, item_df, query_df, {"source": f"{items} + {queries}"}, head_coverage)
        with warnings_shown(console):
            save_dataset(ds, out)
    except (SemidError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    console.print(f"{name}: {ds.n_items:,} items, queries {ds.meta['n_queries']} -> {out}")


@app.command()
def embed(
    data_dir: Path = typer.Argument(..., help="dataset folder"),
    model: str = typer.Option("minilm", help="'minilm' (bundled) or a local sentence-transformers folder"),
    batch_size: int = typer.Option(128, help="texts per batch"),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if available)"),
    no_cache: bool = typer.Option(False, help="recompute even when cached"),
) -> None:
    """Embed item texts into DATA_DIR/item_vectors.npy (cached by model + texts)."""
    from semid.data.provenance import record_vectors_identity
    from semid.embed import EncoderConfig
    from semid.pipeline import embed_dataset

    try:
        check_out_dir(data_dir)  # item_vectors.npy goes there
        path = embed_dataset(data_dir, EncoderConfig(model, batch_size, device, use_cache=not no_cache))
        record_vectors_identity(data_dir)  # which items these are: `semid tokenize` checks it
    except (SemidError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    console.print(f"vectors -> {path}")


@app.command()
def tokenize(
    data_dir: Path = typer.Argument(..., help="dataset folder (with item_vectors.npy, or pass --vectors)"),
    out: Path = typer.Option(..., "--out", help="folder for tokenizer/ and sid_table/"),
    method: str = typer.Option("rq_kmeans", help="dsi, nci, rq_kmeans, rq_vae, sarq, acrq or sa2crq"),
    quantizer: str | None = typer.Option(None, help="for sarq/acrq/sa2crq: rq_kmeans (default) or rq_vae"),
    epochs: int | None = typer.Option(None, help="RQ-VAE training epochs (head stage for ACRQ)"),
    dedup: bool = typer.Option(False, help="append TIGER's dedup token so no two items share a SID"),
    codebook_sizes: str = typer.Option("256,256,256", help="codes per layer, comma-separated (nci: branching)"),
    vectors: Path | None = typer.Option(None, help="item vectors (.npy/.parquet) instead of DATA_DIR's"),
    seed: int = typer.Option(0, help="random seed"),
    tau: float | None = typer.Option(None, help="SARQ budget: an item goes deeper while P(prefix) > tau"),
    min_items: int | None = typer.Option(None, help="SARQ budget as items: deeper while >= this many share the prefix"),
    head_codebook_sizes: str | None = typer.Option(None, help="ACRQ head-stage sizes, e.g. 64,128,256"),
    hourglass: str | None = typer.Option(None, help="hourglass fix on a fixed-length method: drop_layer2 or top_k"),
    hourglass_k: int = typer.Option(32, help="with --hourglass top_k: drop layer 2 for its K most frequent tokens"),
    overwrite: bool = typer.Option(False, help="replace a SID table already in --out (and items assigned to it)"),
) -> None:
    """Fit a SID tokenizer on the items and write the SID table (never over an existing one without --overwrite)."""
    from semid.data import read_items
    from semid.data.provenance import check_folder_vectors
    from semid.pipeline import tokenize_dataset, tokenizer_options

    given = {
        "codebook_sizes": _int_list(codebook_sizes),
        "seed": seed,
        "tau": tau,
        "min_items": min_items,
        "head_codebook_sizes": _int_list(head_codebook_sizes) if head_codebook_sizes is not None else None,
        "hourglass": hourglass,
        "hourglass_k": hourglass_k if hourglass is not None else None,
        "quantizer": quantizer,
        "epochs": epochs,
    }
    options = tokenizer_options(method, {k: v for k, v in given.items() if v is not None})
    try:
        check_out_dir(out)
        with warnings_shown(console), tempfile.TemporaryDirectory(prefix="semid-vectors-") as tmp:
            if vectors is None:
                check_folder_vectors(data_dir)  # not those of a catalogue imported before this one
            else:
                vectors = joined_by_id(vectors, read_items(data_dir / "items.parquet")["item_id"], Path(tmp))
            res = tokenize_dataset(data_dir, out, method, vectors, dedup, overwrite, **options)
    except (SemidError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    console.print(
        f"{res.tokenizer.method}: {res.table.n_items:,} items -> {res.table.n_sids:,} SIDs "
        f"in {res.fit_seconds:.1f}s -> {out}"
    )


@app.command()
def assign(
    tokenize_dir: Path = typer.Argument(..., help="a `semid tokenize` output folder (tokenizer/ + sid_table/)"),
    items: Path = typer.Option(..., help="new items (.jsonl/.csv/.parquet): item_id, text, popularity"),
    vectors: Path | None = typer.Option(None, help="their vectors (.npy/.parquet) instead of embedding the texts"),
    model: str = typer.Option("minilm", help="text encoder when no --vectors: 'minilm' or a local folder"),
) -> None:
    """Cold start: SIDs for new items without refitting; the SID table is updated in place (atomically)."""
    from semid.data import read_items
    from semid.embed import EncoderConfig
    from semid.pipeline import assign_new_items

    try:
        check_out_dir(tokenize_dir)
        with tempfile.TemporaryDirectory(prefix="semid-vectors-") as tmp:
            if vectors is not None:
                vectors = joined_by_id(vectors, read_items(items)["item_id"], Path(tmp))
            res = assign_new_items(tokenize_dir, items, vectors, EncoderConfig(model))
    except (SemidError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    console.print(
        f"assigned {res.n_new:,} new items ({res.n_new_sids:,} new SIDs); table now {res.table.n_items:,} items"
    )


@app.command()
def diagnose(
    table: Path = typer.Argument(..., help="a SID table folder, or a `semid tokenize` output folder"),
    out: Path = typer.Option(..., "--out", help="folder for diagnostics.json and report.html"),
) -> None:
    """Write diagnostics.json and report.html (hourglass, collisions, code lengths)."""
    from semid.pipeline import diagnose_table, resolve_table_dir
    from semid.sid import SIDTable

    try:
        check_out_dir(out)
        diag = diagnose_table(SIDTable.load(resolve_table_dir(table)), out, title=f"SID diagnostics: {table}")
    except (SemidError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    _print_summary(diag)
    console.print(f"-> {out / 'diagnostics.json'}, {out / 'report.html'}")


@app.command()
def train(
    data_dir: Path = typer.Argument(..., help="dataset folder"),
    tokenize_dir: Path = typer.Argument(..., help="a `semid tokenize` output folder (its sid_table/ is used)"),
    out: Path = typer.Option(..., "--out", help="retriever artifact folder (rerun to resume from its checkpoint)"),
    backbone: str = typer.Option("minilm", help="minilm (frozen MiniLM / item vectors + small SID decoder) or t5"),
    epochs: int = typer.Option(30, help="at most this many epochs (early stopping usually ends sooner)"),
    patience: int = typer.Option(3, help="stop after this many epochs without a better valid Recall@10 (0: never)"),
    batch_size: int = typer.Option(512, help="pairs per step"),
    lr: float = typer.Option(3e-3, help="peak learning rate"),
    d_model: int = typer.Option(128, help="model width"),
    layers: int | None = typer.Option(None, help="encoder layers (default: t5 4; minilm's history encoder 0)"),
    decoder_layers: int = typer.Option(2, help="decoder layers"),
    max_train_records: int | None = typer.Option(None, help="seeded sample of training records (default: all)"),
    eval_queries: int = typer.Option(1000, help="valid records decoded after each epoch (seeded sample)"),
    pretrained: str | None = typer.Option(None, help="t5: local Hugging Face T5 checkpoint folder to start from"),
    no_index_pairs: bool = typer.Option(False, help="skip the item text -> SID indexing pairs"),
    seed: int = typer.Option(0, help="random seed"),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if available)"),
) -> None:
    """Train the generative retriever (query or history -> SID) until valid recall stops improving."""
    from semid.retrieve.build import BuildConfig
    from semid.retrieve.model import ModelConfig
    from semid.retrieve.sid_model import SIDModelConfig
    from semid.retrieve.train import TrainConfig, train_retriever

    t5_layers = 4 if layers is None else layers
    t5 = ModelConfig(
        d_model=d_model,
        d_ff=4 * d_model,
        num_layers=t5_layers,
        num_decoder_layers=decoder_layers,
        pretrained=pretrained,
    )
    minilm = SIDModelConfig(d_model=d_model, encoder_layers=layers or 0, decoder_layers=decoder_layers)
    cfg = TrainConfig(
        epochs=epochs,
        patience=patience,
        batch_size=batch_size,
        lr=lr,
        index_pairs=not no_index_pairs,
        max_train_records=max_train_records,
        eval_queries=eval_queries,
        seed=seed,
        device=device,
    )
    try:
        if d_model < 1 or decoder_layers < 1 or (layers or 0) < 0 or (backbone == "t5" and t5_layers < 1):
            raise ValueError("--d-model and --decoder-layers must be >= 1, --layers >= 0 (>= 1 for t5)")
        _, history = train_retriever(data_dir, tokenize_dir, out, BuildConfig(backbone, minilm, t5), cfg)
    except (SemidError, ValueError) as exc:
        raise _fail(exc) from None
    last = history[-1] if history else {}
    console.print(f"trained {len(history)} epochs; last {json.dumps(last)} -> {out}")


@app.command()
def retrieve(
    artifact: Path = typer.Argument(..., help="a `semid train` output folder"),
    query: list[str] = typer.Argument(None, help="query text(s)"),
    history: str | None = typer.Option(None, help="comma-separated item ids, oldest first (history models)"),
    k: int = typer.Option(10, "-k", "--k", help="items to return"),
    beam: int = typer.Option(20, help="beam width"),
    unconstrained: bool = typer.Option(False, help="decode without the trie (shows hallucinated SIDs)"),
) -> None:
    """Retrieve items for a query (or a user history) from the CLI."""
    from transformers.utils import logging as hf_logging

    from semid.history_limit import cut_histories, cut_message
    from semid.retrieve.retriever import Retriever

    hf_logging.disable_progress_bar()  # keep stdout to the JSON lines
    try:
        ret = Retriever.load(artifact)
        if history is not None:
            histories = [[h for h in history.split(",") if h]]
            results = ret.search(histories=histories, k=k, beam=beam, constrained=not unconstrained)
            n_cut, limit = cut_histories(ret.backbone, histories)
            if n_cut and limit is not None:
                console.print(f"[bold yellow]warning:[/] {escape(cut_message(limit, n_cut, len(histories)))}")
        elif query:
            results = ret.search(list(query), k=k, beam=beam, constrained=not unconstrained)
        else:
            raise ValueError("give a query or --history")
    except (SemidError, ValueError) as exc:
        raise _fail(exc) from None
    for res in results:
        print(
            json.dumps(
                {
                    "items": res.item_ids,
                    "scores": [round(s, 4) for s in res.scores],
                    "sids": [list(s) for s in res.sids],
                    "hallucinated_sids": res.n_hallucinated,
                }
            )
        )


@app.command()
def serve(
    artifact: Path = typer.Argument(..., help="a `semid train` output folder"),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    beam: int = typer.Option(20, help="beam width of every search"),
    max_batch: int = typer.Option(32, help="requests per decoder call"),
    max_wait_ms: float = typer.Option(5.0, help="how long a batch waits for more requests"),
    max_queue: int = typer.Option(256, help="waiting requests beyond this get 503"),
    max_k: int = typer.Option(1000, help="largest k a request may ask for"),
    sid_table: Path | None = typer.Option(
        None,
        help="SID table to serve and hot-reload (a `semid tokenize` folder after `semid assign`); "
        "default: the artifact's own",
    ),
    reload_interval: float = typer.Option(2.0, help="seconds between checks of the SID table for changes"),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if available)"),
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
    from semid.pipeline import resolve_table_dir
    from semid.retrieve.retriever import Retriever
    from semid.serve import BatchConfig, ServeConfig, create_app
    from semid.serve.server import ServerLimits, admin_notice, is_loopback, run
    from semid.sid.table import SIDTable

    try:
        limits = ServerLimits(header_timeout, keep_alive, max_connections)
        ret = Retriever.load(artifact, device=device)
        table_dir = resolve_table_dir(sid_table) if sid_table is not None else artifact / "sid_table"
        if sid_table is not None:
            ret = ret.with_table(SIDTable.load(table_dir))
        cfg = ServeConfig(
            batch=BatchConfig(max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue, beam=beam),
            max_k=max_k,
            table_dir=table_dir,
            reload_interval_s=reload_interval,
            body_timeout_s=body_timeout,
            admin_token=admin_token,
            admin_open=is_loopback(host),
        )
        api = create_app(ret, cfg)
    except (SemidError, ValueError) as exc:
        raise _fail(exc) from None
    warn, notice = admin_notice(host, admin_token)
    console.print(f"[bold yellow]warning:[/] {escape(notice)}" if warn else escape(notice), soft_wrap=True)
    console.print(f"serving {artifact} ({ret.table.n_items:,} items) on http://{host}:{port}")
    run(api, host, port, limits)


@app.command()
def bench(
    dataset: str = typer.Option("movielens", help="bundled dataset: movielens or wordnet"),
    out: Path = typer.Option(..., "--out", help="output folder (rerun to resume: finished runs are kept)"),
    methods: str = typer.Option("all", help="comma-separated methods, or 'all' (see semid.eval.harness)"),
    seeds: int = typer.Option(3, help="seeds per generative method"),
    data_dir: Path | None = typer.Option(None, help="a prepared + embedded dataset folder instead of DATASET"),
    max_items: int | None = typer.Option(None, help="seeded catalogue subset"),
    max_train_queries: int | None = typer.Option(None, help="seeded cap on training records"),
    max_test_queries: int = typer.Option(1000, help="seeded sample of test queries (cold ones all kept)"),
    cold_fraction: float = typer.Option(0.1, help="share of test targets held out as cold items"),
    codebook_sizes: str = typer.Option("256,256,256", help="codes per layer for the RQ methods"),
    rq_vae_epochs: int = typer.Option(20, help="TIGER RQ-VAE epochs"),
    backbone: str = typer.Option("minilm", help="retriever backbone for every generative method: minilm or t5"),
    epochs: int = typer.Option(30, help="at most this many training epochs (the same for every method)"),
    patience: int = typer.Option(3, help="early stopping: epochs without a better valid Recall@10"),
    d_model: int = typer.Option(128, help="retriever width"),
    layers: int = typer.Option(0, help="encoder layers: minilm's history encoder (0: none); t5 needs >= 1"),
    decoder_layers: int = typer.Option(2, help="decoder layers"),
    lr: float = typer.Option(3e-3, help="learning rate"),
    batch_size: int = typer.Option(512, help="training pairs per step"),
    beam: int = typer.Option(100, help="beam width at evaluation"),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda if available)"),
    keep_artifacts: bool = typer.Option(False, help="keep every run's tokenizer and retriever folders"),
) -> None:
    """Every method on the same test queries: results.json, results.md (mean ± 95% CI) and report.html."""
    from semid.eval.harness import ALL_METHODS, BenchConfig, run_bench

    chosen = list(ALL_METHODS) if methods == "all" else [m.strip() for m in methods.split(",") if m.strip()]
    cfg = BenchConfig(
        dataset=dataset,
        data_dir=str(data_dir) if data_dir is not None else None,
        methods=chosen,
        seeds=seeds,
        max_items=max_items,
        max_train_queries=max_train_queries,
        max_test_queries=max_test_queries,
        cold_fraction=cold_fraction,
        codebook_sizes=_int_list(codebook_sizes),
        rq_vae_epochs=rq_vae_epochs,
        backbone=backbone,
        epochs=epochs,
        patience=patience,
        d_model=d_model,
        layers=layers,
        decoder_layers=decoder_layers,
        lr=lr,
        batch_size=batch_size,
        beam=beam,
        device=device,
        keep_artifacts=keep_artifacts,
    )
    try:
        results = run_bench(cfg, out)
    except (SemidError, ValueError) as exc:
        raise _fail(exc) from None
    from semid.eval.harness import results_markdown

    print(results_markdown(results))  # plain: a markdown table must not be wrapped by the terminal width
    console.print(json.dumps({k: str(out / k) for k in ("results.json", "results.md", "report.html")}))


def _print_summary(diag: dict) -> None:
    t = Table(title=f"{diag['n_items']:,} items, {diag['n_sids']:,} SIDs, collision rate {diag['collision_rate']:.2%}")
    for col in ("layer", "utilization", "entropy", "gini", "top1_share", "path_sparsity"):
        t.add_column(col)
    for s in diag["layers"]:
        t.add_row(
            str(s["layer"]),
            f"{s['utilization']:.2f}",
            f"{s['entropy']:.2f}",
            f"{s['gini']:.3f}",
            f"{s['top1_share']:.3f}",
            f"{s['path_sparsity']:.3g}",
        )
    Console().print(t)


class _ConsoleLog:
    """The demo's steps as rules on the console, its diagnostics as a table."""

    def step(self, title: str) -> None:
        console.rule(title)

    def info(self, text: str) -> None:
        console.print(text)

    def diagnostics(self, diag: dict) -> None:
        _print_summary(diag)


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="output folder"),
    dataset: str = typer.Option("movielens", help="bundled dataset"),
    codebook_sizes: str = typer.Option("256,256,256", help="RQ-KMeans codes per layer"),
    train_queries: int | None = typer.Option(None, help="seeded sample of training records (default: all)"),
    epochs: int = typer.Option(4, help="at most this many retriever epochs (early stopping, best kept)"),
    overwrite: bool = typer.Option(False, help="replace a retriever or SID table in --out that no demo wrote"),
) -> None:
    """End to end on a bundled dataset: prepare -> embed -> tokenize (RQ-KMeans) -> diagnose -> train a
    generative retriever and compare it with BM25, dense and popularity on the test queries. A rerun replaces
    what the previous demo wrote in --out; anything else there (a retriever trained into it, a SID table grown
    by `semid assign`) only with --overwrite. The previous retriever stays loadable until the new one is in."""
    from semid.demo import DemoConfig, run_demo

    cfg = DemoConfig(dataset, _int_list(codebook_sizes), train_queries, epochs, overwrite)
    try:
        res = run_demo(out, cfg, _ConsoleLog())
    except (SemidError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    print(res.bench.to_markdown())
    console.print(json.dumps(res.outputs))


if __name__ == "__main__":
    app()
