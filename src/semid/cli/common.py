"""What every `semid` command shares: the console, the one error boundary, option parsing, warnings shown as
they happen, vectors joined by id, and the diagnostics table."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from semid.errors import SemidError, SemidWarning

console = Console(stderr=True)
DEVICE_HELP = "cpu or cuda (default: cuda if available)"
LR_SCHEDULE_HELP = "after warm-up: cosine (decays to 0 at the last epoch) or constant"
FINETUNE_LAYERS_HELP = (
    "minilm, text queries: also train MiniLM's top N layers (0..6); the bottom layers stay frozen and run once "
    "per text (0: MiniLM frozen, each query its cached vector)"
)
FINETUNE_LR_HELP = "learning rate of the fine-tuned MiniLM layers (--finetune-layers)"
MAX_TRAIN_RECORDS_HELP = "seeded sample of the training records (default: all)"
PSEUDO_QUERIES_HELP = "text queries: also this many random spans of each item's text -> its SID (NCI)"


def renamed_option(old: str, new: str, old_value: int | None, value: int | None) -> int | None:
    """The value of option `new`, given under its deprecated spelling `old` (a warning says so) or its own
    (default None); both at once is a usage error."""
    if old_value is None:
        return value
    if value is not None:
        raise typer.BadParameter(f"{old} is the deprecated spelling of {new}; give only {new}")
    console.print(f"[bold yellow]warning:[/] {old} is deprecated; use {new}")
    return old_value


def guarded(command: Callable[..., None]) -> Callable[..., None]:
    """`command` behind the one error boundary of the CLI: a SemidError, ValueError or OSError (bad input,
    missing or unwritable files) ends it with 'error: <message>' on stderr and exit code 2; anything else is
    a bug and keeps its traceback. Typer reads the options from the wrapped function's signature."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (SemidError, ValueError, OSError) as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(code=2) from None

    return run


def no_hf_progress_bars() -> None:
    """No Hugging Face progress bars on a command's output, without importing transformers for it (a second of
    start-up): switched off where transformers or huggingface_hub is loaded, else by the variable they read
    when they load, if the command needs them at all."""
    if "transformers" in sys.modules:
        from transformers.utils import logging

        logging.disable_progress_bar()
    elif "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    else:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def int_list(text: str) -> list[int]:
    """'256,256,256' -> [256, 256, 256], or a usage error."""
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers like 256,256,256, got {text!r}") from None
    if not values:
        raise typer.BadParameter("expected at least one codebook size")
    return values


def print_diagnostics(diag: dict[str, Any]) -> None:
    """The per-layer token statistics of `semid diagnose` as a table on stdout."""
    from semid.sid.diagnostics import length_text

    t = Table(
        title=f"{diag['n_items']:,} items, {diag['n_sids']:,} SIDs, collision rate {diag['collision_rate']:.2%}",
        caption=length_text(diag["length"]),
    )
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
