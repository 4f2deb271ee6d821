"""Reading the user's JSONL, CSV and parquet files into tables; every failure names the file (and line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from semid.errors import DataError, MissingResourceError


def line_of(fmt: str, row: int) -> tuple[int, str]:
    """Human line (or row) number of a 0-based data row in a file of this format."""
    if fmt == "jsonl":
        return row + 1, "line"
    if fmt == "csv":
        return row + 2, "line"  # the header is line 1
    return row, "row"


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(f"unsupported file type {suffix!r}; use .jsonl, .csv or .parquet", source=str(path))


def utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line; a byte that is not UTF-8 is a DataError naming its line and column."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, as some editors write
                raw = raw[3:]
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}; save the file as UTF-8",
                    source=str(path),
                    line=lineno,
                ) from None


def read_jsonl(path: Path) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for lineno, raw in utf8_lines(path):
        if not raw.strip():
            raise DataError("empty line (every line must be one JSON object)", source=str(path), line=lineno)
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON: {exc.msg}", source=str(path), line=lineno) from None
        if not isinstance(obj, dict):
            raise DataError("expected a JSON object", source=str(path), line=lineno)
        rows.append(obj)
    if not rows:
        raise DataError("the file is empty", source=str(path))
    return pd.DataFrame(rows)


def read_csv(path: Path) -> pd.DataFrame:
    for _ in utf8_lines(path):  # pandas' own decode error names neither the file nor the line
        pass
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty (a header row is expected)", source=str(path)) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"malformed CSV: {exc}", source=str(path)) from None


def read_table(path: Path) -> tuple[pd.DataFrame, str]:
    if not path.exists():
        raise MissingResourceError(f"{path}: no such file")
    fmt = file_format(path)
    if fmt == "jsonl":
        return read_jsonl(path), fmt
    if fmt == "csv":
        return read_csv(path), fmt
    try:
        return pd.read_parquet(path), fmt
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataError(f"cannot read parquet: {exc}", source=str(path)) from None
