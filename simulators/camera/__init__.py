"""Simulated traffic camera: a signalised intersection or road segment with exact ground truth.

``CameraSimulator(SceneConfig(seed=...))`` is a frame source with ``read() -> (ok,
frame)`` like ``cv2.VideoCapture`` and a ``truth`` accessor for the last frame.
"""

from simulators.camera.config import (
    CLASS_NAMES,
    PLATE_CLASS_ID,
    CameraGeometry,
    SceneConfig,
    SceneKind,
    TimeOfDay,
    VehicleClass,
    ViolationKind,
)
from simulators.camera.source import CameraSimulator
from simulators.camera.truth import FrameTruth, SignalState, VehicleTruth, Violation

__all__ = [
    "CLASS_NAMES",
    "PLATE_CLASS_ID",
    "CameraGeometry",
    "CameraSimulator",
    "FrameTruth",
    "SceneConfig",
    "SceneKind",
    "SignalState",
    "TimeOfDay",
    "VehicleClass",
    "VehicleTruth",
    "Violation",
    "ViolationKind",
]
