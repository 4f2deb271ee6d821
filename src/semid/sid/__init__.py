"""SID table (items <-> variable-length SIDs), diagnostics and the HTML report.

The report (matplotlib, a second of start-up) loads when first asked for, not with the table: `semid retrieve`
and `semid serve` need the table only."""

from typing import Any

from semid.sid.diagnostics import compute_diagnostics
from semid.sid.table import SIDTable

__all__ = ["SIDTable", "compute_diagnostics", "render_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name in ("render_report", "write_report"):
        from semid.sid import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
