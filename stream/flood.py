"""River alarm levels I–III: one alert per crossing, escalation, dead-band clear.

A station's alarm is a small state machine driven by water-level readings in event
time. Reaching a level (a reading equal to it counts) raises the alert, or escalates
it when a lower level was already raised. The alarm steps down only when the water
falls below a level minus the dead-band, so a river hovering around a level gives
one alert, not a storm. Falling below level I minus the dead-band clears the alert.

Readings at or before the last one processed (replays, out-of-order arrivals) never
move the alarm: the same input always gives the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ioc.contract import Alert, AlertStatus, Severity, stable_id

LEVEL_NAMES = ("", "I", "II", "III")
SEVERITY_OF_LEVEL = (Severity.INFORMATIONAL, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


@dataclass(frozen=True, slots=True)
class AlarmLevels:
    """Alarm levels of one station (metres, increasing) and the dead-band for stepping down."""

    levels: tuple[float, ...]
    deadband: float = 0.1

    def __post_init__(self) -> None:
        if not 1 <= len(self.levels) <= 3:
            raise ValueError(f"expected 1 to 3 alarm levels, got {len(self.levels)}")
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ValueError(f"alarm levels must increase, got {list(self.levels)}")
        if self.deadband < 0:
            raise ValueError(f"dead-band must be >= 0, got {self.deadband}")

    def reached(self, value: float) -> int:
        """Highest level the value reaches (0 for none); equal to a level counts."""
        n = 0
        for i, level in enumerate(self.levels, start=1):
            if value >= level:
                n = i
        return n

    def held(self, value: float, current: int) -> int:
        """Highest level at or below ``current`` that the value still holds with the dead-band."""
        for i in range(current, 0, -1):
            if value >= self.levels[i - 1] - self.deadband:
                return i
        return 0


@dataclass(slots=True)
class FloodAlarm:
    """Alarm state of one station. Picklable, so Bytewax recovery can snapshot it."""

    site: str
    station: str
    levels: AlarmLevels
    location: str = ""
    level: int = 0
    alert_id: str | None = None
    since: datetime | None = None
    last_ts: datetime | None = None
    seq: int = 0
    peak: float | None = None

    def update(
        self,
        value: float,
        ts: datetime,
        *,
        device: str,
        reading_id: str,
        rate_of_rise: float | None = None,
    ) -> Alert | None:
        """Feed one reading; return the alert state change it causes, if any."""
        if self.last_ts is not None and ts <= self.last_ts:
            return None
        self.last_ts = ts
        reached = self.levels.reached(value)
        if reached > self.level:
            status = AlertStatus.RAISED if self.level == 0 else AlertStatus.ESCALATED
            if status is AlertStatus.RAISED:
                self.alert_id = stable_id(self.site, self.station, "flood", ts.isoformat())
                self.since = ts
                self.peak = value
                self.seq = 0
            new_level = reached
        elif self.level > 0:
            self.peak = max(self.peak or value, value)
            held = self.levels.held(value, self.level)
            if held == self.level:
                return None
            status = AlertStatus.CLEARED if held == 0 else AlertStatus.DEESCALATED
            new_level = held
        else:
            return None
        self.level = new_level
        self.peak = max(self.peak or value, value)
        return self._alert(status, value, ts, device, reading_id, rate_of_rise)

    def _alert(
        self,
        status: AlertStatus,
        value: float,
        ts: datetime,
        device: str,
        reading_id: str,
        rate: float | None,
    ) -> Alert:
        assert self.alert_id is not None
        assert self.since is not None
        self.seq += 1
        alert_id, since = self.alert_id, self.since
        name = self.location or self.station
        if status is AlertStatus.CLEARED:
            threshold = self.levels.levels[0] - self.levels.deadband
            text = (f"{name}: water {value:.2f} m fell below level I minus dead-band "
                    f"({threshold:.2f} m); peak {self.peak:.2f} m")
            self.alert_id = self.since = None
        else:
            threshold = self.levels.levels[self.level - 1]
            over = value - threshold
            text = (f"{name}: water {value:.2f} m, alarm level {LEVEL_NAMES[self.level]}"
                    f" ({threshold:.2f} m) {'+' if over >= 0 else '-'}{abs(over):.2f} m")
            if rate is not None:
                text += f", rising {rate:+.2f} m/h"
        return Alert(
            id=f"{alert_id}-{self.seq}",
            site=self.site,
            device=device,
            ts=ts,
            alert_id=alert_id,
            status=status,
            category="weather",
            subcategory="flood",
            severity=SEVERITY_OF_LEVEL[self.level],
            station=self.station,
            location=self.location,
            level=self.level,
            value=value,
            threshold=threshold,
            rate_of_rise=rate,
            unit="m",
            since=since,
            reading_id=reading_id,
            description=text,
        )
