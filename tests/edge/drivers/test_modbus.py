"""The Modbus driver against the simulated device: decoding, scaling, counters, back-off,
and errors that name the device, its address and the register."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from edge.drivers.base import DriverError, DriverHealth, SensorDriver
from edge.drivers.modbus import ModbusDriver, decode_registers
from edge.drivers.modbus_config import ModbusDriverConfig, ModbusRegister
from simulators.sensors.modbus_device import ModbusDevice


@pytest.mark.parametrize(("data_type", "word_order", "registers", "value"), [
    ("int16", "big", [0xFFFE], -2),
    ("uint16", "big", [0xFFFE], 65534),
    ("int32", "big", [0xFFFF, 0xFFFD], -3),
    ("int32", "little", [0xFFFD, 0xFFFF], -3),
    ("uint32", "big", [0x0001, 0x0002], 65538),
    ("uint32", "little", [0x0002, 0x0001], 65538),
    ("float32", "big", list(struct.unpack(">HH", struct.pack(">f", 3.5))), 3.5),
    ("float32", "little", list(struct.unpack(">HH", struct.pack(">f", 3.5)))[::-1], 3.5),
])
def test_decoding_of_each_data_type_and_word_order(data_type: str, word_order: str,
                                                   registers: list[int], value: float) -> None:
    reg = ModbusRegister(quantity="water_level", address=0, data_type=data_type,  # type: ignore[arg-type]
                         word_order=word_order)  # type: ignore[arg-type]
    assert decode_registers(reg, registers) == pytest.approx(value)


class Clock:
    """Monotonic and wall clocks the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.wall = datetime(2025, 11, 3, 8, tzinfo=UTC)

    def mono(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.wall

    def advance(self, s: float) -> None:
        self.t += s
        self.wall += timedelta(seconds=s)


@pytest.fixture
def device() -> Iterator[ModbusDevice]:
    dev = ModbusDevice()
    dev.start()
    yield dev
    dev.stop()


def _config(port: int, **over: object) -> ModbusDriverConfig:
    data: dict[str, object] = {
        "type": "modbus", "host": "127.0.0.1", "port": port, "timeout_s": 0.5, "retries": 0,
        "backoff_initial_s": 1.0, "backoff_max_s": 4.0, "registers": [
            {"quantity": "water_level", "station": "kimlong", "address": 0,
             "data_type": "int16", "scale": 0.01},
            {"quantity": "water_level", "station": "kimlong-float", "address": 10,
             "data_type": "float32"},
            {"quantity": "temperature", "table": "input", "address": 2, "data_type": "int16",
             "scale": 0.1},
            {"quantity": "rain", "station": "kimlong", "table": "input", "address": 0,
             "data_type": "uint32", "scale": 0.2, "kind": "counter", "report_every_s": 600},
        ]}
    data.update(over)
    return ModbusDriverConfig.model_validate(data)


def test_reads_scales_and_turns_a_counter_into_amounts(device: ModbusDevice) -> None:
    clock = Clock()
    driver = ModbusDriver(_config(device.port), "kimlong-01", clock=clock.mono, now=clock.now)
    assert isinstance(driver, SensorDriver)
    assert isinstance(driver, DriverHealth)
    device.set_water_level(-0.42)
    device.add_rain(3.0)  # 15 tips before the gateway first looks: not counted
    driver.open()
    first = driver.read()
    assert [(s.quantity, s.station, s.value, s.unit) for s in first] == [
        ("water_level", "kimlong", -0.42, "m"),
        ("water_level", "kimlong-float", pytest.approx(-0.42), "m"),
        ("temperature", None, 25.0, "degC")]
    assert {s.ts for s in first} == {clock.wall}
    device.add_rain(1.0)
    clock.advance(300)
    assert [s.quantity for s in driver.read()] == ["water_level"] * 2 + ["temperature"]
    device.add_rain(1.4)
    clock.advance(301)  # 601 s since the baseline: one amount for the period
    rain = [s for s in driver.read() if s.quantity == "rain"]
    assert [(s.value, s.period_s, s.station) for s in rain] == [(2.4, 601, "kimlong")]
    driver.close()
    assert driver.state == "closed"


@pytest.mark.parametrize(("before", "after", "amount"), [
    (10, 25, 15 * 0.2),                        # counting up
    (0xFFFFFFF0, 0x10, (0x20) * 0.2),          # wrapped past 2**32
    (5000, 3, 3 * 0.2),                        # the device restarted: counts from zero
])
def test_counter_wrap_and_restart(device: ModbusDevice, before: int, after: int,
                                  amount: float) -> None:
    clock = Clock()
    cfg = _config(device.port, registers=[
        {"quantity": "rain", "table": "input", "address": 0, "data_type": "uint32",
         "scale": 0.2, "kind": "counter", "report_every_s": 60}])
    driver = ModbusDriver(cfg, "rain-hue-01", clock=clock.mono, now=clock.now)
    driver.open()
    device.tips = before
    assert driver.read() == []
    device.tips = after
    clock.advance(60)
    [sample] = driver.read()
    assert (sample.value, sample.period_s) == (pytest.approx(amount), 60)
    driver.close()


def test_a_dead_line_is_named_backed_off_and_recovered(device: ModbusDevice) -> None:
    clock = Clock()
    driver = ModbusDriver(_config(device.port), "kimlong-01", clock=clock.mono, now=clock.now)
    driver.open()
    assert len(driver.read()) == 3
    device.stop()
    with pytest.raises(DriverError) as info:
        driver.read()
    assert str(info.value).startswith(
        f"kimlong-01: modbus 127.0.0.1:{device.port} unit 1: holding register 0 "
        "(registers.0, water_level): ")
    assert driver.state == "reconnecting"
    assert driver.read() == []  # backing off: no request, no wait
    clock.advance(1.0)
    with pytest.raises(DriverError):
        driver.read()  # second failure: the next try is 2 s away
    clock.advance(1.5)
    assert driver.read() == []
    device.start()
    clock.advance(0.5)
    assert len(driver.read()) == 3
    assert (driver.state, driver.reconnects) == ("streaming", 1)
    driver.close()


def test_an_address_the_device_does_not_have_is_named(device: ModbusDevice) -> None:
    cfg = _config(device.port, registers=[
        {"quantity": "water_level", "address": 500, "data_type": "int16", "scale": 0.01}])
    driver = ModbusDriver(cfg, "kimlong-01")
    driver.open()
    with pytest.raises(DriverError, match=r"holding register 500 \(registers\.0, water_level\):"
                                          r" the device answered with Modbus exception 2"):
        driver.read()
    driver.close()


def test_rtu_framing_over_tcp() -> None:
    device = ModbusDevice(framer="rtu")
    device.start()
    try:
        device.set_water_level(3.54)
        driver = ModbusDriver(_config(device.port, transport="rtu_over_tcp"), "kimlong-01")
        driver.open()
        assert driver.read()[0].value == 3.54
        driver.close()
    finally:
        device.stop()
