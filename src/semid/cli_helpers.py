"""Helpers of the `semid` command line that are not commands."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

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
