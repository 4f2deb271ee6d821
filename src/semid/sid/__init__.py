"""SID table (items <-> variable-length SIDs), diagnostics and the HTML report."""

from semid.sid.diagnostics import compute_diagnostics
from semid.sid.report import render_report, write_report
from semid.sid.table import SIDTable

__all__ = ["SIDTable", "compute_diagnostics", "render_report", "write_report"]
