"""Inference backends behind one small interface, one file each.

A backend loads a model file and runs a single float32 NCHW blob through it.
``create_backend(name, path)`` picks one by name: ``onnxruntime`` (default) or
``opencv`` (cv2.dnn, no onnxruntime needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from models.errors import ModelError


class InferenceBackend(Protocol):
    """What a detector needs from a runtime."""

    #: Input shape (N, C, H, W); dynamic dimensions are -1.
    input_shape: tuple[int, ...]
    #: Output shape of the first output; dynamic dimensions are -1.
    output_shape: tuple[int, ...]
    #: Model metadata (ultralytics stores "names", "imgsz", "task" here).
    metadata: dict[str, str]

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """Run one input blob, return the first output."""
        ...


def create_backend(
    name: str, path: Path, threads: int = 2, imgsz: tuple[int, int] = (320, 320)
) -> InferenceBackend:
    """Load ``path`` with the backend called ``name`` (``imgsz``: input (height, width)
    where the backend cannot read it from the model)."""
    if name == "onnxruntime":
        from models.backends.ort_backend import OrtBackend

        return OrtBackend.load(path, threads)
    if name == "opencv":
        from models.backends.opencv_backend import OpenCVBackend

        return OpenCVBackend.load(path, threads, (1, 3, *imgsz))
    raise ModelError(f"unknown inference backend {name!r}: use 'onnxruntime' or 'opencv'")
