"""Per-camera processing: traffic aggregates from vehicle passes and violations.

:class:`CameraProcessor` is the mapper of the dataflow's ``stateful_map`` keyed by
camera; like :class:`stream.station.StationProcessor` it is pure Python.
"""

from __future__ import annotations

from ioc.contract import Aggregate, DeadLetter, VehicleTrack, Violation
from stream.config import StreamConfig

Output = VehicleTrack | Violation | Aggregate | DeadLetter


def camera_key(event: VehicleTrack | Violation) -> str:
    """The key camera events are partitioned by: one camera of one site."""
    return f"{event.site}/{event.camera}"


class CameraProcessor:
    """Turns a camera's vehicle passes and violations into traffic aggregates."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config

    def __call__(
        self, state: object | None, event: VehicleTrack | Violation
    ) -> tuple[object | None, list[Output]]:
        """Process one event of the camera."""
        return state, [event]
