"""Shared stand-ins of the edge tests."""

from __future__ import annotations

import pytest


class RecordingPublisher:
    """A publisher without a broker: records what an agent publishes (the agent's own
    bookkeeping is under test, not delivery)."""

    broker = None
    config_version = "1"
    started = True
    disk_used_bytes = queue_depth = dropped = 0

    def __init__(self) -> None:
        self.sent: list[object] = []

    def publish(self, event: object) -> bool:
        self.sent.append(event)
        return True

    def announce_online(self) -> None:
        pass


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()
