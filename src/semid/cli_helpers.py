"""Helpers of the `semid` command line that are not commands: warnings on the console, vectors joined by id,
and which folders a previous `semid demo` wrote (so that a rerun replaces those, and nothing else)."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from semid.errors import DataError, SemidWarning


@contextmanager
def warnings_shown(console: Console) -> Iterator[None]:
    """semid's warnings (legal input that is almost surely a mistake) as 'warning: ...' lines, when they happen."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", SemidWarning)
        default = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
            if issubclass(category, SemidWarning):
                console.print(f"[bold yellow]warning:[/] {escape(str(message))}", soft_wrap=True)
            else:
                default(message, category, *args, **kwargs)  # type: ignore[arg-type]

        warnings.showwarning = show
        yield


def joined_by_id(vectors: Path, item_ids: Sequence[str], tmp: Path) -> Path:
    """A vectors parquet with an item_id column, joined on the items' ids into an .npy in `tmp` (rows in the
    items' order, for the pipeline, which takes rows by position); any other vectors file as it is."""
    if vectors.suffix not in (".parquet", ".pq") or not vectors.exists():
        return vectors
    import numpy as np
    import pyarrow.parquet as pq

    from semid.embed import load_vectors

    try:
        names = pq.read_schema(vectors).names
    except Exception:  # not readable as parquet: load_vectors says so, naming the file
        return vectors
    if "item_id" not in names:
        return vectors
    np.save(tmp / "joined.npy", load_vectors(vectors, item_ids=list(item_ids)))
    return tmp / "joined.npy"


DEMO_MARK = ".semid-demo.json"  # in each folder the demo replaces on a rerun: the fingerprint of what it wrote


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
