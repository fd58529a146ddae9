"""The ByteTrack-style tracker on synthetic detections."""

from __future__ import annotations

import numpy as np

from edge.camera.tracker import ByteTracker, TrackerSettings
from models.detections import Detections


def dets(boxes: list[tuple[float, float, float, float]], conf: list[float] | None = None,
         cls: list[int] | None = None) -> Detections:
    n = len(boxes)
    return Detections(np.array(boxes, np.float32).reshape(-1, 4),
                      np.array(conf or [0.9] * n, np.float32),
                      np.array(cls or [0] * n, np.int64))


def box(x: float, y: float, w: float = 40, h: float = 30) -> tuple[float, float, float, float]:
    return (x, y, x + w, y + h)


def test_two_vehicles_keep_their_ids_while_they_move() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=3))
    seen: list[list[int]] = []
    for f in range(20):
        out = tr.update(dets([box(10 + 5 * f, 100), box(300 - 6 * f, 200)]), f)
        seen.append(sorted(t.track_id for t in out.active))
    assert seen[0] == []  # tentative until three hits
    assert seen[2:] == [[1, 2]] * 18


def test_a_short_occlusion_keeps_the_id_a_long_one_ends_the_pass() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=2, lost_frames=5))
    for f in range(10):
        tr.update(dets([box(10 + 5 * f, 100)]), f)
    for f in range(10, 14):  # hidden for 4 frames
        assert tr.update(dets([]), f).ended == []
    out = tr.update(dets([box(10 + 5 * 14, 100)]), 14)
    assert [t.track_id for t in out.active] == [1]
    ended = []
    for f in range(15, 22):
        ended += tr.update(dets([]), f).ended
    assert [t.track_id for t in ended] == [1]
    assert tr.tracks == []


def test_a_low_confidence_detection_keeps_a_track_alive() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=2, high_conf=0.5, lost_frames=1))
    for f in range(5):
        tr.update(dets([box(10 + 5 * f, 100)]), f)
    for f in range(5, 10):  # blurred: only weak detections
        out = tr.update(dets([box(10 + 5 * f, 100)], conf=[0.2]), f)
        assert [t.track_id for t in out.active] == [1]


def test_weak_detections_never_start_tracks_and_one_frame_ghosts_never_count() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=3, new_track_conf=0.6))
    out = tr.update(dets([box(10, 10)], conf=[0.4]), 0)
    assert tr.tracks == []
    tr.update(dets([box(200, 10)]), 1)  # a ghost seen once
    for f in range(2, 8):
        out = tr.update(dets([]), f)
        assert out.ended == []  # a tentative track leaves no pass behind


def test_class_is_a_vote_over_the_pass() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=1))
    classes = [1, 1, 0, 1, 1, 0, 1]
    for f, c in enumerate(classes):
        out = tr.update(dets([box(10 + 3 * f, 50)], cls=[c]), f)
    assert out.active[0].class_id == 1
    assert tr.flush()[0].hits == len(classes)
