"""Builds the driver a gateway config names."""

from __future__ import annotations

from edge.config import SensorGatewayConfig
from edge.drivers.base import SensorDriver


def make_driver(config: SensorGatewayConfig, *, clock: object | None = None) -> SensorDriver:
    """The driver of ``config``; ``clock`` lets a demo share one scenario clock between gateways."""
    driver = config.driver
    if driver.type == "scenario":
        # Simulated gauges implement the same interface; imported only when configured.
        from simulators.clock import SimClock
        from simulators.sensors.driver import ScenarioDriver
        from simulators.sensors.scenario import load_scenario

        scenario = load_scenario(driver.scenario)
        if clock is None:
            clock = SimClock(scenario.start, driver.speed)
        assert isinstance(clock, SimClock)
        return ScenarioDriver(scenario, config.device, clock)
    if driver.type == "modbus":
        from edge.drivers.modbus import ModbusDriver

        return ModbusDriver(driver, config.device)
    raise ValueError(f"unknown driver type {driver.type!r}")  # pragma: no cover
