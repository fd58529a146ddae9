"""Detection one frame ahead: the same events as one frame after the other, in order,
with the next frame's detection really running while the frame before is processed."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from edge.camera.evidence import EvidenceStore
from edge.camera.lookahead import Lookahead
from edge.camera.pipeline import CameraPipeline
from edge.camera.source import Frame
from ioc.contract import Event, encode
from models.detections import Detections
from tests.edge.camera.test_pipeline import (
    CFG,
    T0,
    ScriptedDetector,
    car_in_the_motorbike_lane,
)


def _frame(i: int) -> Frame:
    img = np.full((720, 1280, 3), (i * 3) % 255, np.uint8)
    return Frame(i, img, T0 + timedelta(seconds=i / 10), i / 10)


class StepDetector(ScriptedDetector):
    """The scripted detections through the detector's three steps, as the lookahead
    calls them (prepare and decode in the caller's thread, infer in the worker)."""

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        return frame

    def infer(self, prepared: np.ndarray) -> Detections:
        return self.detect(prepared)

    def decode(self, raw: Detections, prepared: np.ndarray) -> Detections:
        return raw


def _events(tmp: Path, ahead: bool) -> list[dict[str, object]]:
    script = car_in_the_motorbike_lane([0] * 30)
    store = EvidenceStore(tmp, CFG.camera).open()
    pipe = CameraPipeline(CFG, detector=StepDetector(script), plates=None,  # type: ignore[arg-type]
                          evidence=store)
    events: list[Event] = []
    look = Lookahead()
    try:
        for i in range(len(script) + 45):
            if ahead:
                events += look.push(pipe, _frame(i), "green")
            else:
                events += pipe.process(_frame(i), "green")
        events += look.flush()
    finally:
        look.close()
    assert pipe.stats.frames == len(script) + 45
    return [json.loads(encode(e)) for e in events]


def test_the_events_are_those_of_one_frame_after_the_other(tmp_path: Path) -> None:
    one_by_one = _events(tmp_path / "a", ahead=False)
    assert {e["kind"] for e in one_by_one} >= {"vehicle", "violation"}
    assert _events(tmp_path / "b", ahead=True) == one_by_one


N = 6
STARTED = [threading.Event() for _ in range(N)]


@dataclass
class _Recorder:
    """A pipeline stand-in: which frame it processed with which detections, and whether
    the detector had started on the next frame while this one was processed (it waits
    up to 5 s for that: done one after the other, it would wait in vain)."""

    detector: object
    processed: list[tuple[int, float, float]] = field(default_factory=list)
    overlapped: list[bool] = field(default_factory=list)

    def process(self, frame: Frame, signal: str | None, detections: Detections | None = None,
                infer_s: float = 0.0) -> list[Event]:
        assert detections is not None
        assert signal == "red"
        self.processed.append((frame.index, float(detections.confidence[0]), infer_s))
        if frame.index + 1 < N:
            self.overlapped.append(STARTED[frame.index + 1].wait(5.0))
        return []


class _Detector:
    def prepare(self, image: np.ndarray) -> int:
        return int(image[0, 0, 0])

    def infer(self, i: int) -> Detections:
        STARTED[i].set()
        return Detections(np.zeros((1, 4)), np.array([i / 4]), np.array([0]))

    def decode(self, raw: Detections, i: int) -> Detections:
        assert threading.current_thread() is threading.main_thread()
        return raw


def test_the_next_frame_is_detected_while_the_one_before_is_processed() -> None:
    pipe = _Recorder(_Detector())
    look = Lookahead()
    frames = [Frame(i, np.full((4, 4, 3), i, np.uint8), T0, i / 10) for i in range(N)]
    try:
        assert look.push(pipe, frames[0], "red") == []
        assert look.holding
        assert pipe.processed == []  # held back until the next frame comes
        for f in frames[1:]:
            look.push(pipe, f, "red")  # type: ignore[arg-type]
            assert [p[0] for p in pipe.processed] == list(range(f.index))
        look.flush()
        assert not look.holding
    finally:
        look.close()
    assert [(i, conf) for i, conf, _ in pipe.processed] == [(i, i / 4) for i in range(N)]
    assert all(s > 0 for _, _, s in pipe.processed)  # the detector's own time goes along
    assert pipe.overlapped == [True] * (N - 1)


class _Broken:
    def prepare(self, image: np.ndarray) -> np.ndarray:
        return image

    def infer(self, image: np.ndarray) -> Detections:
        raise RuntimeError("model gone")


def test_a_detector_error_reaches_the_caller_when_its_frame_is_finished() -> None:
    look = Lookahead()
    pipe = _Recorder(_Broken())
    try:
        look.push(pipe, _frame(0), "red")  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="model gone"):
            look.flush()
        assert look.flush() == []  # the failed frame is not retried
    finally:
        look.close()
