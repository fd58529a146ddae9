"""Sensor scenario files: what simulated gauges measure over time.

A scenario is YAML: a start and end time, a sampling interval, and one series per
sensor channel given as keyframes ``[hours after start, value]`` joined linearly.
For ``rain`` the keyframe values are intensities in mm/h and each sample is the
amount that fell during the interval ending at its time. A sample that falls on a
keyframe takes the keyframe's value exactly (so a peak of 4.50 m is read as 4.50).
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import AwareDatetime, Field, field_validator, model_validator

from edge.drivers.base import Sample
from ioc.config import StrictModel, fail_at, load_yaml_model
from ioc.contract import QUANTITIES, Quantity, SensorReading, reading_id

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class Series(StrictModel):
    """One channel of one simulated device."""

    station: Slug
    device: Slug
    quantity: Quantity
    keyframes: list[tuple[float, float]] = Field(min_length=1)

    @field_validator("keyframes")
    @classmethod
    def _increasing_hours(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        hours = [h for h, _ in v]
        if any(b <= a for a, b in itertools.pairwise(hours)):
            raise ValueError(f"keyframe hours must increase, got {hours}")
        if hours[0] < 0:
            raise ValueError(f"keyframe hours start at 0 or later, got {hours[0]}")
        return v

    @model_validator(mode="after")
    def _values_possible(self) -> Series:
        spec = QUANTITIES[self.quantity]
        hi = spec.maximum * (60 if self.quantity == "rain" else 1)
        for h, value in self.keyframes:
            if not spec.minimum <= value <= hi:
                raise ValueError(f"keyframe value {value} at {h} h is outside the possible"
                                 f" range of {self.quantity} [{spec.minimum}, {hi}]")
        return self

    @property
    def unit(self) -> str:
        return QUANTITIES[self.quantity].unit

    def value_at(self, hours: float) -> float:
        """The keyframe curve at ``hours`` after the start (flat outside the keyframes)."""
        frames = self.keyframes
        if hours <= frames[0][0]:
            return frames[0][1]
        for (h0, v0), (h1, v1) in itertools.pairwise(frames):
            if hours == h1:
                return v1
            if h0 < hours < h1:
                return v0 + (v1 - v0) * (hours - h0) / (h1 - h0)
        return frames[-1][1]


#: samples one device may take from start to end (a scenario builds them all at once)
MAX_SAMPLES = 200_000


class Scenario(StrictModel):
    """A recorded or invented episode, played by simulated gauges."""

    name: str
    description: str = ""
    site: Slug = "hue"
    start: AwareDatetime
    end: AwareDatetime
    sample_every_min: float = Field(gt=0, le=1440)
    series: list[Series] = Field(min_length=1)

    @model_validator(mode="after")
    def _end_after_start(self) -> Scenario:
        problems: list[tuple[tuple[str | int, ...], object, str]] = []
        if self.end <= self.start:
            problems.append((("end",), str(self.end), f"is not after start {self.start}"))
        elif self.span / self.step > MAX_SAMPLES:  # all are made up front, per device
            problems.append((("sample_every_min",), self.sample_every_min,
                             f"gives {self.span / self.step:,.0f} samples from start to end"
                             f" (at most {MAX_SAMPLES:,})"))
        step_h = self.sample_every_min / 60.0
        for i, series in enumerate(self.series):  # rain: intensity (mm/h) times the step
            top = QUANTITIES[series.quantity].maximum
            peak = max(v for _h, v in series.keyframes)
            if series.quantity == "rain" and peak * step_h > top:
                problems.append((("series", i, "keyframes"), peak,
                                 f"{peak:g} mm/h over a {self.sample_every_min:g}-minute sample"
                                 f" is {peak * step_h:g} mm, above the {top:g} mm a reading"
                                 " may carry: a shorter sample_every_min, or less rain"))
        seen: dict[tuple[str, str, str], int] = {}
        for i, series in enumerate(self.series):  # one reading id would carry two values
            key = (series.device, series.station, series.quantity)
            if key in seen:
                problems.append((("series", i), f"{series.device}/{series.station}",
                                 f"{series.quantity} of this device and station is already"
                                 f" series {seen[key]}"))
            seen.setdefault(key, i)
        fail_at(problems, "Scenario")
        return self

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.sample_every_min)

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def devices(self) -> list[str]:
        """Devices in the order they first appear."""
        return list(dict.fromkeys(s.device for s in self.series))

    def samples(self, device: str) -> list[Sample]:
        """Every sample the device takes, in time order (first at start + one step)."""
        chosen = [s for s in self.series if s.device == device]
        if not chosen:
            raise KeyError(f"scenario {self.name!r} has no device {device!r}"
                           f" (it has {self.devices()})")
        step_h = self.sample_every_min / 60.0
        out: list[Sample] = []
        n = 1
        while (ts := self.start + n * self.step) <= self.end:
            hours = n * step_h
            for s in chosen:
                value = s.value_at(hours)
                if s.quantity == "rain":  # intensity at the interval's middle times its length
                    value = round(s.value_at(hours - step_h / 2) * step_h, 3)
                out.append(Sample(s.quantity, round(value, 4), s.unit, ts, s.station,
                                  int(self.step.total_seconds()) if s.quantity == "rain" else 0))
            n += 1
        return out


    def readings(self, site: str = "hue") -> list[SensorReading]:
        """Every device's samples as wire-contract readings, in time then device order
        (what the gateways of this scenario publish)."""
        out = [
            SensorReading(
                id=reading_id(device, s.quantity, s.ts, s.station), site=site, device=device,
                ts=s.ts, station=s.station, quantity=s.quantity,  # type: ignore[arg-type]
                value=s.value, unit=s.unit, period_s=s.period_s)
            for device in self.devices() for s in self.samples(device)
        ]
        out.sort(key=lambda r: (r.ts, r.device))
        return out

def shipped_scenarios() -> dict[str, Path]:
    """Scenarios shipped with the package, by name."""
    folder = resources.files("simulators.sensors") / "scenarios"
    return {p.name.removesuffix(".yaml"): Path(str(p)) for p in folder.iterdir()
            if p.name.endswith(".yaml")}


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name, or a scenario file by path."""
    shipped = shipped_scenarios()
    path = shipped.get(str(name_or_path)) or Path(name_or_path)
    if not path.exists():
        raise FileNotFoundError(
            f"no scenario {name_or_path!r}: not a file, and not one of {sorted(shipped)}")
    return load_yaml_model(Scenario, path)

