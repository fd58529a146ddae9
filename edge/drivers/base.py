"""The driver interface every sensor source implements: a real gauge or a simulated one.

A driver is opened once, then polled: :meth:`SensorDriver.read` returns at once with
the samples available now (possibly none) and never blocks for long. The agent
turns samples into contract events; a driver knows nothing of MQTT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured value, as a driver reports it."""

    quantity: str
    value: float
    unit: str
    ts: datetime
    station: str | None = None
    period_s: int = 0

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError(f"sample of {self.quantity} has a naive timestamp {self.ts}")


class DriverError(RuntimeError):
    """A driver cannot read its device; the message names the device, its address, the
    register or channel, and the cause. Raised by ``read``; the agent logs it and keeps
    polling (the driver decides when to try the device again)."""


@runtime_checkable
class SensorDriver(Protocol):
    """What the sensor agent needs of a driver."""

    def open(self) -> None:
        """Connect to the device (serial port, Modbus, a scenario file, ...)."""

    def read(self) -> list[Sample]:
        """Samples available now, oldest first; an empty list when there are none."""

    @property
    def exhausted(self) -> bool:
        """True when the device will never produce another sample (end of a recording)."""

    def close(self) -> None:
        """Release the device."""


@runtime_checkable
class DriverHealth(Protocol):
    """What a driver of a live device may also tell the heartbeat (optional)."""

    @property
    def state(self) -> str:
        """streaming, reconnecting or closed."""

    @property
    def reconnects(self) -> int:
        """Times the device came back after failing."""
