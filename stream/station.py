"""Per-station processing: rain windows, rate of rise and the alert rules of one station.

:class:`StationProcessor` is the mapper of the dataflow's ``stateful_map`` keyed by
station: it takes a station's state and one reading (or a :class:`Tick` of the city's
event-time clock) and returns the new state and what it produced (the reading itself,
aggregates, alerts, dead letters). Alerts come from the rules file through
:class:`stream.rules.StationAlarms`: on readings (river alarm levels), on the
aggregates computed here (rain totals, rate of rise), and on ticks ("no data").
It is pure Python without Bytewax, so it is tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ioc.contract import (
    Aggregate,
    Alert,
    DeadLetter,
    DecodeError,
    Event,
    SensorReading,
    encode,
    stable_id,
)
from stream.air import AirStation
from stream.aqi import POLLUTANTS
from stream.config import StreamConfig
from stream.rain import RainWindows
from stream.rise import RateOfRise
from stream.rules import StationAlarms
from stream.rules_config import RuleSet

Output = SensorReading | Aggregate | Alert | DeadLetter


@dataclass(frozen=True, slots=True)
class Tick:
    """The city's event-time clock reaching a station: ``watermark`` is the freshest
    event time seen anywhere minus a slack. Lets a silent station raise "no data"."""

    watermark: datetime


@dataclass(slots=True)
class StationState:
    """Everything the stream keeps about one station (picklable for recovery snapshots)."""

    rain: RainWindows | None = None
    rise: RateOfRise | None = None
    air: AirStation | None = None
    alarms: StationAlarms = field(default_factory=StationAlarms)


def refusal(event: Event, subject: str, step: str, reason: str) -> DeadLetter:
    """The dead letter of an event a stateful step refused (e.g. too late for its windows)."""
    return DecodeError("schema", reason, subject, encode(event)).to_deadletter(
        event.site, step, event.ts)


def station_key(reading: SensorReading) -> str:
    """The key readings are partitioned by: one station of one site."""
    return f"{reading.site}/{reading.station_id}"


class StationProcessor:
    """Turns a station's readings into aggregates and flood alerts."""

    def __init__(self, config: StreamConfig, rules: RuleSet) -> None:
        self.config = config
        self.rules = rules

    def _rain(self) -> RainWindows:
        rc = self.config.rain
        return RainWindows(
            windows=rc.windows,
            step=timedelta(minutes=rc.step_min),
            lateness=timedelta(minutes=rc.lateness_min),
        )

    def __call__(
        self, state: StationState | None, item: SensorReading | Tick
    ) -> tuple[StationState, list[Output]]:
        """Process one reading of the station, or a tick of the event-time clock."""
        state = state or StationState()
        if isinstance(item, Tick):
            return state, list(state.alarms.tick(item.watermark))
        reading = item
        out: list[Output] = [reading]
        if reading.quantity == "rain":
            out.extend(self._on_rain(state, reading))
        elif reading.quantity == "water_level":
            out.extend(self._on_level(state, reading))
        elif reading.quantity in POLLUTANTS:
            out.extend(self._on_air(state, reading))
        else:
            out.extend(state.alarms.on_reading(self.rules, reading,
                                               location=self.config.location(reading.station_id)))
        return state, out

    def _on_rain(self, state: StationState, reading: SensorReading) -> list[Output]:
        if state.rain is None:
            state.rain = self._rain()
        update = state.rain.add(reading.ts, reading.value)
        if update.refused is not None:
            return [refusal(reading, f"station/{reading.station_id}", "rain_windows",
                            update.refused)]
        totals = [
            Aggregate(
                id=stable_id(reading.site, reading.station_id, "rain_total", total.window,
                             total.end.isoformat()),
                site=reading.site,
                device=reading.device,
                ts=total.end,
                station=reading.station_id,
                measure="rain_total",
                window_s=int(total.window.total_seconds()),
                value=total.total_mm,
                unit="mm",
                samples=total.samples,
            )
            for total in update.totals
        ]
        out: list[Output] = list(totals)
        location = self.config.location(reading.station_id)
        for agg in totals:
            out.extend(state.alarms.on_aggregate(self.rules, agg, location=location))
        return out

    def _on_air(self, state: StationState, reading: SensorReading) -> list[Output]:
        if state.air is None:
            state.air = AirStation(site=reading.site, station=reading.station_id,
                                   device=reading.device)
        update = state.air.add(reading.ts, reading.quantity, reading.value,
                               device=reading.device)
        if update.refused is not None:
            return [refusal(reading, f"station/{reading.station_id}", "air_windows",
                            update.refused)]
        out: list[Output] = list(update.aggregates)
        location = self.config.location(reading.station_id)
        for agg in update.aggregates:
            out.extend(state.alarms.on_aggregate(self.rules, agg, location=location))
        return out

    def _on_level(self, state: StationState, reading: SensorReading) -> list[Output]:
        if state.rise is None:
            state.rise = RateOfRise(window=timedelta(minutes=self.config.rise_window_min))
        rate = state.rise.add(reading.ts, reading.value)
        out: list[Output] = []
        location = self.config.location(reading.station_id)
        if rate is not None:
            agg = Aggregate(
                id=stable_id(reading.site, reading.station_id, "rate_of_rise", reading.ts),
                site=reading.site,
                device=reading.device,
                ts=reading.ts,
                station=reading.station_id,
                measure="rate_of_rise",
                window_s=self.config.rise_window_min * 60,
                value=rate,
                unit="m/h",
            )
            out.append(agg)
        out.extend(state.alarms.on_reading(self.rules, reading, location=location,
                                           rate_of_rise=rate))
        if rate is not None:
            out.extend(state.alarms.on_aggregate(self.rules, agg, location=location))
        return out


class Ticker:
    """Keys readings by station and, as the city's event time advances, adds a
    :class:`Tick` for every station it knows (configured ones, and any seen), at most
    once per ``every`` of event time. One per worker; duplicates from several workers
    are harmless (a tick only looks at the watermark)."""

    def __init__(self, config: StreamConfig, every: timedelta = timedelta(minutes=1)) -> None:
        self.every = every
        self.slack = timedelta(minutes=config.no_data_slack_min)
        self.keys: set[str] = {f"{config.site}/{s}" for s in config.stations}
        self._max: datetime | None = None
        self._last_tick: datetime | None = None

    def __call__(self, reading: SensorReading) -> list[tuple[str, SensorReading | Tick]]:
        """The reading keyed by its station, followed by ticks when they are due."""
        key = station_key(reading)
        self.keys.add(key)
        out: list[tuple[str, SensorReading | Tick]] = [(key, reading)]
        if self._max is None or reading.ts > self._max:
            self._max = reading.ts
            if self._last_tick is None or self._max - self._last_tick >= self.every:
                self._last_tick = self._max
                tick = Tick(self._max - self.slack)
                out.extend((k, tick) for k in sorted(self.keys) if k != key)
        return out
