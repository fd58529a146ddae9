"""Per-frame ground truth of the camera simulator: what a perfect detector would report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ioc.plates import Plate
from simulators.camera.config import VehicleClass, ViolationKind

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the frame


class SignalState(enum.StrEnum):
    """Traffic light facing the camera's direction of travel."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    NONE = "none"  # road segment without a signal


@dataclass(frozen=True, slots=True)
class VehicleTruth:
    """One visible vehicle in one frame."""

    track_id: int
    cls: VehicleClass
    box: Box
    plate: Plate
    #: Box of the plate when it is visible and large enough to label, else None.
    plate_box: Box | None
    lane: int
    distance_m: float
    speed_kmh: float
    oncoming: bool
    visible: float
    #: -1 / +1 when it turns left / right into the cross street, 0 straight on.
    turn: int = 0


@dataclass(slots=True)
class Violation:
    """A violation with its frame span; ``end_frame`` is None while it is ongoing."""

    track_id: int
    kind: ViolationKind
    plate: str
    vehicle: VehicleClass
    start_frame: int
    end_frame: int | None = None
    #: Signal state when the violation started (red for red-light violations).
    signal_at_start: SignalState = SignalState.NONE


@dataclass(frozen=True, slots=True)
class FrameTruth:
    """Ground truth of one frame."""

    index: int
    timestamp_s: float
    signal: SignalState
    vehicles: tuple[VehicleTruth, ...]
    #: Violations in progress in this frame.
    violations: tuple[Violation, ...] = field(default_factory=tuple)

    def boxes(self) -> list[tuple[int, Box]]:
        """(class id, box) of every labelled object, plates included (class 4)."""
        out: list[tuple[int, Box]] = []
        for v in self.vehicles:
            out.append((int(v.cls), v.box))
            if v.plate_box is not None:
                out.append((4, v.plate_box))
        return out
