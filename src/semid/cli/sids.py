"""`semid tokenize`, `semid assign` and `semid diagnose`: SIDs for a dataset's items, and what is wrong with them."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.markup import escape

from semid.cli.common import console, int_list, joined_by_id, print_diagnostics, warnings_shown
from semid.files import check_out_dir


def tokenize(
    data_dir: Path = typer.Argument(..., help="dataset folder (with item_vectors.npy, or pass --vectors)"),
    out: Path = typer.Option(..., "--out", help="folder for tokenizer/ and sid_table/"),
    method: str = typer.Option("rq_kmeans", help="dsi, nci, rq_kmeans, rq_vae, sarq, acrq or sa2crq"),
    quantizer: str | None = typer.Option(None, help="for sarq/acrq/sa2crq: rq_kmeans (default) or rq_vae"),
    epochs: int | None = typer.Option(None, help="RQ-VAE epochs over all items (ACRQ: the head stage sees as many)"),
    dedup: bool = typer.Option(False, help="append TIGER's dedup token so no two items share a SID"),
    codebook_sizes: str = typer.Option("256,256,256", help="codes per layer, comma-separated (nci: branching)"),
    vectors: Path | None = typer.Option(None, help="item vectors (.npy/.parquet) instead of DATA_DIR's"),
    seed: int = typer.Option(0, help="random seed"),
    tau: float | None = typer.Option(None, help="SARQ budget: an item goes deeper while P(prefix) > tau"),
    min_items: int | None = typer.Option(None, help="SARQ budget as items: deeper while >= this many share the prefix"),
    head_codebook_sizes: str | None = typer.Option(None, help="ACRQ head-stage sizes, e.g. 64,128,256"),
    tail_depth: str | None = typer.Option(
        None, help="sa2crq: tail depths by head tables or whole-catalogue counts (catalogue, default) or head_tables"
    ),
    hourglass: str | None = typer.Option(None, help="hourglass fix on a fixed-length method: drop_layer2 or top_k"),
    hourglass_k: int = typer.Option(32, help="with --hourglass top_k: drop layer 2 for its K most frequent tokens"),
    overwrite: bool = typer.Option(False, help="replace a SID table already in --out (and items assigned to it)"),
    collaborative: bool = typer.Option(
        False, help="click logs: fit on content vectors joined to collaborative ones from the training histories"
    ),
) -> None:
    """Fit a SID tokenizer on the items and write the SID table (never over an existing one without --overwrite)."""
    from semid.data import read_items
    from semid.data.provenance import check_folder_vectors
    from semid.embed.collaborative import CollaborativeConfig
    from semid.pipeline import tokenize_dataset
    from semid.tokenize import options_for

    given = {
        "codebook_sizes": int_list(codebook_sizes),
        "seed": seed,
        "tau": tau,
        "min_items": min_items,
        "head_codebook_sizes": int_list(head_codebook_sizes) if head_codebook_sizes is not None else None,
        "tail_depth": tail_depth,
        "hourglass": hourglass,
        "hourglass_k": hourglass_k if hourglass is not None else None,
        "quantizer": quantizer,
        "epochs": epochs,
    }
    options = options_for(method, {k: v for k, v in given.items() if v is not None})
    check_out_dir(out)
    with warnings_shown(console), tempfile.TemporaryDirectory(prefix="semid-vectors-") as tmp:
        if vectors is None:
            check_folder_vectors(data_dir)  # not those of a catalogue imported before this one
        else:
            vectors = joined_by_id(vectors, read_items(data_dir / "items.parquet")["item_id"], Path(tmp))
        joined = CollaborativeConfig() if collaborative else None
        res = tokenize_dataset(data_dir, out, method, vectors, dedup, overwrite, joined, **options)
    console.print(
        f"{res.tokenizer.method}: {res.table.n_items:,} items -> {res.table.n_sids:,} SIDs "
        f"in {res.fit_seconds:.1f}s -> {out}"
    )


def assign(
    tokenize_dir: Path = typer.Argument(..., help="a `semid tokenize` output folder (tokenizer/ + sid_table/)"),
    items: Path = typer.Option(..., help="new items (.jsonl/.csv/.parquet): item_id, text, popularity"),
    vectors: Path | None = typer.Option(None, help="their vectors (.npy/.parquet) instead of embedding the texts"),
    model: str = typer.Option(
        "minilm", help="text encoder when no --vectors: 'minilm' or a local folder, the one the SIDs were fitted with"
    ),
    grow_dedup: bool = typer.Option(
        False,
        help="--dedup tables: a SID of its own for every new item, growing the dedup layer (a retriever "
        "trained on the table can then no longer serve it); default: share the last dedup code",
    ),
) -> None:
    """Cold start: SIDs for new items without refitting; the SID table is updated in place (atomically)."""
    from semid.data import read_items
    from semid.embed import EncoderConfig
    from semid.pipeline import assign_new_items

    check_out_dir(tokenize_dir)
    with tempfile.TemporaryDirectory(prefix="semid-vectors-") as tmp:
        if vectors is not None:
            vectors = joined_by_id(vectors, read_items(items)["item_id"], Path(tmp))
        res = assign_new_items(tokenize_dir, items, vectors, EncoderConfig(model), grow_dedup)
    console.print(
        f"assigned {res.n_new:,} new items ({res.n_new_sids:,} new SIDs); table now {res.table.n_items:,} items"
    )
    if res.note:
        console.print(f"[bold yellow]warning:[/] {escape(res.note)}")


def diagnose(
    table: Path = typer.Argument(..., help="a SID table folder, or a `semid tokenize` output folder"),
    out: Path = typer.Option(..., "--out", help="folder for diagnostics.json and report.html"),
) -> None:
    """Write diagnostics.json and report.html (hourglass, collisions, code lengths)."""
    from semid.pipeline import diagnose_table, resolve_table_dir
    from semid.sid import SIDTable

    check_out_dir(out)
    diag = diagnose_table(SIDTable.load(resolve_table_dir(table)), out, title=f"SID diagnostics: {table}")
    print_diagnostics(diag)
    console.print(f"-> {out / 'diagnostics.json'}, {out / 'report.html'}")
