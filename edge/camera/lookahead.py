"""Detection one frame ahead: the detector's model runs on frame N+1 in a worker thread
while the pipeline tracks, judges and reads plates of frame N.

onnxruntime releases the GIL while a model runs, and a small model does not keep
both cores busy between its operators, so the tracker's and the rules' Python work
fits into the gaps. Only the model run goes to the worker: the letterbox of frame
N+1 and the decoding of its output stay in the calling thread (the worker would
otherwise wait for the GIL the pipeline's Python holds before its model could
start). Every frame is still processed in order, by the same code, with the same
detections: the events are identical. A frame's events come out one frame later
(100 ms at 10 FPS); :meth:`Lookahead.flush` hands over the one held back (at the
end of the source, before a config is switched, when the source stalls).
Measured in ``bench/edge_bench.py`` ("as the agent runs it").
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from edge.camera.pipeline import CameraPipeline
from edge.camera.source import Frame
from ioc.contract import Event
from models.detector import Detector, Prepared


def _infer(detector: Detector, prepared: Prepared) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    return detector.infer(prepared), time.perf_counter() - start


@dataclass(slots=True)
class _Held:
    pipeline: CameraPipeline
    frame: Frame
    signal: str | None
    prepared: Prepared
    inferred: Future[tuple[np.ndarray, float]]


class Lookahead:
    """Feeds frames to a :class:`CameraPipeline` with each frame's detection started
    while the frame before is processed. Not thread-safe: one caller pushes."""

    def __init__(self, name: str = "detect") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._held: _Held | None = None

    @property
    def holding(self) -> bool:
        """Whether a frame waits for :meth:`push` or :meth:`flush` to finish it."""
        return self._held is not None

    def push(self, pipeline: CameraPipeline, frame: Frame, signal: str | None) -> list[Event]:
        """Start detecting ``frame`` and finish the frame pushed before: its events."""
        prepared = pipeline.detector.prepare(frame.image)
        inferred = self._pool.submit(_infer, pipeline.detector, prepared)
        try:
            return self.flush()
        finally:
            self._held = _Held(pipeline, frame, signal, prepared, inferred)

    def flush(self) -> list[Event]:
        """Finish the frame held back, if any (a detector error is raised here)."""
        held, self._held = self._held, None
        if held is None:
            return []
        raw, seconds = held.inferred.result()
        det = held.pipeline.detector.decode(raw, held.prepared)
        return held.pipeline.process(held.frame, held.signal, det, seconds)

    def close(self) -> None:
        """Drop a held frame and end the worker thread (after its current detection)."""
        self._held = None
        self._pool.shutdown(wait=True, cancel_futures=True)
