"""SID table hot reload for the server: a new table is checked whole before it is swapped in."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from semid.assigned_vectors import apply_assigned_vectors
from semid.retrieve.backbones import MiniLMBackbone
from semid.retrieve.retriever import Retriever
from semid.serve.batcher import MicroBatcher
from semid.sid.store import table_version
from semid.sid.table import SIDTable

if TYPE_CHECKING:
    from semid.serve.app import Metrics

log = logging.getLogger("semid.serve")


class ReloadError(Exception):
    """A reload that failed; the previous table keeps serving. Already logged and counted."""


class TableReloader:
    """Swaps in a new SID table when a save replaces it (semid.sid.store), after checking it whole: it must
    load and hold together (SIDTable.load checks every array against the others) and fit the model
    (Retriever.with_table). Any failure keeps the old table, is logged and counted in /metrics, and makes a
    forced reload answer 409 with the reason. The watcher does not retry a version that failed (no log
    flood); the next save, or a forced reload, tries again."""

    def __init__(self, batcher: MicroBatcher, table_dir: Path, metrics: Metrics) -> None:
        self.batcher, self.table_dir, self.metrics = batcher, table_dir, metrics
        self._lock = asyncio.Lock()
        self._stamp = self._read_stamp()
        self._failed: str | None = None  # the version the last failed reload tried

    def _read_stamp(self) -> str | None:
        """The table's version: the pointer a save replaces last (semid.sid.store), None when no table."""
        return table_version(self.table_dir)

    async def reload(self, force: bool = False) -> bool:
        async with self._lock:
            stamp = self._read_stamp()
            if not force and (stamp is None or stamp in (self._stamp, self._failed)):
                return False  # nothing new (or no table yet: the watcher tries again)
            try:
                if stamp is None:
                    raise FileNotFoundError(f"{self.table_dir}: no SID table there; is this a SID table folder?")
                table = await asyncio.to_thread(SIDTable.load, self.table_dir)
                new = await asyncio.to_thread(self._fit, table)
            except Exception as exc:  # whatever it is, the old table keeps serving
                self._failed = stamp
                self.metrics.reloads.labels("error").inc()
                reason = str(exc) or type(exc).__name__
                log.error(
                    "SID table reload from %s failed, still serving the previous table: %s", self.table_dir, reason
                )
                raise ReloadError(reason) from exc
            self.batcher.retriever = new  # the next batch uses it; batches in flight finish on the old one
            self._stamp, self._failed = stamp, None
            self.metrics.table_items.set(table.n_items)
            self.metrics.reloads.labels("ok").inc()
            log.info("reloaded the SID table from %s: %d items", self.table_dir, table.n_items)
            return True

    def _fit(self, table: SIDTable) -> Retriever:
        """The served model over `table`, ready to serve: the item vectors rank "exact" reads are built here,
        not by the first request after the swap (an item without a stored vector: its SID tokens' rows)."""
        new = self.batcher.retriever.with_table(table)
        note = apply_assigned_vectors(new, self.table_dir)  # assigned items ranked by their own vectors
        if note:
            log.warning(note)
        if isinstance(new.backbone, MiniLMBackbone):
            new.backbone.item_matrix()
        return new

    async def watch(self, interval_s: float) -> None:
        """Poll for a new table until cancelled; no exception ends it."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.reload()
            except ReloadError:
                pass  # logged and counted by reload()
            except Exception:  # a bug of ours: keep watching, but say so
                self.metrics.reloads.labels("error").inc()
                log.exception("SID table watcher error; still watching %s", self.table_dir)
