"""What semid's reports share: n/a for numbers that do not exist (a mean over no items is not 0), and for the
self-contained HTML pages their layout, style and figures embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NOT_AVAILABLE = "n/a"
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1400px;margin:1.5em auto;padding:0 1.5em;color:#222;"
    "line-height:1.45}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}"
    ".table-wrap{overflow-x:auto}table{border-collapse:collapse;font-size:13px;margin:0.6em 0}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}"
    "th{background:#f2f4f7;vertical-align:bottom}tbody tr:nth-child(even){background:#fafafa}"
    "th:first-child,td:first-child{text-align:left}td strong{color:#0b4f9c}"
    "figure{margin:0.5em 0}img{max-width:100%;border:1px solid #eee}"
    "table.kv td{text-align:left;font-family:ui-monospace,monospace;font-size:12px}"
)


def fmt(value: float | None, spec: str = ".2f") -> str:
    """`value` formatted, or n/a when there is none (None or NaN: e.g. the mean code length of no items)."""
    if value is None or value != value:
        return NOT_AVAILABLE
    return format(value, spec)


def png_base64(fig: Figure) -> str:
    import matplotlib.pyplot as plt  # here: the text helpers above are for the CLI too, which needs no matplotlib

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figure_html(caption: str, fig: Figure) -> str:
    """A titled figure, its PNG embedded so the page stands alone."""
    text = html.escape(caption)
    return f"<h2>{text}</h2><figure><img alt='{text}' src='data:image/png;base64,{png_base64(fig)}'></figure>"


def key_value_table(values: Mapping[str, Any]) -> str:
    """A two-column table of settings, values as JSON (lists and None read as written in a config file)."""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in values.items()
    )
    return f"<div class='table-wrap'><table class='kv'><tbody>{rows}</tbody></table></div>"


def page(title: str, body: str) -> str:
    """A complete HTML document around `body` (already HTML); `title` is escaped here."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
