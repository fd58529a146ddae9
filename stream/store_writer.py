"""Store writing off the dataflow's thread, for a flow without recovery.

A sink that writes SQLite in the dataflow's thread makes the next alert wait for the
commit, and for the checkpoint SQLite runs inside the commit that takes the WAL past
1000 pages (copying pages and an fsync: tens of milliseconds on a busy machine).
:class:`BackgroundWriter` moves the writes (and so those checkpoints) to a thread of
their own, collecting what the dataflow hands over for up to ``interval_s`` into one
transaction: fewer, larger commits, and a dataflow thread that only routes, keeps
state and publishes. It is for flows *without* recovery: with recovery, an epoch
Bytewax commits must already be in the stores, so those flows write in the sink
itself (Bytewax's dynamic sinks have no end-of-epoch hook).

(A checkpointing thread beside a writer in the dataflow's thread was tried and
dropped: a PASSIVE checkpoint racing continuous commits rarely completes, so the WAL
is never rewound and grows.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class BackgroundWriter:
    """Writes what :meth:`submit` is handed from a thread of its own, at most
    ``interval_s`` later, in one call of ``write`` per round (one transaction per store).

    A failed write is retried (with a growing pause) and never dropped; while it fails,
    :meth:`submit` waits once ``max_pending`` items are held, so a dead disk slows the
    dataflow down instead of filling the memory. :meth:`close` writes everything held."""

    def __init__(self, write: Callable[[list[Any]], None], close: Callable[[], None], *,
                 interval_s: float = 0.05, max_pending: int = 200_000,
                 name: str = "") -> None:
        self.name = name  # what it writes to, in its log lines
        self._write = write
        self._close = close
        self.interval_s = interval_s
        self.max_pending = max_pending
        self._pending: list[Any] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writing thread."""
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, items: list[Any]) -> None:
        """Hand items over (returns at once unless ``max_pending`` are waiting)."""
        with self._cond:
            if len(self._pending) >= self.max_pending:
                self._cond.wait_for(lambda: len(self._pending) < self.max_pending)
            self._pending.extend(items)
            if len(self._pending) == len(items):
                self._cond.notify_all()

    def _run(self) -> None:
        pause = 0.1
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._pending or self._closing)
                    if not self._pending:
                        return  # closing, everything written
                # collect a little more: one transaction for everything of this round
                if not self._closing:
                    time.sleep(self.interval_s)
                with self._cond:
                    batch, self._pending = self._pending, []
                    self._cond.notify_all()
                while True:
                    try:
                        self._write(batch)
                        pause = 0.1
                        break
                    except Exception:
                        logger.exception("store writer %s: writing %d items failed; retrying"
                                         " in %.1f s", self.name, len(batch), pause)
                        time.sleep(pause)
                        pause = min(pause * 2, 10.0)
        finally:
            self._close()  # this thread's connections

    def close(self, timeout_s: float = 120.0) -> None:
        """Write everything held, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                with self._cond:
                    held = len(self._pending)
                logger.error("store writer %s: still failing after %.0f s at close; %d items"
                             " waiting and the batch being written are lost when the process"
                             " ends (the log above says why the writes fail)", self.name,
                             timeout_s, held)
