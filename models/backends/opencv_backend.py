"""OpenCV DNN backend: runs ONNX detectors where onnxruntime is not installed."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from models.errors import ModelFileNotFound, ModelFormatError

logger = logging.getLogger(__name__)


class OpenCVBackend:
    """Runs an ONNX model with ``cv2.dnn``. Shapes come from a probe run at load time."""

    def __init__(self, net: cv2.dnn.Net, path: Path, input_shape: tuple[int, ...]) -> None:
        self._net = net
        self.path = path
        self.input_shape = input_shape
        self.output_shape = tuple(self.infer(np.zeros(input_shape, np.float32)).shape)
        self.metadata: dict[str, str] = {}

    @classmethod
    def load(
        cls, path: Path, threads: int = 2, input_shape: tuple[int, ...] = (1, 3, 320, 320)
    ) -> OpenCVBackend:
        """Open ``path``; clear errors for a missing file or one that is not ONNX."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileNotFound(f"model file not found: {path}")
        try:
            net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise ModelFormatError(f"{path} is not a loadable ONNX model: {exc}") from exc
        cv2.setNumThreads(threads)
        try:  # the probe run: OpenCV reads some graphs it cannot run (YOLO26's end2end head)
            backend = cls(net, path, input_shape)
        except cv2.error as exc:
            lines = str(exc).strip().splitlines()
            reason = lines[-1] if lines else type(exc).__name__
            raise ModelFormatError(
                f"{path}: OpenCV's DNN module cannot run this model at input"
                f" {'x'.join(map(str, input_shape[2:]))} ({reason}); use the onnxruntime backend"
            ) from exc
        logger.info("loaded %s with OpenCV DNN", path)
        return backend

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """Run one blob; returns the first output."""
        self._net.setInput(blob)
        return np.asarray(self._net.forward())
