"""The object detector the edge runs: letterbox, ONNX inference, decoding, NMS, class map."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models import SHIPPED_DETECTOR
from models.backends import InferenceBackend, create_backend
from models.class_map import CANONICAL, ClassMap, parse_names
from models.detections import Detections
from models.errors import ModelError, ModelOutputError
from models.input_size import input_size
from models.postprocess import Letterbox, decode_end2end, decode_yolo, letterbox

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """How to run a detector; ``class_map`` maps model class names to canonical ones."""

    model: Path = SHIPPED_DETECTOR
    backend: str = "onnxruntime"
    #: Input (height, width) or a square side; used where the model does not say
    #: (dynamic input, or the OpenCV backend, which cannot read the model's shapes).
    imgsz: int | tuple[int, int] = 320
    conf: float = 0.25
    iou: float = 0.5
    threads: int = 2
    class_map: Mapping[str | int, str] | None = None
    #: Class names when the model carries none in its metadata (id → name).
    names: Mapping[int, str] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A frame made ready for the model: its input blob, and how to map boxes back."""

    blob: np.ndarray
    letterbox: Letterbox
    width: int  # of the frame
    height: int


class Detector:
    """Finds vehicles and plates in BGR frames; returns canonical ``Detections``.

    Construction does no I/O; ``load()`` opens the model and checks its shapes.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._backend: InferenceBackend | None = None
        self._class_map: ClassMap | None = None
        self._num_classes = 0
        self._end2end = False
        self._size = input_size(self.config.imgsz)

    def load(self) -> Detector:
        """Open the model file; raises ModelError subclasses with clear messages."""
        cfg = self.config
        backend = create_backend(cfg.backend, Path(cfg.model), cfg.threads, self._size)
        names = dict(cfg.names) if cfg.names else parse_names(backend.metadata)
        out = backend.output_shape
        # ultralytics writes end2end=True for NMS-free exports (YOLO26/YOLOv10, nms=False)
        self._end2end = backend.metadata.get("end2end", "").lower() == "true"
        if self._end2end and (len(out) != 3 or out[0] not in (1, -1) or out[2] != 6):
            raise ModelOutputError(
                f"{cfg.model}: end-to-end model with output shape {out}: expected (1, N, 6)"
                " rows of x1, y1, x2, y2, score, class"
            )
        if self._end2end and names is None:
            raise ModelOutputError(
                f"{cfg.model}: end-to-end model without class names in its metadata:"
                " give them in the detector config (names)"
            )
        if len(out) != 3 or out[0] not in (1, -1):
            raise ModelOutputError(
                f"{cfg.model}: unexpected output shape {out}: expected (1, 4+classes, anchors)"
                " as exported by ultralytics YOLOv8/YOLO11"
            )
        if names is None:  # no metadata: assume the ultralytics layout (1, 4+classes, anchors)
            if out[1] < 5:
                raise ModelOutputError(f"{cfg.model}: cannot infer classes from output {out}")
            names = {i: CANONICAL[i] if i < len(CANONICAL) else str(i) for i in range(out[1] - 4)}
        nc = len(names)
        if not self._end2end and 4 + nc not in out[1:]:
            raise ModelOutputError(
                f"{cfg.model}: unexpected output shape {out}: expected (1, {4 + nc}, anchors)"
                f" for {nc} classes {list(names.values())}"
            )
        inp = backend.input_shape
        if len(inp) != 4 or inp[1] not in (3, -1):
            raise ModelOutputError(
                f"{cfg.model}: input shape {inp}: expected (N, 3, height, width) colour images"
                " (is this a detector?)"
            )
        if len(inp) == 4 and inp[2] > 0 and inp[3] > 0:
            self._size = (inp[2], inp[3])
        self._class_map = ClassMap.build(names, cfg.class_map)
        self._num_classes = nc
        self._backend = backend
        logger.info("detector %s: input %s, classes %s", cfg.model, self._size, names)
        return self

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input (height, width)."""
        return self._size

    @property
    def classes(self) -> frozenset[str]:
        """The canonical classes (``CANONICAL``) this model's detections are mapped to."""
        if self._class_map is None:
            raise ModelError("detector not loaded: call load() first")
        return frozenset(CANONICAL[c] for c in self._class_map.table.values())

    def detect(self, frame: np.ndarray) -> Detections:
        """Detections in frame pixels, canonical class ids (see ``CANONICAL``)."""
        return self.detect_many([frame])[0]

    @property
    def batched(self) -> bool:
        """Whether the model takes several images in one run (a dynamic batch dimension)."""
        return self._backend is not None and self._backend.input_shape[:1] == (-1,)

    def detect_many(self, frames: list[np.ndarray]) -> list[Detections]:
        """:meth:`detect` of several images (a vehicle's crops, say): one run of the model
        for all of them where it takes a batch (:attr:`batched`), one run each otherwise."""
        if not frames:
            return []
        inputs = [self.prepare(f) for f in frames]
        if self.batched and len(frames) > 1:
            raw = self._loaded()[0].infer(np.concatenate([p.blob for p in inputs]))
            outs = [raw[i : i + 1] for i in range(len(frames))]
        else:
            outs = [self.infer(p) for p in inputs]
        return [self.decode(raw, p) for raw, p in zip(outs, inputs, strict=True)]

    # --- the three steps of detect, for callers that run the model in another thread --

    def prepare(self, frame: np.ndarray) -> Prepared:
        """Step 1: the frame letterboxed into the model's input."""
        self._loaded()
        blob, lb = letterbox(frame, self._size)
        return Prepared(blob, lb, frame.shape[1], frame.shape[0])

    def infer(self, prepared: Prepared) -> np.ndarray:
        """Step 2: the model run alone. It holds no Python lock while the model runs
        (onnxruntime releases the GIL), so another thread can do its work meanwhile."""
        return self._loaded()[0].infer(prepared.blob)

    def decode(self, raw: np.ndarray, prepared: Prepared) -> Detections:
        """Step 3: the model's output as detections in frame pixels, canonical classes."""
        class_map = self._loaded()[1]
        if raw.ndim != 3:
            raise ModelOutputError(f"{self.config.model}: output of rank {raw.ndim}, expected 3")
        if self._end2end:
            det = decode_end2end(raw, self.config.conf)
        else:
            det = decode_yolo(raw, self._num_classes, self.config.conf, self.config.iou)
        det = class_map.apply(det)
        return Detections(prepared.letterbox.to_frame(det.xyxy, prepared.width, prepared.height),
                          det.confidence, det.class_id)

    def _loaded(self) -> tuple[InferenceBackend, ClassMap]:
        if self._backend is None or self._class_map is None:
            raise ModelError("detector not loaded: call load() first")
        return self._backend, self._class_map

    __call__ = detect
