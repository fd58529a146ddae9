"""Rate of rise of a river in event time (metres per hour).

The rate at a reading is the change since the level one window earlier
(linearly interpolated between the readings around it), divided by the time
between them. Readings may arrive out of order: they are kept sorted.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(slots=True)
class RateOfRise:
    """Recent water levels of one station. Picklable for Bytewax recovery."""

    window: timedelta = timedelta(hours=1)
    min_span: timedelta = timedelta(minutes=10)
    times: list[float] = field(default_factory=list)  # epoch seconds, sorted
    values: list[float] = field(default_factory=list)

    def add(self, ts: datetime, value: float) -> float | None:
        """Add a reading; return the rate of rise at ``ts`` in m/h, or None without history
        (or when the reading is one already added)."""
        t = ts.timestamp()
        times, values = self.times, self.values
        if not times or t > times[-1]:  # the usual case: the newest reading
            times.append(t)
            values.append(value)
        else:
            i = bisect.bisect_left(times, t)
            if i < len(times) and times[i] == t:
                if values[i] == value:
                    # The same reading again (at-least-once delivery): its rate was given
                    # already, and history it needed may since have been pruned.
                    return None
                values[i] = value  # a corrected value for the same instant
            else:
                times.insert(i, t)
                values.insert(i, value)
        rate = self.rate_at(t)
        keep_from = times[-1] - 3 * self.window.total_seconds()
        if times[0] < keep_from:
            cut = bisect.bisect_left(times, keep_from)
            del times[:cut]
            del values[:cut]
        return rate

    def _level_at(self, t: float) -> float:
        i = bisect.bisect_left(self.times, t)
        if i < len(self.times) and self.times[i] == t:
            return self.values[i]
        t0, t1 = self.times[i - 1], self.times[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def rate_at(self, t: float) -> float | None:
        """Rate of rise at time ``t`` (a kept reading's time) in m/h."""
        j = bisect.bisect_left(self.times, t)
        if j >= len(self.times) or self.times[j] != t or j == 0:
            return None
        start = max(t - self.window.total_seconds(), self.times[0])
        if t - start < self.min_span.total_seconds():
            return None
        return round((self.values[j] - self._level_at(start)) / ((t - start) / 3600.0), 4)
