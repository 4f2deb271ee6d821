"""The pipeline steps the CLI runs, as plain functions: embed a dataset, tokenize it, diagnose the SIDs.

Folder conventions (each step reads what the previous wrote):

- dataset folder (``semid data prepare``): items.parquet, queries.parquet, meta.json; ``semid embed``
  adds ``item_vectors.npy`` and ``item_vectors.json`` (model, dim).
- tokenization folder (``semid tokenize``): ``tokenizer/`` (config.json + tensors.safetensors),
  ``sid_table/`` and ``tokenize.json`` (method, dataset, fit time). ``semid assign`` grows its table in
  place, so tokenizing into a folder that already holds a table needs ``overwrite`` (the table's versions
  make each save crash-safe; they are not a history, the replaced one is gone). Tokenized with
  ``--collaborative``, it also holds ``collaborative.{json,npz}``: the join of content and collaborative
  vectors the tokenizer was fitted on, which `semid assign` and `semid train` apply to their items too.
- diagnostics (``semid diagnose``): ``diagnostics.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semid.assigned_vectors import ASSIGNED_VECTORS, CONTENT, JOINED, record_assigned_vectors
from semid.data.format import Dataset, load_dataset
from semid.data.provenance import vectors_model
from semid.embed.collaborative import CollaborativeConfig, CollaborativeVectors
from semid.embed.encoder import EncoderConfig, TextEncoder, same_model
from semid.embed.vectors import load_vectors
from semid.errors import DataError, MissingResourceError, SemidError
from semid.files import TABLE_DIR, TOKENIZER_DIR
from semid.sid.diagnostics import compute_diagnostics
from semid.sid.report import write_report
from semid.sid.store import table_version
from semid.sid.table import SIDTable
from semid.tokenize import Codes, Tokenizer, make_tokenizer
from semid.tokenize.base import append_dedup_token

ITEM_VECTORS = "item_vectors.npy"


def embed_dataset(data_dir: str | Path, config: EncoderConfig | None = None) -> Path:
    """Embed every item text of a dataset folder; write item_vectors.npy beside it."""
    root = Path(data_dir)
    ds = load_dataset(root)
    encoder = TextEncoder(config)
    vecs = encoder.encode(ds.items["text"].tolist())
    np.save(root / ITEM_VECTORS, vecs)
    info = {"model": str(encoder.model_path), "dim": int(vecs.shape[1]), "n": int(vecs.shape[0])}
    (root / "item_vectors.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return root / ITEM_VECTORS


def dataset_vectors(ds: Dataset, data_dir: Path, vectors: str | Path | None = None) -> np.ndarray:
    path = Path(vectors) if vectors is not None else data_dir / ITEM_VECTORS
    if not path.exists():
        raise MissingResourceError(f"{path}: no item vectors; run `semid embed {data_dir}` or pass --vectors FILE")
    return load_vectors(path, n_rows=ds.n_items)


@dataclass
class TokenizeResult:
    tokenizer: Tokenizer
    table: SIDTable
    out_dir: Path
    fit_seconds: float


def fit_sids(
    ds: Dataset, vectors: np.ndarray, method: str = "rq_kmeans", dedup: bool = False, **config: Any
) -> tuple[Tokenizer, SIDTable, float]:
    """Fit a tokenizer on a dataset's item vectors and build its SID table, in memory: (tokenizer, table,
    seconds). `dedup` appends TIGER's dedup token so that no two items share a SID (fixed-length codes only)."""
    is_head = ds.items["is_head"].to_numpy()
    tok = make_tokenizer(method, **config)
    start = time.perf_counter()
    tok.fit(vectors, is_head=is_head)
    codes = tok.encode(vectors, is_head=is_head)
    seconds = time.perf_counter() - start
    sizes = tok.codebook_sizes
    if dedup:
        codes, dedup_size = append_dedup_token(codes)
        sizes = [*sizes, dedup_size]
    table = SIDTable.build(ds.items["item_id"].tolist(), codes, sizes, ds.items["popularity"].to_numpy(), is_head)
    return tok, table, seconds


def tokenize_dataset(
    data_dir: str | Path,
    out_dir: str | Path,
    method: str = "rq_kmeans",
    vectors: str | Path | None = None,
    dedup: bool = False,
    overwrite: bool = False,
    collaborative: CollaborativeConfig | None = None,
    **config: Any,
) -> TokenizeResult:
    """Folder wrapper of `fit_sids`: read a dataset folder's vectors, save tokenizer + SID table. A SID table
    already in `out_dir` (perhaps grown by `semid assign`) is a DataError, before any work, unless `overwrite`.
    An RQ-VAE checkpoints into `out_dir`/checkpoint, so the same call after an interruption resumes.
    `collaborative`: fit on the content vectors joined to collaborative ones from the click log; the fitted
    join is saved with the tokenizer, so `semid assign` and `semid train` join new and trained items alike."""
    out = Path(out_dir)
    if not overwrite:
        check_no_table(out / TABLE_DIR)
    if method == "rq_vae" or config.get("quantizer") == "rq_vae":
        config.setdefault("checkpoint_dir", str(out / "checkpoint"))  # rerun the same call to resume training
    root = Path(data_dir)
    ds = load_dataset(root)
    x = dataset_vectors(ds, root, vectors)
    joined = None
    if collaborative is not None:
        joined = CollaborativeVectors.fit(ds, x, collaborative)
        x = joined.vectors(ds.items["item_id"].tolist(), x)
    tok, table, seconds = fit_sids(ds, x, method, dedup, **config)
    out.mkdir(parents=True, exist_ok=True)
    CollaborativeVectors.remove(out)  # a join from an earlier fit in this folder no longer applies
    (out / ASSIGNED_VECTORS).unlink(missing_ok=True)  # nor do the vectors of items assigned to the old table
    if joined is not None:
        joined.save(out)
    tok.save(out / TOKENIZER_DIR)
    table.save(out / TABLE_DIR)
    info = {
        "method": tok.method,
        "dataset": str(root.resolve()),
        "fit_encode_seconds": seconds,
        "dedup": dedup,
        "collaborative": None if collaborative is None else asdict(collaborative),
        "encoder": vectors_model(root) if vectors is None else None,  # what `semid assign` must embed with
        "config": config,
    }
    (out / "tokenize.json").write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    return TokenizeResult(tok, table, out, seconds)


def check_no_table(table_dir: Path) -> None:
    """DataError when `table_dir` holds a SID table: writing one there would replace it."""
    if table_version(table_dir) is None:
        return
    try:
        what = f"a SID table ({SIDTable.load(table_dir).n_items:,} items)"
    except (SemidError, ValueError, OSError):  # unreadable: still not ours to replace silently
        what = "a SID table"
    raise DataError(
        f"already holds {what}; tokenizing again would replace it, with any items `semid assign` added. "
        "Pass --overwrite to replace it, or choose another --out",
        source=str(table_dir),
    )


def resolve_table_dir(path: str | Path) -> Path:
    p = Path(path)
    return p / TABLE_DIR if (p / TABLE_DIR).is_dir() else p


def diagnose_table(table: SIDTable, out_dir: str | Path, title: str = "SID diagnostics") -> dict[str, Any]:
    """Write diagnostics.json and report.html for a SID table; return the diagnostics."""
    codes = table.item_codes()
    diag = compute_diagnostics(codes, table.codebook_sizes, table.is_head)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diagnostics.json").write_text(json.dumps(diag, indent=2) + "\n", encoding="utf-8")
    write_report(codes, diag, out / "report.html", title)
    return diag


def new_item_codes(
    tok: Tokenizer, table: SIDTable, vectors: np.ndarray, dedup: bool, grow_dedup: bool = True
) -> tuple[Codes, list[int]]:
    """Codes and codebook sizes for items not yet in `table`, from the fitted tokenizer (no refit; new items
    are tail items, so extension codes are allowed). With TIGER's dedup token each new item takes the next
    free rank under its code; when that needs more dedup codes than the table has, the dedup layer grows
    (`grow_dedup`), or, for a model trained on a fixed vocabulary, the item shares the last dedup code."""
    codes = tok.encode(vectors)
    sizes = list(table.codebook_sizes)
    if dedup:
        codes, dedup_size = append_dedup_token(codes, table.item_codes())
        if grow_dedup:
            sizes[-1] = max(sizes[-1], dedup_size)
        else:
            codes.codes[:, -1] = np.minimum(codes.codes[:, -1], sizes[-1] - 1)
    return codes, sizes


def check_same_encoder(recorded: str | None, model_path: Path, root: Path) -> None:
    """DataError when new items would be embedded by another text encoder than the one whose vectors the
    tokenizer was fitted on (tokenize.json's ``encoder``): their codes would come from another space."""
    if recorded is None or not Path(recorded).is_dir():  # vectors given to tokenize, or a folder since moved
        return
    if not same_model(recorded, model_path):
        raise DataError(
            f"the SIDs in {root} were fitted on vectors from {recorded}, not {model_path}: pass --model "
            f"{recorded} (or --vectors from that encoder)",
            source="model",
        )


@dataclass
class AssignResult:
    table: SIDTable
    n_new: int
    n_new_sids: int  # SIDs that did not exist before
    note: str = ""  # about the kept vectors (semid.assigned_vectors), when earlier ones were dropped


def assign_new_items(
    tokenize_dir: str | Path,
    items_file: str | Path,
    vectors: str | Path | None = None,
    encoder: EncoderConfig | None = None,
    grow_dedup: bool = False,
) -> AssignResult:
    """Cold start: give SIDs to new items with the fitted tokenizer, without refitting, and rewrite the
    SID table atomically. Existing items keep their SIDs; ids already in the table are an error. The
    vocabulary stays as fitted, so a retriever trained on the table can serve the grown one: with TIGER's
    dedup token, a new item past the last dedup code shares it (a tail item on a shared SID) unless
    `grow_dedup` gives it a code of its own."""
    from semid.data.format import read_items
    from semid.tokenize import load_tokenizer

    root = Path(tokenize_dir)
    table_dir = root / TABLE_DIR
    table = SIDTable.load(table_dir)
    tok = load_tokenizer(root / TOKENIZER_DIR)
    items = read_items(items_file)
    known = set(table.item_ids.to_pylist())
    clash = [i for i in items["item_id"] if i in known]
    if clash:
        raise DataError(
            f"item id {clash[0]!r} is already in the SID table ({len(clash)} such ids)", source=str(items_file)
        )
    info_path = root / "tokenize.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    if vectors is not None:
        x, encoder_path = load_vectors(vectors, n_rows=len(items)), ""
    else:
        text_encoder = TextEncoder(encoder)
        check_same_encoder(info.get("encoder"), text_encoder.model_path, root)
        x, encoder_path = text_encoder.encode(items["text"].tolist()), str(text_encoder.model_path.resolve())
    kind = CONTENT
    if CollaborativeVectors.present(root):  # the tokenizer was fitted on content joined to collaborative vectors
        x, kind = CollaborativeVectors.load(root).vectors(items["item_id"].tolist(), x), JOINED
    dedup = bool(info.get("dedup"))
    codes, sizes = new_item_codes(tok, table, x, dedup, grow_dedup)
    before = table.n_sids
    grown = table.extend(items["item_id"].tolist(), codes, items["popularity"].to_numpy(), codebook_sizes=sizes)
    note = record_assigned_vectors(root, items["item_id"].tolist(), x, kind, encoder_path)  # before the table
    grown.save(table_dir)
    return AssignResult(grown, len(items), grown.n_sids - before, note)
