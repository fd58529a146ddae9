"""Frames in, contract events out: detect → track → rules → evidence and plate reads.

:class:`CameraPipeline` does no MQTT and no source handling: the agent feeds it
frames and publishes what it returns; the evaluation feeds it simulator frames
and matches what it returns against ground truth. A violation is held until the
vehicle has left (or ``evidence.max_wait_s``) so that its plate is read on the
vehicle's best frames; its images are the frames ``before_s`` before, at, and
``after_s`` after the moment the rule fired.
"""

from __future__ import annotations

import copy
import logging
import math
import statistics
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from edge.camera.config import CameraGatewayConfig
from edge.camera.evidence import EvidenceStore
from edge.camera.geometry import Point
from edge.camera.passes import Pass, bottom_hidden
from edge.camera.plates import PlateCollector, PlateResult
from edge.camera.reid import Rejoiner, RejoinSettings, Sighting, colour_histogram
from edge.camera.rules import VEHICLE_WIDTH_M, FrameContext, Hit, TrackView, lane_at
from edge.camera.scene import Scene, build_scene
from edge.camera.source import Frame
from edge.camera.tracker import ByteTracker, Track, TrackerSettings
from ioc.contract import (
    Event,
    EvidenceImage,
    PlateRead,
    VehicleClass,
    VehicleTrack,
    Violation,
    ViolationType,
    stable_id,
)
from models.class_map import CANONICAL
from models.detections import Detections
from models.detector import Detector

logger = logging.getLogger(__name__)
PLATE = CANONICAL.index("plate")
_CLASSES = {i: VehicleClass(n) for i, n in enumerate(CANONICAL) if n != "plate"}


@dataclass(slots=True)
class _Pending:
    hit: Hit
    fired_at: float
    before: tuple[np.ndarray, datetime]
    at: tuple[np.ndarray, datetime]
    after: tuple[np.ndarray, datetime] | None = None
    after_frame: int = 0


@dataclass(slots=True)
class _HeldRead:
    """An unsure plate read waiting to see whether a sure read of the same vehicle
    follows (``plates.unsure_hold_s``)."""

    event: PlateRead
    until: float  # stream time it is published at, if nothing supersedes it
    last: tuple[float, float, float] | None  # (t, x, y): where its vehicle was last seen


@dataclass(slots=True)
class _Reported:
    """A vehicle reported for a violation, and where it was last seen on the road."""

    violation: ViolationType
    identity: int
    t: float  # when it was reported, where, at what velocity
    p: np.ndarray
    v: np.ndarray
    t_last: float  # when it was last seen on the road, where, at what velocity
    p_last: np.ndarray
    v_last: np.ndarray
    loose: bool = False  # judged on places with its bottom edge hidden too (Pass.loose)
    at_t: float = 0.0  # when the violation happened (red light: when it crossed)


@dataclass(slots=True)
class PipelineStats:
    """Running figures for the heartbeat and the bench."""

    frames: int = 0
    inference_ms: float = 0.0  # moving average of detector time
    frame_ms: float = 0.0  # moving average of the whole pipeline per frame
    violations: int = 0
    plate_reads: int = 0
    plate_repeats: int = 0  # reads of a plate published moments before (a broken track)
    plate_unsure_short: int = 0  # unsure reads of short passes, not published
    plate_unsure_superseded: int = 0  # held unsure reads dropped for a sure one there
    repeats: int = 0  # violations of a vehicle already reported (a broken track)
    tracks: int = 0
    rejoined: int = 0  # tracks that continued a lost vehicle's identity
    reversals: int = 0  # tracks that jumped to an oncoming vehicle (split in two passes)


def _near(here: np.ndarray, p0: np.ndarray, v0: np.ndarray, gap: float,
          radius_m: float) -> bool:
    """Whether a vehicle at ``p0`` moving at ``v0`` may be at ``here`` ``gap`` s later (a
    stationary one: still within ``radius_m``)."""
    gap = max(0.0, gap)
    miss = here - (p0 + v0 * gap)
    speed = float(np.linalg.norm(v0))
    if speed <= 1.0:
        return float(np.linalg.norm(miss)) <= radius_m
    along_ok = radius_m + max(3.0, 0.5 * speed) * gap
    ahead = v0 / speed
    along, across = float(miss @ ahead), float(miss @ (ahead[1], -ahead[0]))
    return math.hypot(along / along_ok, across / (1.2 + gap)) <= 1.0


class CameraPipeline:
    """Runs one camera's models and rules. ``load()`` opens the models."""

    #: A red-light hit of a track seen short of the line this long after another vehicle
    #: was reported crossing is not that vehicle again (fronts are placed within a metre
    #: or so: a second track of the same vehicle may start just short of the line)
    SHORT_MARGIN_S = 1.0

    def __init__(self, cfg: CameraGatewayConfig, *, detector: Detector,
                 plates: PlateCollector | None, evidence: EvidenceStore | None,
                 fps: float = 10.0) -> None:
        self.detector, self.plates, self.evidence = detector, plates, evidence
        self.fps = fps
        self.stats = PipelineStats()
        self.cfg = cfg
        self.scene: Scene = build_scene(cfg)
        self.tracker = ByteTracker(self._tracker_settings(cfg))
        self._passes: dict[int, Pass] = {}  # identity → pass
        self._identity: dict[int, int] = {}  # tracker track id → identity
        self.rejoiner = Rejoiner(RejoinSettings(max_gap_s=cfg.tracker.rejoin_s))
        self._pending: dict[int, list[_Pending]] = {}
        self._frames: deque[tuple[int, np.ndarray, datetime]] = deque()
        self._now: Frame | None = None
        self._recent_plates: dict[str, float] = {}  # plate → stream time it was published
        self._held_reads: list[_HeldRead] = []
        self._recent_hits: list[_Reported] = []
        #: a plate read again within this many seconds is the same pass (a track that broke
        #: in two behind an occlusion), not a second one
        self.plate_repeat_s = 10.0

    def _tracker_settings(self, cfg: CameraGatewayConfig) -> TrackerSettings:
        t = cfg.tracker
        return TrackerSettings(t.high_conf, t.new_track_conf, t.match_iou, t.low_match_iou,
                               max(1, round(t.lost_s * self.fps)), t.min_hits,
                               t.max_colour_dist, t.young_buffer, t.duplicate_iou)

    def apply_config(self, cfg: CameraGatewayConfig) -> None:
        """Use a new config from the next frame on (zones and rules rebuilt; tracks kept)."""
        scene = build_scene(cfg)
        self.cfg, self.scene = cfg, scene
        self.tracker.settings = self._tracker_settings(cfg)
        self.rejoiner.settings = RejoinSettings(max_gap_s=cfg.tracker.rejoin_s)

    # --- per frame -------------------------------------------------------------------

    def process(self, frame: Frame, signal: str | None, detections: Detections | None = None,
                infer_s: float = 0.0) -> list[Event]:
        """Run one frame; returns the events it completed (tracks, plates, violations).

        ``detections``: the detector's output for this frame when it was already run
        (:class:`edge.camera.lookahead.Lookahead` runs it beside the previous frame's
        work), taking ``infer_s`` seconds; without them the detector runs here."""
        t0 = time.perf_counter()
        self._now = frame
        keep = round((self.cfg.evidence.before_s + 3.0) * self.fps)
        self._frames.append((frame.index, frame.image, frame.ts))
        while self._frames and self._frames[0][0] < frame.index - keep:
            self._frames.popleft()
        if detections is None:
            det = self.detector.detect(frame.image)
            infer_s = time.perf_counter() - t0
        else:
            det = detections
        t1 = time.perf_counter()
        det = det[det.class_id != PLATE]
        # once per detection: the tracker's colour gate and re-identification use them
        colours = [colour_histogram(frame.image, b) for b in det.xyxy]
        h, w = frame.image.shape[:2]
        out = self.tracker.update(det, frame.index, colours, (w, h))
        ctx = FrameContext(frame.index, frame.t, signal)
        hidden = bottom_hidden(np.array([t.box for t in out.active]).reshape(-1, 4), det.xyxy)
        for track, hide in zip(out.active, hidden, strict=True):
            self._observe(track, frame, ctx, w, h, bool(hide), det.xyxy)
        for track in out.ended:
            p = self._passes.get(self.identity_of(track.track_id))
            if p is not None and p.track is track:
                p.ended, p.left = True, track.left
        events = self._close_passes(frame)
        events += self._due_violations(frame)
        events += self._due_reads(frame.t)
        self._tick(infer_s, infer_s + time.perf_counter() - t1)
        return events

    def _tick(self, infer_s: float, total_s: float) -> None:
        s = self.stats
        s.frames += 1
        a = 0.1 if s.frames > 1 else 1.0
        s.inference_ms += a * (1000 * infer_s - s.inference_ms)
        s.frame_ms += a * (1000 * total_s - s.frame_ms)

    def _observe(self, track: Track, frame: Frame, ctx: FrameContext, w: int, h: int,
                 hidden: bool, others: np.ndarray) -> None:
        ident = self.identity_of(track.track_id)
        p = self._passes.get(ident)
        if p is None:
            p = self._passes[ident] = Pass(ident, track, first_ts=frame.ts)
            self._identity[track.track_id] = ident
            self.stats.tracks += 1
        if p.lost:
            self.rejoiner.seen(p.identity)
            p.lost = False
        p.last_ts, p.last_t, p.last_frame = frame.ts, frame.t, frame.index
        anchor, width = self._anchor(p, track.box, w, h)
        ground = anchor if not hidden else None  # trusted: its bottom edge is in sight
        if ground is not None:
            colour = track.seen_colour  # its box's, computed once this frame
            if not p.grounded and p.identity == track.track_id:
                p = self._rejoin(p, Sighting(ident, frame.t, np.array(ground), None,
                                             dict(track.class_votes), width, colour))
            if width is not None:
                p.widths.append(width)
            if colour is not None:
                p.colour = colour if p.colour is None else 0.7 * p.colour + 0.3 * colour
            p.motion.add(frame.t, ground)
            turned = p.motion.reversal()
            if turned is not None:
                p = self._split(p, track, frame, turned)
            p.start = p.start or ground
            p.end = ground
            lane = lane_at(self.scene.lanes, ground)
            if lane is not None:
                p.lanes[lane.name] = p.lanes.get(lane.name, 0) + 1
            v = p.motion.velocity(1.0, min_points=4)
            if v is not None:
                p.speeds.append(math.hypot(v[0], v[1]) * 3.6)
        if anchor is not None:
            p.loose.add(frame.t, anchor)
        cls = _CLASSES[p.class_id]
        view = TrackView(p.identity, cls, frame.index, frame.t, ground, p.motion, anchor)
        loose = TrackView(p.identity, cls, frame.index, frame.t, anchor, p.loose, anchor)
        for rule in self.scene.rules:
            hit = rule.update(loose if rule.hidden_anchors else view, ctx)
            if hit is not None and not self._repeat(hit, p, frame.t, rule.hidden_anchors):
                self._hold(hit, frame)
        if self.plates is not None:
            self.plates.offer(p.identity, frame.index, frame.image, track.box, others)

    def _anchor(self, p: Pass, box: np.ndarray, w: int, h: int
                ) -> tuple[Point | None, float | None]:
        """Where the vehicle touches the road (the bottom centre of its box, on the ground)
        and its width there (metres); (None, None) when its bottom is cut by the frame.
        A box cut by one side of the frame still shows the bottom edge and the inner
        side: the anchor is half the vehicle's width (as measured while it was whole, else
        its class's typical width) beyond the inner bottom corner; no width then."""
        x1, _, x2, y2 = box.tolist()  # plain floats: this runs per track per frame
        cut_left, cut_right = x1 <= 1, x2 >= w - 2
        if y2 >= h - 2 or (cut_left and cut_right) or x2 - x1 < 4:
            return None, None
        cal = self.scene.calibration
        (lx, ly), (rx, ry) = cal.point(x1, y2), cal.point(x2, y2)
        ax, ay = rx - lx, ry - ly  # left to right bottom corner, on the ground
        width = math.hypot(ax, ay)
        if not (cut_left or cut_right):
            return cal.point((x1 + x2) / 2, y2), width
        half = (statistics.median(p.widths) if p.widths
                else VEHICLE_WIDTH_M[_CLASSES[p.class_id]]) / 2
        k = half / max(width, 1e-6)  # from the inner corner outwards, half a width
        return ((rx - ax * k, ry - ay * k) if cut_left else (lx + ax * k, ly + ay * k)), None

    def _rejoin(self, p: Pass, first: Sighting) -> Pass:
        """``p``'s track is seen on the road for the first time: if it continues a vehicle
        lost moments ago, that vehicle's pass goes on with this track; returns the pass."""
        ident = self.rejoiner.match(first)
        q = self._passes.get(ident) if ident is not None else None
        if q is None:
            return p
        old, new = q.track, p.track
        for c, v in old.class_votes.items():
            q.votes[c] = q.votes.get(c, 0.0) + v
        q.hits_before += old.hits
        q.conf_before += old.conf_sum
        q.track, q.ended, q.lost = new, False, False
        self._identity[new.track_id] = q.identity
        if old in self.tracker.tracks:
            self.tracker.remove(old.track_id)
        if self.plates is not None:
            self.plates.merge(p.identity, q.identity)
        del self._passes[p.identity]
        self.stats.tracks -= 1
        self.stats.rejoined += 1
        logger.debug("%s: track %d continues vehicle %d after %.1f s", self.cfg.camera,
                     new.track_id, q.identity, first.t - q.last_t)
        return q

    def _split(self, p: Pass, track: Track, frame: Frame, t_turn: float) -> Pass:
        """``p``'s track turned back faster than any vehicle can: at ``t_turn`` it jumped to
        an oncoming vehicle that hid the one it followed (they pass each other in line
        with the camera). The oncoming vehicle gets a pass of its own from ``t_turn`` on,
        with the ground positions, plate crops and violations since; ``p`` ends at
        ``t_turn`` and waits for re-identification like any vehicle lost from sight.
        Returns the new pass."""
        ident = self.tracker.new_id()
        since = frame.t - t_turn
        turn_frame = frame.index - round(since * self.fps)
        q = Pass(ident, track, first_ts=frame.ts - timedelta(seconds=since))
        q.motion = p.motion.cut(t_turn)
        q.loose = p.loose.cut(t_turn)
        if q.motion.points:
            _, x, y = q.motion.points[0]
            q.start = (x, y)
        q.last_ts, q.last_t, q.last_frame = frame.ts, frame.t, frame.index
        self._passes[ident] = q
        self._identity[track.track_id] = ident
        # p keeps a copy of the track's class votes and hits so far; q goes on with the
        # track itself (its class vote still counts the frames before the jump)
        frozen = copy.copy(track)
        frozen.class_votes = dict(track.class_votes)
        p.track, p.ended = frozen, True
        p.last_ts, p.last_t, p.last_frame = q.first_ts, t_turn, turn_frame
        if p.motion.points:
            _, x, y = p.motion.points[-1]
            p.end = (x, y)
        later = [i for i in self._pending.get(p.identity, []) if i.hit.at_frame > turn_frame]
        if later:
            self._pending[p.identity] = [i for i in self._pending[p.identity] if i not in later]
            for item in later:
                item.hit = replace(item.hit, track_id=ident)
            self._pending[ident] = later
        for h in self._recent_hits:
            if h.identity == p.identity and h.t > t_turn:
                h.identity = ident
        if self.plates is not None:
            self.plates.split(p.identity, ident, turn_frame)
        self.stats.tracks += 1
        self.stats.reversals += 1
        logger.debug("%s: track %d turned back at %.1f s: vehicle %d ends, %d follows",
                     self.cfg.camera, track.track_id, t_turn, p.identity, ident)
        return q

    def _close_passes(self, frame: Frame) -> list[Event]:
        """Hand vehicles not seen in this frame to the rejoiner; end the passes of those
        whose track ended and that no new track continued in time, and at once those
        that left the picture (a vehicle entering where one left is another one)."""
        for p in self._passes.values():
            if p.last_frame != frame.index and not p.lost and not p.left and p.grounded:
                self.rejoiner.lost(p.sighting())
                p.lost = True
        self.rejoiner.expire(frame.t)
        waiting = self.rejoiner.waiting()
        events: list[Event] = []
        for p in [p for p in self._passes.values() if p.ended and p.identity not in waiting]:
            events += self._end_pass(p)
        return events

    def _repeat(self, hit: Hit, p: Pass, t: float, loose: bool = False, radius_m: float = 2.5,
                window_s: float = 6.0) -> bool:
        """Whether ``hit`` is a vehicle already reported for the same violation whose track
        broke in two (behind an occlusion): a reported vehicle last seen within
        ``window_s``, carried forward at its speed from where it was last seen (it may
        have braked since it was reported) or, if reported within ``window_s``, from where
        it was reported (its track may have jumped to another vehicle since), is within
        ``radius_m`` of this one, along its way plus what a speed error of half its
        speed (at least 3 m/s) adds over the time since, across it 1.2 m plus 1 m/s (the
        gates of the re-identification, wider along the way: the speed of a far, short
        track is a rough one); a stationary one must be within ``radius_m``. Places are
        those the rule judged on (``loose``: hidden bottom edges too). A vehicle reported on
        its first places after a gap (half a second holds one place) is carried on at the
        velocity it crossed the gap with (``Motion.velocity_across_gap``), not taken to stand
        still where it was reported. A hit whose vehicle was seen short of the line more
        than ``SHORT_MARGIN_S`` after the reported one crossed it (``Hit.short_at``) is
        another vehicle: two motorbikes running the same red 2 s apart in one lane. A
        vehicle standing where one was reported standing still, since less than
        ``window_s`` after that report (``Hit.still_since``), is that one."""
        motion = p.loose if loose else p.motion
        if not motion.points:
            return False
        _, x, y = motion.points[-1]
        here = np.array([x, y])
        self._recent_hits = [h for h in self._recent_hits
                             if t - self._last_seen(h)[0] <= window_s]
        for h in self._recent_hits:
            if h.violation != hit.violation or h.identity == hit.track_id:
                continue
            if hit.short_at is not None and h.at_t < hit.short_at - self.SHORT_MARGIN_S:
                continue  # it had crossed well before this one was seen short of the line
            seen = [self._last_seen(h)] + ([(h.t, h.p, h.v)] if t - h.t <= window_s else [])
            if any(_near(here, p0, v0, t - t0, radius_m) for t0, p0, v0 in seen) or (
                    self._stands_where_it_stood(hit, here, h, window_s, radius_m)):
                self.stats.repeats += 1
                logger.info("%s: %s of track %d is the vehicle reported %.1f s ago",
                            self.cfg.camera, hit.violation.value, hit.track_id, t - h.t)
                return True
        v = motion.velocity(0.5, min_points=2)
        if v is None:  # just seen again after a gap: the way it went across the gap
            v = motion.velocity_across_gap()
        v = v if v is not None else np.zeros(2)
        self._recent_hits.append(_Reported(hit.violation, hit.track_id, t, here, v, t, here, v,
                                           loose, hit.at_t))
        return False

    @staticmethod
    def _stands_where_it_stood(hit: Hit, here: np.ndarray, h: _Reported, window_s: float,
                               radius_m: float) -> bool:
        """Whether ``hit``'s vehicle has stood within ``radius_m`` of where ``h`` was
        reported standing still since less than ``window_s`` after that report: the same
        vehicle, whatever the tracks did since (a car parked at the far kerb, reported
        while hidden behind traffic; its track went on with a vehicle going by, and a
        track that came to it from another vehicle fired again 6.7 s after the report)."""
        if hit.still_since is None or float(np.linalg.norm(h.v)) > 1.0:
            return False
        return (hit.still_since - h.t <= window_s
                and float(np.linalg.norm(here - h.p)) <= radius_m)

    def _last_seen(self, h: _Reported) -> tuple[float, np.ndarray, np.ndarray]:
        """Where and when a reported vehicle was last on the road, and its velocity then:
        its pass while the pass lasts (the last known place once it ended)."""
        p = self._passes.get(h.identity)
        motion = None if p is None else p.loose if h.loose else p.motion
        if motion is not None and motion.points:
            t, x, y = motion.points[-1]
            v = motion.velocity(1.0, min_points=3)
            if v is None:
                v = motion.velocity(0.5, min_points=2)
            h.t_last, h.p_last = t, np.array([x, y])
            if v is not None:
                h.v_last = v
        return h.t_last, h.p_last, h.v_last

    def _frame_at(self, index: int) -> tuple[np.ndarray, datetime]:
        best = min(self._frames, key=lambda f: abs(f[0] - index))
        return best[1], best[2]

    def _hold(self, hit: Hit, frame: Frame) -> None:
        ev = self.cfg.evidence
        before = self._frame_at(hit.at_frame - round(ev.before_s * self.fps))
        at = self._frame_at(hit.at_frame)
        pending = _Pending(hit, frame.t, before, at,
                           after_frame=hit.at_frame + round(ev.after_s * self.fps))
        if pending.after_frame <= frame.index:
            pending.after = self._frame_at(pending.after_frame)
        self._pending.setdefault(hit.track_id, []).append(pending)

    def _due_violations(self, frame: Frame) -> list[Event]:
        events: list[Event] = []
        for ident, items in list(self._pending.items()):
            for item in list(items):
                if item.after is None and frame.index >= item.after_frame:
                    item.after = (frame.image, frame.ts)
                waited = frame.t - item.fired_at >= self.cfg.evidence.max_wait_s
                p = self._passes.get(ident)
                if item.after is not None and waited and p is not None:
                    ev = self._violation(p, item)
                    events += [ev] if ev is not None else []
                    items.remove(item)
            if not items:
                del self._pending[ident]
        return events

    # --- end of a pass ---------------------------------------------------------------

    def _end_pass(self, p: Pass) -> list[Event]:
        events: list[Event] = []
        ident = p.identity
        cls = _CLASSES[p.class_id]
        plate = self.plates.read(ident, cls) if self.plates is not None else None
        for item in self._pending.pop(ident, []):
            if item.after is None and self._now is not None:
                item.after = (self._now.image, self._now.ts)
            ev = self._violation(p, item)
            if ev is not None:
                events.append(ev)
        for h in self._recent_hits:
            if h.identity == ident:
                self._last_seen(h)  # its last place, before the pass is gone
        del self._passes[ident]
        self.rejoiner.seen(ident)
        self._identity = {k: v for k, v in self._identity.items() if v != ident}
        for rule in self.scene.rules:
            rule.forget(ident)
        events.append(self._vehicle_event(p, cls))
        if plate is not None and self._worth_publishing(p, plate) and self._new_pass(plate):
            event = self._plate_event(p, cls, plate)
            if self.cfg.plates.unsure_hold_s > 0 and (
                    plate.confidence < self.cfg.plates.short_pass_min_conf):
                now = self._now.t if self._now is not None else p.last_t
                self._held_reads.append(_HeldRead(
                    event, now + self.cfg.plates.unsure_hold_s,
                    p.motion.points[-1] if p.motion.points else None))
            else:
                if plate.confidence >= self.cfg.plates.settled_conf:
                    self._supersede(p)
                events.append(event)
                self.stats.plate_reads += 1
        if self.plates is not None:
            self.plates.forget(ident)
        return events

    def _worth_publishing(self, p: Pass, plate: PlateResult) -> bool:
        """Whether the plate read of ``p`` is published: not when the pass was short and
        the read unsure (``plates.short_pass_frames``, ``plates.short_pass_min_conf``)."""
        pc = self.cfg.plates
        frames = p.hits_before + p.track.hits
        if frames < pc.short_pass_frames and plate.confidence < pc.short_pass_min_conf:
            self.stats.plate_unsure_short += 1
            logger.debug("%s: vehicle %d seen in %d frames: its unsure plate read %s (%.2f) "
                         "is not published", self.cfg.camera, p.identity, frames, plate.text,
                         plate.confidence)
            return False
        return True

    def _supersede(self, p: Pass, radius_m: float = 3.0, speed_ms: float = 3.0,
                   max_gap_s: float = 3.0) -> None:
        """Drop the held unsure reads of vehicles last seen where ``p``, whose plate was
        just read surely, was about then: its place nearest in time to theirs at most
        ``max_gap_s`` from it, and within ``radius_m`` plus ``speed_ms`` for each second
        between (a vehicle following in the lane is farther; one entering later is at
        the frame's edge): fragments of ``p``."""
        if not self._held_reads or not p.motion.points:
            return
        keep: list[_HeldRead] = []
        for h in self._held_reads:
            if h.last is not None:
                t, x, y = h.last
                pt, px, py = min(p.motion.points, key=lambda q: abs(q[0] - t))
                gap = abs(pt - t)
                if gap <= max_gap_s and math.hypot(px - x, py - y) <= radius_m + speed_ms * gap:
                    self.stats.plate_unsure_superseded += 1
                    logger.debug("%s: unsure plate read %s (%.2f) dropped: vehicle %d's "
                                 "sure read came from where it was", self.cfg.camera,
                                 h.event.plate, h.event.confidence, p.identity)
                    continue
            keep.append(h)
        self._held_reads = keep

    def _due_reads(self, now: float | None) -> list[Event]:
        """Held unsure reads whose time is up (all of them when ``now`` is None)."""
        if not self._held_reads:
            return []
        due: list[Event] = []
        keep: list[_HeldRead] = []
        for h in self._held_reads:
            if now is None or h.until <= now:
                due.append(h.event)
            else:
                keep.append(h)
        self._held_reads = keep
        self.stats.plate_reads += len(due)
        return due

    def _new_pass(self, plate: PlateResult) -> bool:
        now = self._now.t if self._now is not None else 0.0
        self._recent_plates = {k: t for k, t in self._recent_plates.items()
                               if now - t <= self.plate_repeat_s}
        if plate.valid and plate.text in self._recent_plates:
            self.stats.plate_repeats += 1
            return False
        if plate.valid:
            self._recent_plates[plate.text] = now
        return True

    def identity_of(self, track_id: int) -> int:
        """The vehicle (identity) a tracker track follows: its own id unless it continues
        a vehicle whose earlier track was lost."""
        return self._identity.get(track_id, track_id)

    def finish(self) -> list[Event]:
        """The source ended: every pass ends, every held violation is published."""
        self.tracker.flush()
        events: list[Event] = []
        for p in list(self._passes.values()):
            events += self._end_pass(p)
        return events + self._due_reads(None)

    def _pass_key(self, p: Pass) -> str:
        return f"{self.cfg.device}|{p.identity}|{p.first_ts.isoformat()}"

    def _lane(self, p: Pass) -> str | None:
        return max(p.lanes, key=p.lanes.__getitem__) if p.lanes else None

    def _vehicle_event(self, p: Pass, cls: VehicleClass) -> VehicleTrack:
        c = self.cfg
        direction = None
        if p.start is not None and p.end is not None:
            dx, dy = p.end[0] - p.start[0], p.end[1] - p.start[1]
            if math.hypot(dx, dy) > 1.0:
                direction = round(math.degrees(math.atan2(dx, dy)) % 360, 1)
        speed = round(float(np.median(p.speeds)), 1) if p.speeds else None
        last = p.last_ts or p.first_ts
        return VehicleTrack(
            id=stable_id("vehicle", self._pass_key(p)), site=c.site, device=c.device,
            ts=last, camera=c.camera, track_id=p.identity, vehicle_class=cls,
            lane=self._lane(p), first_seen=p.first_ts, last_seen=last,
            speed_kmh=min(speed, 400.0) if speed is not None else None,
            direction_deg=direction, confidence=round(min(p.mean_confidence, 1.0), 3))

    def _plate_event(self, p: Pass, cls: VehicleClass, plate: PlateResult) -> PlateRead:
        c = self.cfg
        layout = "two_line" if "two" in plate.layout else "one_line"
        return PlateRead(
            id=stable_id("plate", self._pass_key(p)), site=c.site, device=c.device,
            ts=p.last_ts or p.first_ts, camera=c.camera, track_id=p.identity,
            plate=plate.text[:16], raw_text=plate.raw[:64], layout=layout,  # type: ignore[arg-type]
            plate_color=plate.colour, vehicle_class=cls,  # type: ignore[arg-type]
            confidence=plate.confidence, valid=plate.valid, lane=self._lane(p))

    def _violation(self, p: Pass, item: _Pending) -> Violation | None:
        c = self.cfg
        hit = item.hit
        cls = _CLASSES[p.class_id]
        for rule in self.scene.rules:
            if rule.violation is hit.violation:
                view = TrackView(p.identity, cls, hit.at_frame, hit.at_t, None, p.motion)
                if not rule.still_holds(view):
                    logger.info("%s: %s of track %d withdrawn (class now %s)", c.camera,
                                hit.violation, p.identity, cls)
                    return None
        plate = self.plates.read(p.identity, cls) if self.plates is not None else None
        key = f"{self._pass_key(p)}|{hit.violation}"
        evidence: list[EvidenceImage] = []
        at_ts = item.at[1]
        if self.evidence is not None:
            extra = f"{hit.violation.value} track {p.identity}"
            after = item.after or item.at
            for role, (img, ts) in (("before", item.before), ("at", item.at), ("after", after)):
                caption = self.evidence.caption(ts, c.location, extra)
                evidence.append(self.evidence.save(img, role, ts, key, caption))
            if plate is not None:
                evidence.append(self.evidence.save(plate.crop, "plate", at_ts, key))
        self.stats.violations += 1
        return Violation(
            id=stable_id("violation", key), site=c.site, device=c.device,
            ts=at_ts, camera=c.camera,
            track_id=p.identity, violation=hit.violation, vehicle_class=cls,
            plate=plate.text[:16] if plate is not None else None,
            plate_color=plate.colour if plate is not None else None,  # type: ignore[arg-type]
            location=c.location, rule=hit.params, evidence=evidence)
