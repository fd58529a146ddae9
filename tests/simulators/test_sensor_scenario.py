"""The shipped flood scenario and the scenario driver."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.drivers.base import SensorDriver
from ioc.config import ConfigError, load_yaml_model
from simulators.clock import SimClock
from simulators.sensors.driver import ScenarioDriver
from simulators.sensors.scenario import Scenario, load_scenario


def test_flood_scenario_peaks_as_observed() -> None:
    sc = load_scenario("flood-2025-11-03")
    assert sc.devices() == ["kimlong-01", "phuoc-01", "rain-aluoi-01", "rain-hue-01"]
    peaks = {d: max(s.value for s in sc.samples(d)) for d in ("kimlong-01", "phuoc-01")}
    assert peaks == {"kimlong-01": 3.54, "phuoc-01": 4.50}
    rain = sc.samples("rain-aluoi-01")
    assert all(s.unit == "mm" and s.period_s == 600 and s.value >= 0 for s in rain)
    assert len(rain) == 360
    assert rain[0].ts == sc.start + timedelta(minutes=10)


def test_driver_gives_samples_as_the_clock_advances() -> None:
    sc = load_scenario("flood-2025-11-03")
    clock = SimClock(sc.start, speed=1.0)
    driver = ScenarioDriver(sc, "kimlong-01", clock)
    assert isinstance(driver, SensorDriver)
    driver.open()
    assert driver.read() == []  # nothing is due at the start
    clock.start_time = sc.start + timedelta(hours=1, seconds=1)  # jump an hour ahead
    got = driver.read()
    assert [s.ts for s in got] == [sc.start + timedelta(minutes=10 * i) for i in range(1, 7)]
    assert driver.read() == []
    assert not driver.exhausted
    clock.start_time = sc.end + timedelta(hours=1)
    assert len(driver.read()) == 360 - 6
    assert driver.exhausted


def test_unknown_device_names_the_devices() -> None:
    with pytest.raises(KeyError, match="kimlong-01"):
        load_scenario("flood-2025-11-03").samples("nope")


def test_bad_scenario_is_refused_with_location() -> None:
    text = ("name: x\nstart: 2025-01-01T00:00:00+07:00\nend: 2025-01-02T00:00:00+07:00\n"
            "sample_every_min: 10\nseries:\n  - station: a\n    device: a-1\n"
            "    quantity: water_level\n    keyframes: [[0, 1.0], [0, 2.0]]\n")
    with pytest.raises(ConfigError, match=r"x.yaml:9: series.0.keyframes.*must increase"):
        load_yaml_model(Scenario, "x.yaml", text=text)
    with pytest.raises(FileNotFoundError, match="flood-2025-11-03"):
        load_scenario("no-such-scenario")


_HEAD = "name: x\nstart: 2025-01-01T00:00:00+07:00\nend: 2025-01-02T00:00:00+07:00\n"
_SERIES = ("  - station: a\n    device: a-1\n    quantity: water_level\n"
           "    keyframes: [[0, 1.0], [5, 2.0]]\n")


def test_the_same_series_twice_is_refused() -> None:
    """Two curves for one device, station and quantity gave one reading id two values."""
    text = _HEAD + "sample_every_min: 10\nseries:\n" + _SERIES + _SERIES
    with pytest.raises(ConfigError) as info:
        load_yaml_model(Scenario, "x.yaml", text=text)
    assert str(info.value) == ("x.yaml:10: series.1: 'a-1/a': water_level of this device and"
                               " station is already series 0")


def test_a_sampling_step_that_makes_millions_of_samples_is_refused() -> None:
    """Every sample is made up front: 0.001 minutes over a day took 22 s and 626 MB."""
    text = _HEAD + "sample_every_min: 0.001\nseries:\n" + _SERIES
    with pytest.raises(ConfigError, match=r"x\.yaml:4: sample_every_min: 0\.001: gives"
                                          r" 1,440,000 samples from start to end"):
        load_yaml_model(Scenario, "x.yaml", text=text)


def test_rain_that_one_sample_could_not_carry_is_refused() -> None:
    """40 mm/h sampled once a day is 960 mm a reading: validation passed, then every such
    reading was refused at run time."""
    rain = ("  - station: a\n    device: a-1\n    quantity: rain\n"
            "    keyframes: [[0, 0.0], [5, 40.0]]\n")
    with pytest.raises(ConfigError, match=r"x\.yaml:9: series\.0\.keyframes: 40\.0: 40 mm/h over"
                                          r" a 1440-minute sample is 960 mm, above the 500 mm"):
        load_yaml_model(Scenario, "x.yaml", text=_HEAD + "sample_every_min: 1440\nseries:\n" + rain)
    hourly = load_yaml_model(Scenario, "x.yaml", text=_HEAD + "sample_every_min: 60\nseries:\n"
                             + rain)
    assert max(s.value for s in hourly.samples("a-1")) <= 500
