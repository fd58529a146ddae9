"""Rain totals over trailing windows (1/3/6/12/24 h by default) in event time.

Each rain reading is the amount that fell in the period ending at its timestamp.
Totals are computed for windows ending on step boundaries (every hour by default)
once the watermark (latest event time seen minus the allowed lateness) has passed
the boundary, so a window is final only when its late readings had their chance.

Late data is handled, not dropped: a reading that arrives after its windows were
emitted is added and those windows are emitted again with the corrected total
(the store upserts by window end, so the correction replaces the first value).
A reading too old to touch any window still kept is refused with a reason. A
reading repeated with the same timestamp replaces the first (at-least-once input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RainTotal:
    """The rain total of one window ending at ``end``."""

    end: datetime
    window: timedelta
    total_mm: float
    samples: int
    revised: bool


@dataclass(frozen=True, slots=True)
class RainUpdate:
    """What one reading produced: totals to write, and whether it was late or refused."""

    totals: list[RainTotal]
    late: bool = False
    refused: str | None = None


def _ms(ts: datetime) -> int:
    return int((ts - _EPOCH) / timedelta(milliseconds=1))


@dataclass(slots=True)
class RainWindows:
    """Rain state of one station. Picklable for Bytewax recovery."""

    windows: tuple[timedelta, ...] = tuple(timedelta(hours=h) for h in (1, 3, 6, 12, 24))
    step: timedelta = timedelta(hours=1)
    lateness: timedelta = timedelta(minutes=10)
    amounts: dict[int, float] = field(default_factory=dict)  # reading time (ms) -> mm
    max_seen: datetime | None = None
    emitted_until: datetime | None = None  # last boundary whose windows were emitted

    def __post_init__(self) -> None:
        if not self.windows or any(w <= timedelta(0) for w in self.windows):
            raise ValueError(f"rain windows must be positive, got {self.windows}")
        if self.step <= timedelta(0):
            raise ValueError(f"rain step must be positive, got {self.step}")

    @property
    def horizon(self) -> timedelta:
        return max(self.windows)

    def watermark(self) -> datetime | None:
        """Event time before which the station's windows are considered complete."""
        return None if self.max_seen is None else self.max_seen - self.lateness

    def _floor(self, ts: datetime) -> datetime:
        step_ms = int(self.step / timedelta(milliseconds=1))
        return _EPOCH + timedelta(milliseconds=(_ms(ts) // step_ms) * step_ms)

    def total(self, end: datetime, window: timedelta) -> tuple[float, int]:
        """Rain in (end - window, end] and the number of readings in it."""
        lo, hi = _ms(end - window), _ms(end)
        vals = [mm for t, mm in self.amounts.items() if lo < t <= hi]
        return round(sum(vals), 3), len(vals)

    def _emit(self, end: datetime, revised: bool, touching: datetime | None = None
              ) -> list[RainTotal]:
        out = []
        for w in self.windows:
            if touching is not None and not end - w < touching:
                continue  # this window does not contain the late reading: unchanged
            total, n = self.total(end, w)
            out.append(RainTotal(end, w, total, n, revised))
        return out

    def add(self, ts: datetime, mm: float) -> RainUpdate:
        """Add one reading; return the window totals that became final or were corrected."""
        wm = self.watermark()
        if wm is not None and self.emitted_until is not None and (
            ts <= self.emitted_until - self.horizon
        ):
            return RainUpdate([], late=True, refused=(
                f"rain reading at {ts.isoformat()} is older than every kept window"
                f" (emitted until {self.emitted_until.isoformat()}, horizon {self.horizon})"))
        key = _ms(ts)
        late = self.emitted_until is not None and ts <= self.emitted_until
        if self.amounts.get(key) == mm:
            # The same reading again (at-least-once delivery): nothing changed, and
            # re-emitting closed windows would recompute them from pruned readings.
            return RainUpdate([], late=late)
        self.amounts[key] = mm
        totals: list[RainTotal] = []
        if late:
            assert self.emitted_until is not None
            # Every emitted boundary whose windows contain ts is corrected, as long as
            # the window's readings are all still kept (older ones were pruned).
            kept_from = self.emitted_until - self.horizon
            end = self._floor(ts)
            if end < ts:
                end += self.step
            while end <= self.emitted_until:
                if end - self.horizon < ts:
                    totals.extend(t for t in self._emit(end, revised=True, touching=ts)
                                  if end - t.window >= kept_from)
                end += self.step
        if self.max_seen is None or ts > self.max_seen:
            self.max_seen = ts
        totals.extend(self._advance())
        return RainUpdate(totals, late=late)

    def _advance(self) -> list[RainTotal]:
        wm = self.watermark()
        assert wm is not None
        ready = self._floor(wm)
        if self.emitted_until is None:
            # First boundary: the one at or after the earliest reading.
            first = self._floor(_EPOCH + timedelta(milliseconds=min(self.amounts)))
            nxt = first + self.step
        else:
            nxt = self.emitted_until + self.step
        # After a long silence, windows that hold no reading need not be emitted one by one.
        floor_nxt = self._floor(ready - self.horizon) + self.step
        nxt = max(nxt, floor_nxt)
        out: list[RainTotal] = []
        while nxt <= ready:
            out.extend(self._emit(nxt, revised=False))
            self.emitted_until = nxt
            nxt += self.step
        if self.emitted_until is not None:
            cutoff = _ms(self.emitted_until - self.horizon)
            for t in [t for t in self.amounts if t <= cutoff]:
                del self.amounts[t]
        return out
