"""Crash-safe SID table folders: immutable version folders and an atomically replaced pointer.

The folder users pass (``.../sid_table``) holds::

    CURRENT                     the name of the version folder that is the table (replaced by os.replace)
    v-<time>-<random>/          table.json, arrays.safetensors, items.parquet; never modified once named
    .lock                       flock'ed by a writer, and by a reader while it removes litter

A save writes and fsyncs a new version folder, then replaces ``CURRENT``. That replace is the one step
that changes what readers see, so at every instant a reader finds the complete old table or the complete
new one, and a kill at any point leaves one of them. A reader resolves ``CURRENT`` once and reads all
three files from that folder (never a mix of two tables); if the folder vanishes under it (a save
replaced it), it reads the new one. What a killed save leaves (a version folder ``CURRENT`` does not
name, a pointer temp file) is removed by the next save, or by the next load that can take the lock.

Tables written by older semid (the three files directly in ``sid_table/``) are still read, and a crash
of that code between its two renames is recovered from ``.sid_table.old``; the next save replaces
both with the layout above. Files and folders get the permissions the umask gives.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors.numpy import load_file

from semid.errors import DataError, MissingResourceError
from semid.files import fsync_path, save_safetensors, write_bytes_synced
from semid.sid.checks import check_table

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; saves are still atomic, concurrent writers are not serialised
    fcntl = None  # type: ignore[assignment]

TABLE_META = "table.json"
TABLE_ARRAYS = "arrays.safetensors"
TABLE_ITEMS = "items.parquet"
TABLE_FILES = frozenset({TABLE_META, TABLE_ARRAYS, TABLE_ITEMS})
POINTER = "CURRENT"
LOCK = ".lock"
_VERSION = re.compile(r"v-[0-9a-f]+-[0-9a-f]+")
_POINTER_TMP = re.compile(rf"{POINTER}\.v-[0-9a-f]+-[0-9a-f]+\.tmp")
_READ_ATTEMPTS = 5

T = TypeVar("T")


def _new_version() -> str:
    return f"v-{time.time_ns():x}-{secrets.token_hex(4)}"


def _pointer(root: Path) -> str | None:
    """The version named by ``root/CURRENT``, None when there is no pointer (older layout, or no table)."""
    try:
        name = (root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable table pointer ({exc})", source=str(root / POINTER)) from None
    if not _VERSION.fullmatch(name):
        raise DataError(f"not a table version name: {name[:80]!r}", source=str(root / POINTER))
    return name


def _legacy_old(root: Path) -> Path:
    return root.with_name(f".{root.name}.old")


def resolve(root: Path) -> Path:
    """The folder whose three files are the table now: the pointer's version, else ``root`` itself (older
    layout), else ``.<name>.old`` when older semid was killed between its two renames."""
    name = _pointer(root)
    if name is not None:
        return root / name
    if not (root / TABLE_META).exists() and (_legacy_old(root) / TABLE_META).exists():
        return _legacy_old(root)
    return root


def table_version(root: Path) -> str | None:
    """What identifies the table in `root` now (changes on every save), None when there is none."""
    try:  # a damaged pointer is a version too: loading it fails, and the watcher says so
        name = (root / POINTER).read_bytes().decode("utf-8", errors="replace").strip()
    except FileNotFoundError:  # the older layout, edited in place: any of its files may change
        try:
            folder = resolve(root)
            stats = [(folder / f).stat() for f in sorted(TABLE_FILES) if (folder / f).exists()]
        except (OSError, DataError):
            return None
        if not (folder / TABLE_META).exists():
            return None
        return ";".join(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}" for st in stats)
    except OSError:
        return None
    return name


@contextmanager
def _locked(root: Path, blocking: bool) -> Iterator[bool]:
    """Hold ``root/.lock`` exclusively; yields False (without waiting) when `blocking` is off and it is taken,
    or when the lock file cannot be opened (a read-only table)."""
    try:
        fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        if blocking:
            raise
        yield False
        return
    try:
        got = True
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except OSError:  # taken (non-blocking), or no locks on this file system: a save goes on unlocked
                got = blocking
        yield got
    finally:
        os.close(fd)  # releases the flock


def _clean(root: Path) -> None:
    """Remove what killed saves left in `root`, as far as possible. Caller holds the lock (no save is under
    way). Never raises: litter that cannot go now goes next time."""
    try:
        current = _pointer(root)
        _remove_litter(root, current)
    except (DataError, OSError):  # a damaged pointer (delete nothing; a save writes a good one), read-only, ...
        pass


def _remove_litter(root: Path, current: str | None) -> None:
    for entry in os.scandir(root):
        if _VERSION.fullmatch(entry.name) and entry.name != current and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        elif _POINTER_TMP.fullmatch(entry.name):
            os.unlink(entry.path)
        elif current is not None and entry.name in TABLE_FILES and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)  # the older layout's files, superseded by the pointer
    if current is not None:
        _clean_legacy_siblings(root)


def _clean_legacy_siblings(root: Path) -> None:
    """Older semid saved through ``.<name>.<8 chars>`` and ``.<name>.old`` next to the table; remove those
    that hold nothing but table files (a kill left them there)."""
    pattern = re.compile(rf"\.{re.escape(root.name)}\.(old|[a-z0-9_]{{8}})")
    for entry in os.scandir(root.parent):
        is_litter = pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)
        if is_litter and set(os.listdir(entry.path)) <= TABLE_FILES:
            shutil.rmtree(entry.path, ignore_errors=True)


def write_version(root: Path, write_files: Callable[[Path], None]) -> Path:
    """Make `write_files(folder)` the table in `root`, atomically. Returns the new version folder."""
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root, blocking=True):
        _clean(root)
        name = _new_version()
        folder = root / name
        os.mkdir(folder)
        try:
            write_files(folder)
            for f in sorted(os.listdir(folder)):
                fsync_path(folder / f)
            fsync_path(folder)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        tmp = root / f"{POINTER}.{name}.tmp"
        write_bytes_synced(tmp, (name + "\n").encode("utf-8"))
        os.replace(tmp, root / POINTER)  # the commit: readers now get the new table
        fsync_path(root)
        _clean(root)
    return folder


def read_version(root: Path, read_files: Callable[[Path], T]) -> T:
    """`read_files(folder)` on the folder holding the table in `root` now; then remove litter if no save is
    under way. A table replaced while it was being read is read again (the new one)."""
    for attempt in range(_READ_ATTEMPTS):
        folder = resolve(root)
        try:
            out = read_files(folder)
        except FileNotFoundError:
            if attempt + 1 < _READ_ATTEMPTS and resolve(root) != folder:
                continue  # a save replaced the version we were reading
            raise
        break
    if folder != _legacy_old(root) and root.is_dir():
        with _locked(root, blocking=False) as got:  # a read-only table: got is False, the next save cleans
            if got:
                _clean(root)
    return out


# ---------------------------------------------------------------------------------------------- the three files


def write_table_files(folder: Path, arrays: dict[str, np.ndarray], ids: pa.Array, meta: dict[str, Any]) -> None:
    save_safetensors(arrays, folder / TABLE_ARRAYS)
    pq.write_table(pa.table({"item_id": ids}), folder / TABLE_ITEMS)
    write_bytes_synced(folder / TABLE_META, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))


def _parse(path: Path, parse: Callable[[Path], T]) -> T:
    """parse(path); a file that does not parse is a DataError naming it (a vanished one stays a FileNotFoundError,
    so the reader retries on the version that replaced it)."""
    try:
        return parse(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # JSON, UTF-8, safetensors, parquet, missing column: the file is not a table's
        if not path.exists():
            raise MissingResourceError(f"{path}: removed while it was read") from None
        raise DataError(f"not readable as a SID table file ({exc})", source=str(path)) from None


def read_table_files(folder: Path) -> tuple[dict[str, np.ndarray], pa.Array, dict[str, Any]]:
    """(arrays, item ids, meta) of one table folder, checked to form one consistent table."""
    for fname in (TABLE_META, TABLE_ARRAYS, TABLE_ITEMS):
        if not (folder / fname).exists():
            raise MissingResourceError(f"{folder / fname}: missing; is {folder} a SID table saved by semid?")
    meta = _parse(folder / TABLE_META, lambda p: json.loads(p.read_text(encoding="utf-8")))
    arrays = _parse(folder / TABLE_ARRAYS, lambda p: load_file(str(p)))
    ids = _parse(folder / TABLE_ITEMS, lambda p: pq.read_table(p).column("item_id").combine_chunks())
    check_table(arrays, ids, meta, str(folder))
    return arrays, ids, meta
