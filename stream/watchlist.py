"""Watchlist hits: plate reads matched against the police watchlist kept in the store.

The watchlist lives in the store the cloud API edits. The dataflow holds an
index of it and asks the store for its change counter at most every
``refresh_s`` seconds (one cheap query); when the counter moved, it reloads, so
an entry added by the police reaches the running dataflow within about a second,
without a restart.

Reads less sure than ``min_confidence`` (stream config ``watchlist.min_confidence``,
0.5 by default) are not matched: almost all of them are wrong. Matching: the read's
normalised plate is looked up exactly, then among the
variants one OCR confusion away from each watchlisted plate (``0/O/D``,
``8/B``, ``1/I/L`` … see :data:`ioc.plates.CONFUSION_CLASSES`), precomputed, so
a match is one or two dictionary lookups whatever the watchlist's size. Expired
entries never match. A hit becomes an :class:`~ioc.contract.Alert` for the police
(``category="security"``, ``subcategory="watchlist"``, ``audience="police"``)
whose identity derives from the read, so a replayed read raises the same alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ioc.contract import Alert, AlertStatus, PlateRead, Severity, stable_id
from ioc.plates import confusion_variants, normalise

logger = logging.getLogger(__name__)


class Entry(Protocol):
    """What the matcher needs of a watchlist entry (``cloud.stores.watchlist.WatchlistEntry``)."""

    @property
    def entry_id(self) -> str: ...
    @property
    def plate(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...


class WatchlistSource(Protocol):
    """What the matcher needs of the watchlist store."""

    def version(self) -> int: ...
    def active(self, now: datetime) -> list[Entry]: ...  # type: ignore[empty-body]


@dataclass(frozen=True, slots=True)
class Hit:
    """A read that matched an entry, and how many characters differed."""

    entry: Entry
    distance: int


class WatchlistIndex:
    """An immutable lookup of entries: exact plates and their one-confusion variants."""

    def __init__(self, entries: list[Entry], *, max_distance: int = 1) -> None:
        self.size = len(entries)
        self._exact: dict[str, list[Entry]] = {}
        self._near: dict[str, list[Entry]] = {}
        for e in entries:
            plate = normalise(e.plate)
            self._exact.setdefault(plate, []).append(e)
            if max_distance >= 1:
                for v in confusion_variants(plate):
                    self._near.setdefault(v, []).append(e)

    def match(self, plate: str, at: datetime) -> Hit | None:
        """The best live match of a read plate at time ``at`` (exact before one-off)."""
        p = normalise(plate)
        for entries, distance in ((self._exact.get(p), 0), (self._near.get(p), 1)):
            for e in entries or ():
                if e.expires_at is None or e.expires_at > at:
                    return Hit(e, distance)
        return None


class WatchlistMatcher:
    """Turns plate reads into police alerts; keeps its index in step with the store."""

    def __init__(
        self,
        source: Callable[[], WatchlistSource] | None,
        *,
        refresh_s: float = 1.0,
        max_distance: int = 1,
        min_confidence: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = source
        self._store: WatchlistSource | None = None
        self.refresh_s = refresh_s
        self.max_distance = max_distance
        #: a read less sure than this raises nothing (a garbage read one confusion away
        #: from a watched plate would send the police after the wrong car)
        self.min_confidence = min_confidence
        self.unsure = 0  # reads left unmatched for their confidence
        self._clock = clock
        self._checked = float("-inf")
        self._version: int | None = None
        self.index = WatchlistIndex([])
        self.reloads = 0

    def _refresh(self, now: datetime) -> None:
        if self._open is None:
            return
        t = self._clock()
        if t - self._checked < self.refresh_s:
            return
        self._checked = t
        try:
            if self._store is None:
                self._store = self._open()
            version = self._store.version()
            if version != self._version:
                # All entries not expired now; expiry is checked again at match time.
                self.index = WatchlistIndex(self._store.active(now),
                                            max_distance=self.max_distance)
                self._version = version
                self.reloads += 1
                logger.info("watchlist: %d entries (version %s)", self.index.size, version)
        except Exception:  # a store hiccup must not stop the dataflow: keep the old index
            logger.exception("watchlist: reload failed; matching against the previous index")

    def __call__(self, read: PlateRead) -> Alert | None:
        """The police alert for ``read``, or None when it hits nothing (or is too unsure)."""
        if read.confidence < self.min_confidence:
            self.unsure += 1
            return None
        self._refresh(read.ts)
        hit = self.index.match(read.plate, read.ts)
        if hit is None:
            return None
        e = hit.entry
        alert_id = stable_id(read.site, "watchlist", e.entry_id, read.id)
        how = "exactly" if hit.distance == 0 else f"{hit.distance} character(s) off"
        return Alert(
            id=stable_id(alert_id, AlertStatus.RAISED),
            site=read.site,
            device=read.device,
            ts=read.ts,
            alert_id=alert_id,
            status=AlertStatus.RAISED,
            category="security",
            subcategory="watchlist",
            severity=Severity.HIGH,
            station=read.camera,
            location=read.camera,
            since=read.ts,
            reading_id=read.id,
            audience="police",
            plate=normalise(e.plate),
            match_distance=hit.distance,
            description=(f"plate {read.plate} read by {read.camera} (confidence"
                         f" {read.confidence:.2f}) matches watchlist entry"
                         f" {normalise(e.plate)} ({how}): {e.reason}"),
        )
