"""`semid data prepare`, `semid data import` and `semid embed`: a dataset folder and its item vectors."""

from __future__ import annotations

from pathlib import Path

import typer

from semid.cli.common import console, warnings_shown
from semid.files import check_not_overwriting, check_out_dir

HEAD_COVERAGE_HELP = "head = most popular items covering this share of popularity"


def prepare(
    name: str = typer.Argument(..., help="movielens or wordnet"),
    out: Path = typer.Option(..., "--out", help="dataset folder to write"),
    head_coverage: float = typer.Option(0.8, help=HEAD_COVERAGE_HELP),
    wordnet_dir: Path = typer.Option(Path("/usr/share/wordnet"), help="folder with the WordNet 3.0 data files"),
) -> None:
    """Build a bundled real dataset into the semid on-disk format."""
    from semid.data import prepare_dataset

    check_out_dir(out)
    with warnings_shown(console):
        ds = prepare_dataset(name, out, head_coverage=head_coverage, wordnet_dir=wordnet_dir)
    console.print(
        f"{name}: {ds.n_items:,} items, queries {ds.meta['n_queries']}, "
        f"head {ds.meta['head_tail']['n_head']:,} -> {out}"
    )


def import_(
    items: Path = typer.Option(..., help="items file (.jsonl, .csv or .parquet): item_id, text, popularity"),
    queries: Path = typer.Option(..., help="query records file: query_id, split, query and/or history, target"),
    out: Path = typer.Option(..., "--out", help="dataset folder to write"),
    name: str | None = typer.Option(None, help="the dataset's name in every output (default: the --out folder's)"),
    head_coverage: float = typer.Option(0.8, help=HEAD_COVERAGE_HELP),
) -> None:
    """Check your own catalogue and click log and write them as a semid dataset."""
    import pandas as pd

    from semid.data import build_dataset, read_items, read_queries, save_dataset
    from semid.data.format import ITEMS_FILE, META_FILE, QUERIES_FILE

    check_out_dir(out)
    check_not_overwriting([items, queries], [out / ITEMS_FILE, out / QUERIES_FILE, out / META_FILE])
    item_df = read_items(items)
    query_df = read_queries(queries, pd.Index(item_df["item_id"]))
    name = name or out.resolve().name
    with warnings_shown(console):
        ds = build_dataset(name, item_df, query_df, {"source": f"{items} + {queries}"}, head_coverage)
        save_dataset(ds, out)
    console.print(
        f"{name}: {ds.n_items:,} items (head {ds.meta['head_tail']['n_head']:,}), queries {ds.meta['n_queries']} "
        f"-> {out}"
    )


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

    check_out_dir(data_dir)  # item_vectors.npy goes there
    path = embed_dataset(data_dir, EncoderConfig(model, batch_size, device, use_cache=not no_cache))
    record_vectors_identity(data_dir)  # which items these are: `semid tokenize` checks it
    console.print(f"vectors -> {path}")
