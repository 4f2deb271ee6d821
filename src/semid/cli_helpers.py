"""Helpers of the `semid` command line that are not commands: warnings on the console, vectors joined by id."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from semid.errors import SemidWarning


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
