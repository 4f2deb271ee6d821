"""`semid` command line: a thin layer over the library, one module per command group.

Every command runs behind one error boundary (`semid.cli.common.guarded`); this table registers them, in
the order `semid --help` lists them.
"""

from __future__ import annotations

import typer

from semid.cli import bench, data, export, models, sids
from semid.cli.common import guarded

app = typer.Typer(help="Generative retrieval with adaptive semantic IDs.", no_args_is_help=True)
data_app = typer.Typer(help="Prepare and import datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
export_app = typer.Typer(help="Export SIDs for other tools.", no_args_is_help=True)

data_app.command("prepare")(guarded(data.prepare))
data_app.command("import")(guarded(data.import_))
for command in (
    data.embed,
    sids.tokenize,
    sids.assign,
    sids.diagnose,
    models.train,
    models.retrieve,
    models.serve,
    bench.bench,
    bench.demo,
):
    app.command()(guarded(command))
app.add_typer(export_app, name="export")
export_app.command("hf")(guarded(export.hf))

__all__ = ["app"]
