"""The vectors of items `semid assign` added to a SID table, kept beside it so that a retriever serving the
grown table ranks those items by their own vector (rank "exact", history inputs), as it does its training
catalogue, instead of by the sum of their SID tokens' rows.

One file, ``assigned_vectors.npz`` in the `semid tokenize` folder, rewritten atomically by each assign (all
items assigned so far). It says what its vectors are: ``joined`` (content joined to collaborative vectors,
the space a retriever trained on such SIDs reads) or ``content`` from a named text encoder (the space of a
minilm retriever with that encoder); vectors given with ``--vectors`` are ``content`` of no known encoder
and are kept but never applied. The file is written before the table, so a crash between the two leaves
vectors for items the table does not hold yet (ignored), never items without their vectors.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from semid.errors import DataError, SemidError
from semid.files import write_bytes_atomic

if TYPE_CHECKING:
    from semid.retrieve.retriever import Retriever

ASSIGNED_VECTORS = "assigned_vectors.npz"
JOINED, CONTENT = "joined", "content"


def record_assigned_vectors(root: Path, item_ids: list[str], vectors: np.ndarray, kind: str, encoder: str) -> str:
    """Add the new items' vectors to the folder's file; returns a note when earlier ones of another kind or
    encoder had to be dropped ("" otherwise)."""
    ids, vecs, note = np.asarray(item_ids, dtype=str), np.asarray(vectors, dtype=np.float32), ""
    path = root / ASSIGNED_VECTORS
    try:
        old = read_assigned_vectors(path) if path.exists() else None
    except DataError as exc:  # never a reason to refuse new items: theirs are written, the old ones said lost
        old, note = None, f"{exc}; replaced"
    if old is not None:
        old_ids, old_vecs, old_kind, old_encoder = old
        if (old_kind, old_encoder) == (kind, encoder) and old_vecs.shape[1] == vecs.shape[1]:
            ids, vecs = np.concatenate([old_ids, ids]), np.concatenate([old_vecs, vecs])
        else:
            note = f"{len(old_ids):,} earlier assigned items' vectors ({old_kind}, {old_encoder or 'given'}) dropped"
    buf = io.BytesIO()
    np.savez(buf, item_ids=ids, vectors=vecs, kind=np.asarray(kind), encoder=np.asarray(encoder))
    write_bytes_atomic(path, buf.getvalue())
    return note


def read_assigned_vectors(path: Path) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(item ids, vectors, kind, encoder) of an assigned_vectors.npz."""
    try:
        with np.load(path, allow_pickle=False) as f:
            ids, vecs, kind, encoder = f["item_ids"], f["vectors"], str(f["kind"]), str(f["encoder"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"not a readable assigned-vectors file ({exc}); run `semid assign` again", source=str(path)
        ) from None
    if vecs.ndim != 2 or len(ids) != len(vecs):
        raise DataError(f"{len(ids)} item ids for vectors of shape {vecs.shape}", source=str(path))
    return ids, vecs, kind, encoder


def apply_assigned_vectors(retriever: Retriever, table_dir: Path) -> str:
    """Give the retriever the assigned items' vectors kept beside `table_dir` (a `semid tokenize` folder's
    sid_table) where they are in its space; returns why they were not used ("" when used or absent)."""
    from semid.embed.encoder import same_model
    from semid.retrieve.backbones import MiniLMBackbone

    path = Path(table_dir).parent / ASSIGNED_VECTORS
    backbone = retriever.backbone
    if not path.exists() or not isinstance(backbone, MiniLMBackbone):
        return ""
    try:  # a bad file, or an encoder not installed here: serve by the SID rows, and say why
        ids, vecs, kind, encoder = read_assigned_vectors(path)
        ours = kind != CONTENT or not encoder or same_model(encoder, backbone.encoder_name)
    except SemidError as exc:
        return f"{exc}; the assigned items' vectors are not used"
    if kind == CONTENT and not encoder:
        return f"{path}: vectors given to `semid assign --vectors` are of no known encoder; not used"
    if not ours:
        return f"{path}: embedded by {encoder}, not the retriever's encoder ({backbone.encoder_name}); not used"
    if vecs.shape[1] != backbone.model.dim:
        return f"{path}: {vecs.shape[1]}-d vectors, the retriever reads {backbone.model.dim}-d ones; not used"
    retriever.add_item_vectors(ids.tolist(), vecs)
    return ""
