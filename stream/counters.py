"""Counters of what the dataflow ingested, produced and refused, per kind and per step.

One :class:`FlowCounters` per process, shared by its worker threads (increments
take a lock; they are per batch or per rare event, never a hot loop's cost).
``snapshot()`` gives a plain dict for logs, the demo summary and tests.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping


class FlowCounters:
    """Named monotonically increasing counts, e.g. ``in.reading``, ``deadletter.decode.json``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        with self._lock:
            self._counts[name] += n

    def add_many(self, counts: Mapping[str, int]) -> None:
        """Add several counts at once (a batch's, under one lock)."""
        if counts:
            with self._lock:
                self._counts.update(counts)

    def snapshot(self) -> dict[str, int]:
        """Every counter, sorted by name."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def total(self, prefix: str) -> int:
        """Sum of the counters whose name starts with ``prefix``."""
        with self._lock:
            return sum(v for k, v in self._counts.items() if k.startswith(prefix))
