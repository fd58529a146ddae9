"""Simulated time: a scenario's clock running ``speed`` times faster than the wall clock."""

from __future__ import annotations

import time
from datetime import datetime, timedelta


class SimClock:
    """Maps the monotonic wall clock onto scenario time, starting at ``start`` when started."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        if start.tzinfo is None:
            raise ValueError(f"clock start {start} has no timezone")
        self.start_time = start
        self.speed = speed
        self._t0: float | None = None

    def start(self) -> None:
        """Start the clock now (idempotent: a started clock keeps its origin)."""
        if self._t0 is None:
            self._t0 = time.monotonic()

    def now(self) -> datetime:
        """Current scenario time (the start time until the clock is started)."""
        if self._t0 is None:
            return self.start_time
        return self.start_time + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def real_seconds(self, span: timedelta) -> float:
        """Wall-clock seconds that ``span`` of scenario time takes."""
        return span.total_seconds() / self.speed
