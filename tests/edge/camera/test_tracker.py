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


def _hist(bins: dict[int, float]) -> np.ndarray:
    h = np.zeros(32)
    for i, v in bins.items():
        h[i] = v
    return h / h.sum()


RED, ALSO_RED, BLUE = _hist({0: 0.8, 1: 0.2}), _hist({0: 0.7, 1: 0.3}), _hist({20: 0.9, 21: 0.1})


def test_a_vehicle_of_another_colour_in_the_same_box_does_not_take_the_track_over() -> None:
    """A blue car passes in line with the camera in front of a red one that is not
    detected meanwhile: the red car's track waits (coasting) instead of following the
    blue car, the blue car gets its own track, and the red car its track back."""
    tr = ByteTracker(TrackerSettings(min_hits=2, lost_frames=5))
    for f in range(6):  # the red car, moving right
        out = tr.update(dets([box(100 + 5 * f, 100)]), f, [RED])
    assert [t.track_id for t in out.active] == [1]
    for f in range(6, 8):  # only the blue car is detected, where the red one should be
        out = tr.update(dets([box(100 + 5 * f, 100)]), f, [BLUE])
        assert 1 not in [t.track_id for t in out.active]
    assert [t.track_id for t in tr.tracks if t.missed == 0] == [2]
    out = tr.update(dets([box(100 + 5 * 8, 100), box(20, 300)]), 8, [ALSO_RED, BLUE])
    assert 1 in [t.track_id for t in out.active]
    colour = tr.tracks[0].colour
    assert colour is not None
    assert colour[0] > 0.7


def test_colour_is_ignored_when_unknown_or_turned_off() -> None:
    for settings, colours in ((TrackerSettings(min_hits=1), [None]),
                              (TrackerSettings(min_hits=1, max_colour_dist=0.0), [BLUE])):
        tr = ByteTracker(settings)
        tr.update(dets([box(100, 100)]), 0, [RED])
        out = tr.update(dets([box(105, 100)]), 1, colours)
        assert [t.track_id for t in out.active] == [1]
        # the matched detection's colour is kept for re-identification either way
        assert out.active[0].seen_colour is colours[0]


def test_colour_distances_match_the_pairwise_distance() -> None:
    from edge.camera.reid import colour_distance, colour_distances

    a, b = np.stack([RED, BLUE]), np.stack([ALSO_RED, BLUE, RED])
    d = colour_distances(a, b)
    assert d.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert abs(d[i, j] - colour_distance(a[i], b[j])) < 1e-6  # sqrt of rounding near 0
    assert d[1, 1] < 1e-6
    assert d[0, 1] > 0.99


#: A motorbike at 60 km/h entering the frame 12 m from the camera (simulator seed 9107):
#: its box moves further than its own width from one frame to the next.
FAST = [(1056, 566, 1132, 718), (1004, 499, 1069, 679), (962, 445, 1020, 603),
        (928, 400, 981, 543), (901, 363, 948, 492), (878, 335, 922, 452)]


def test_a_fast_vehicle_near_the_camera_keeps_one_track_from_its_first_frame() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=3))
    for f, b in enumerate(FAST):
        out = tr.update(dets([b]), f)
    assert [(t.track_id, t.hits) for t in out.active] == [(1, len(FAST))]
    # matched like any other track, a young one cannot follow it: a new track each frame,
    # none of which lives to count, until the vehicle is far enough to overlap itself
    tr = ByteTracker(TrackerSettings(min_hits=3, young_buffer=0.0))
    for f, b in enumerate(FAST[:4]):
        out = tr.update(dets([b]), f)
        assert out.active == []
    assert [t.track_id for t in tr.tracks] == [4]


def test_a_young_track_does_not_take_a_detection_beyond_its_widened_box() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=3))
    tr.update(dets([box(100, 100)]), 0)
    tr.update(dets([box(230, 100)]), 1)  # three box widths away: another vehicle
    assert [(t.track_id, t.hits) for t in tr.tracks] == [(2, 1)]


def test_a_vehicle_boxed_twice_is_one_track_whose_class_hears_both_boxes() -> None:
    # an NMS-free detector: the same bus also boxed as a truck, every frame; the truck
    # box is the better fit after the first frame, so the track matches it
    tr = ByteTracker(TrackerSettings(min_hits=2, duplicate_iou=0.8))
    for f in range(8):
        b = box(10 + 4 * f, 100, 120, 90)
        shifted = (b[0] + 1, b[1] - 2, b[2] + 2, b[3] - 1)
        bus, truck = (b, shifted) if f == 0 else (shifted, b)
        out = tr.update(dets([truck, bus], conf=[0.61, 0.66], cls=[3, 2]), f)
    assert [t.track_id for t in tr.tracks] == [1]
    assert out.active[0].class_id == 2  # 0.66 a frame for bus against 0.61 for truck


def test_two_vehicles_overlapping_less_than_the_duplicate_iou_are_two_tracks() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=2, duplicate_iou=0.8))
    for f in range(5):  # a motorbike in front of a car: IoU 0.33
        tr.update(dets([box(100, 100, 80, 60), box(120, 130, 40, 40)], cls=[0, 1]), f)
    assert sorted(t.class_id for t in tr.tracks) == [0, 1]


def test_a_tracked_vehicle_keeps_its_track_under_a_newcomer_that_covers_it() -> None:
    # duplicates only hold back births: two tracks that come to overlap both go on
    tr = ByteTracker(TrackerSettings(min_hits=2, duplicate_iou=0.8, max_colour_dist=0))
    for f in range(12):
        a, b = box(100 + 5 * f, 100, 60, 40), box(160 - 0.5 * f, 100, 60, 40)
        out = tr.update(dets([a, b], conf=[0.9, 0.8]), f)
    assert sorted(t.track_id for t in out.active) == [1, 2]


def test_duplicate_iou_zero_lets_every_confident_box_start_a_track() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=1, duplicate_iou=0.0))
    b = box(10, 100, 120, 90)
    tr.update(dets([b, (b[0] + 1, b[1] - 2, b[2] + 2, b[3] - 1)], cls=[2, 3]), 0)
    assert len(tr.tracks) == 2


def test_a_vehicle_that_left_the_frame_does_not_take_the_next_one_entering_there() -> None:
    # one car leaves at the bottom (its clipped box shrinks towards the edge); eight
    # frames later another enters there, going away: a new track, not the old one
    tr = ByteTracker(TrackerSettings(min_hits=2, lost_frames=10, max_colour_dist=0))
    size = (640, 360)
    for f in range(8):
        tr.update(dets([(200, 200 + 12 * f, 360, 360)]), f, frame_size=size)
    ended = tr.update(dets([]), 8, frame_size=size).ended
    assert [t.track_id for t in ended] == [1]
    for f in range(9, 16):
        out = tr.update(dets([(200, 300 - 10 * (f - 9), 360, 360)]), f, frame_size=size)
    assert [t.track_id for t in out.active] == [2]


def test_a_vehicle_missed_for_a_frame_at_the_edge_but_not_leaving_keeps_its_track() -> None:
    # entering at the bottom (its box grows up from the edge), one frame undetected
    tr = ByteTracker(TrackerSettings(min_hits=2, lost_frames=10, max_colour_dist=0))
    size = (640, 360)
    boxes = {f: (200, 300 - 10 * f, 360, 360) for f in range(10)}
    for f in range(10):
        out = tr.update(dets([boxes[f]] if f != 5 else []), f, frame_size=size)
        assert out.ended == []
    assert [t.track_id for t in out.active] == [1]


def test_without_the_frame_size_a_lost_track_coasts_as_before() -> None:
    tr = ByteTracker(TrackerSettings(min_hits=2, lost_frames=10, max_colour_dist=0))
    for f in range(8):
        tr.update(dets([(200, 200 + 12 * f, 360, 360)]), f)
    assert tr.update(dets([]), 8).ended == []
