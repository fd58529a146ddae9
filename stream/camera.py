"""Per-camera processing: traffic aggregates from vehicle passes and violations.

:class:`CameraProcessor` is the mapper of the dataflow's ``stateful_map`` keyed by
camera; like :class:`stream.station.StationProcessor` it is pure Python. Its state is
a :class:`stream.traffic.CameraTraffic` (counts, flow, mean speed and congestion per
lane and minute; violations per type and hour) and the camera's alert series
(congestion rules of ``stream/rules.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioc.contract import (
    Aggregate,
    Alert,
    DeadLetter,
    VehicleTrack,
    Violation,
)
from stream.config import StreamConfig
from stream.rules import StationAlarms
from stream.rules_config import RuleSet
from stream.station import refusal
from stream.traffic import CameraTraffic

Output = VehicleTrack | Violation | Aggregate | Alert | DeadLetter


def camera_key(event: VehicleTrack | Violation) -> str:
    """The key camera events are partitioned by: one camera of one site."""
    return f"{event.site}/{event.camera}"


@dataclass(slots=True)
class CameraState:
    """Everything the stream keeps about one camera (picklable for recovery snapshots)."""

    traffic: CameraTraffic | None = None
    alarms: StationAlarms = field(default_factory=StationAlarms)


class CameraProcessor:
    """Turns a camera's vehicle passes and violations into traffic aggregates and alerts."""

    def __init__(self, config: StreamConfig, rules: RuleSet) -> None:
        self.config = config
        self.rules = rules

    def __call__(
        self, state: CameraState | None, event: VehicleTrack | Violation
    ) -> tuple[CameraState, list[Output]]:
        """Process one event of the camera: the event itself, then what it produced."""
        state = state or CameraState()
        if state.traffic is None:
            state.traffic = CameraTraffic(site=event.site, camera=event.camera,
                                          device=event.device)
        out: list[Output] = [event]
        update = state.traffic.add(event)
        if update.refused is not None:
            out.append(refusal(event, f"camera/{event.camera}", "traffic_windows",
                               update.refused))
            return state, out
        out.extend(update.aggregates)
        location = self.config.location(event.camera)
        for agg in update.aggregates:
            out.extend(state.alarms.on_aggregate(self.rules, agg, location=location))
        return state, out
