"""A scenario played as a sensor device, through the edge's driver interface."""

from __future__ import annotations

from edge.drivers.base import Sample
from simulators.clock import SimClock
from simulators.sensors.scenario import Scenario


class ScenarioDriver:
    """Gives, at each read, the device's samples whose scenario time has come."""

    def __init__(self, scenario: Scenario, device: str, clock: SimClock) -> None:
        self.scenario = scenario
        self.device = device
        self.clock = clock
        self._samples: list[Sample] = []
        self._next = 0

    def open(self) -> None:
        """Compute the device's samples and start the clock."""
        self._samples = self.scenario.samples(self.device)
        self._next = 0
        self.clock.start()

    def read(self) -> list[Sample]:
        """Samples due by the clock's current time, oldest first."""
        now = self.clock.now()
        start = self._next
        while self._next < len(self._samples) and self._samples[self._next].ts <= now:
            self._next += 1
        return self._samples[start:self._next]

    @property
    def exhausted(self) -> bool:
        return bool(self._samples) and self._next >= len(self._samples)

    def close(self) -> None:
        """Nothing to release."""
