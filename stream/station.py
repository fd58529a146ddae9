"""Per-station processing: rain windows, rate of rise and the flood alarm of one station.

:class:`StationProcessor` is the mapper of the dataflow's ``stateful_map`` keyed by
station: it takes a station's state and one reading and returns the new state and
what the reading produced (the reading itself, aggregates, alerts, dead letters).
It is pure Python without Bytewax, so it is tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ioc.contract import (
    Aggregate,
    Alert,
    DeadLetter,
    DecodeError,
    SensorReading,
    encode,
    stable_id,
)
from stream.config import StreamConfig
from stream.flood import FloodAlarm
from stream.rain import RainWindows
from stream.rise import RateOfRise

Output = SensorReading | Aggregate | Alert | DeadLetter


@dataclass(slots=True)
class StationState:
    """Everything the stream keeps about one station (picklable for recovery snapshots)."""

    rain: RainWindows | None = None
    rise: RateOfRise | None = None
    alarm: FloodAlarm | None = None


def station_key(reading: SensorReading) -> str:
    """The key readings are partitioned by: one station of one site."""
    return f"{reading.site}/{reading.station_id}"


class StationProcessor:
    """Turns a station's readings into aggregates and flood alerts."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config

    def _rain(self) -> RainWindows:
        rc = self.config.rain
        return RainWindows(
            windows=rc.windows,
            step=timedelta(minutes=rc.step_min),
            lateness=timedelta(minutes=rc.lateness_min),
        )

    def _alarm(self, reading: SensorReading) -> FloodAlarm | None:
        station = self.config.stations.get(reading.station_id)
        levels = station.alarm() if station else None
        if station is None or levels is None:
            return None
        return FloodAlarm(reading.site, reading.station_id, levels, location=station.name)

    def __call__(
        self, state: StationState | None, reading: SensorReading
    ) -> tuple[StationState, list[Output]]:
        """Process one reading of the station."""
        state = state or StationState()
        out: list[Output] = [reading]
        if reading.quantity == "rain":
            out.extend(self._on_rain(state, reading))
        elif reading.quantity == "water_level":
            out.extend(self._on_level(state, reading))
        return state, out

    def _on_rain(self, state: StationState, reading: SensorReading) -> list[Output]:
        if state.rain is None:
            state.rain = self._rain()
        update = state.rain.add(reading.ts, reading.value)
        if update.refused is not None:
            error = DecodeError("schema", update.refused, f"station/{reading.station_id}",
                                encode(reading))
            return [error.to_deadletter(reading.site, "rain_windows", reading.ts)]
        return [
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

    def _on_level(self, state: StationState, reading: SensorReading) -> list[Output]:
        if state.rise is None:
            state.rise = RateOfRise(window=timedelta(minutes=self.config.rise_window_min))
        rate = state.rise.add(reading.ts, reading.value)
        out: list[Output] = []
        if rate is not None:
            out.append(Aggregate(
                id=stable_id(reading.site, reading.station_id, "rate_of_rise", reading.ts),
                site=reading.site,
                device=reading.device,
                ts=reading.ts,
                station=reading.station_id,
                measure="rate_of_rise",
                window_s=self.config.rise_window_min * 60,
                value=rate,
                unit="m/h",
            ))
        if state.alarm is None:
            state.alarm = self._alarm(reading)
        if state.alarm is not None:
            alert = state.alarm.update(
                reading.value, reading.ts, device=reading.device, reading_id=reading.id,
                rate_of_rise=rate,
            )
            if alert is not None:
                out.append(alert)
        return out
