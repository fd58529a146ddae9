"""Evaluation on simulator seeds that training never saw: detector mAP and plate reading.

Used by ``ioc models eval``. Needs only the run-time stack plus the simulator.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from models.class_map import CANONICAL
from models.detector import Detector
from models.metrics import DetectionMetrics
from models.plate_reader import PlateReader
from models.two_stage import TwoStageDetector

logger = logging.getLogger(__name__)

#: Plate width bands (pixels in the frame) for plate-reading accuracy.
PLATE_BANDS: tuple[tuple[int, int], ...] = ((12, 40), (40, 60), (60, 90), (90, 10_000))
#: Character height bands (pixels in the frame): what decides whether a plate can be
#: read. At the same width a one-line car plate's characters are half the height of
#: a two-line plate's, so width alone mixes plates that can be read with ones that cannot.
CHAR_BANDS: tuple[tuple[int, int], ...] = ((0, 4), (4, 6), (6, 8), (8, 12), (12, 10_000))
#: Plates whose characters are at least this many pixels high count as large enough
#: to read. ANPR vendors ask for 15 px or more (AxxonSoft: "character height is at
#: least 15px"; Milestone: single-line European plates at least 170 px wide).
READABLE_CHAR_PX = 8
#: Seeds training uses (train 1000-2999: detectors and plate OCR; validation 8000-8049):
#: eval avoids them.
TRAINING_SEEDS = frozenset(range(1000, 3000)) | frozenset(range(8000, 8050))


def progress(label: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r{label:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
    sys.stderr.flush()


@dataclass
class DetectionReport:
    """Per-class AP and timing."""

    per_class: list[tuple[str, float, float, int]]
    images: int
    ms_per_frame: float

    def mean(self) -> tuple[float, float]:
        """mAP50 and mAP50-95 over classes that have ground truth."""
        rows = [(a, b) for _, a, b, n in self.per_class if n > 0]
        if not rows:
            return float("nan"), float("nan")
        return float(np.mean([a for a, _ in rows])), float(np.mean([b for _, b in rows]))


@dataclass
class PlateReport:
    """Plate reading accuracy by plate width band."""

    bands: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # band → [ok, n]
    #: the same reads by character height band
    char_bands: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    readable: list[int] = field(default_factory=lambda: [0, 0])  # [ok, n], >= READABLE_CHAR_PX
    ms_per_plate: float = 0.0
    #: misses on readable plates: (truth, raw read, character height px, plate width px)
    failures: list[tuple[str, str, float, float]] = field(default_factory=list)


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    seeds = list(seeds)
    overlap = sorted(set(seeds) & TRAINING_SEEDS)
    if overlap:
        logger.warning("eval seeds overlap the training seeds: %s", overlap[:10])
    return seeds


def evaluate_detector(
    detector: Detector | TwoStageDetector, seeds: Iterable[int], frames: int = 4, stride: int = 20
) -> DetectionReport:
    """mAP of ``detector`` (canonical classes) on frames of the given simulator seeds."""
    from simulators.camera.export import sample_frames, scene_for_seed

    seeds = _check_seeds(seeds)
    metrics = DetectionMetrics(len(CANONICAL))
    n, spent = 0, 0.0
    for k, seed in enumerate(seeds):
        for _, frame, truth in sample_frames(scene_for_seed(seed), frames, stride):
            boxes = truth.boxes()
            gt = np.array([b for _, b in boxes], np.float32).reshape(-1, 4)
            cls = np.array([c for c, _ in boxes], np.int64)
            t0 = time.perf_counter()
            pred = detector.detect(frame)
            spent += time.perf_counter() - t0
            metrics.add(pred, gt, cls)
            n += 1
        progress("detector", k + 1, len(seeds))
    rows = [(CANONICAL[i], a, b, m) for i, (a, b, m) in enumerate(metrics.per_class())]
    return DetectionReport(rows, n, 1000 * spent / max(n, 1))


def evaluate_plates(
    reader: PlateReader,
    seeds: Iterable[int],
    frames: int = 4,
    stride: int = 20,
    width: int = 1280,
) -> PlateReport:
    """Exact-string accuracy of plate reading on ground-truth plate boxes.

    Frames are rendered at ``width`` pixels (the camera geometry scaled from the
    640-pixel default), as a plate-reading camera sees them.
    """
    from simulators.camera import CameraGeometry
    from simulators.camera.export import sample_frames, scene_for_seed
    from simulators.camera.plate_render import char_height_ratio

    seeds = _check_seeds(seeds)
    k_scale = width / 640
    cam = CameraGeometry(
        width=width, height=round(360 * k_scale), focal=720 * k_scale, horizon=10 * k_scale
    )
    report = PlateReport(bands={b: [0, 0] for b in PLATE_BANDS},
                         char_bands={b: [0, 0] for b in CHAR_BANDS})
    spent, n = 0.0, 0
    for k, seed in enumerate(seeds):
        for _, frame, truth in sample_frames(scene_for_seed(seed, camera=cam), frames, stride):
            for v in truth.vehicles:
                if v.plate_box is None:
                    continue
                w = v.plate_box[2] - v.plate_box[0]
                band = _band(PLATE_BANDS, w)
                if band is None:
                    continue
                char_px = (v.plate_box[3] - v.plate_box[1]) * char_height_ratio(v.plate)
                t0 = time.perf_counter()
                read = reader.read(frame, v.plate_box, v.plate.kind)
                spent += time.perf_counter() - t0
                n += 1
                ok = read.text == v.plate.text
                for counts in (report.bands[band], report.char_bands[_band(CHAR_BANDS, char_px)]):
                    counts[0] += ok
                    counts[1] += 1
                if char_px >= READABLE_CHAR_PX:
                    report.readable[0] += ok
                    report.readable[1] += 1
                    if not ok:
                        report.failures.append((v.plate.text, read.raw, char_px, w))
        progress("plates", k + 1, len(seeds))
    report.ms_per_plate = 1000 * spent / max(n, 1)
    return report


def _band(bands: tuple[tuple[int, int], ...], value: float) -> tuple[int, int] | None:
    return next((b for b in bands if b[0] <= value < b[1]), None)


def format_detection(rep: DetectionReport) -> str:
    """Metrics table as text."""
    lines = [f"{'class':<10} {'instances':>9} {'mAP50':>7} {'mAP50-95':>9}"]
    for name, a, b, n in rep.per_class:
        fa = "-" if math.isnan(a) else f"{a:.3f}"
        fb = "-" if math.isnan(b) else f"{b:.3f}"
        lines.append(f"{name:<10} {n:>9} {fa:>7} {fb:>9}")
    m50, m5095 = rep.mean()
    total = sum(n for *_, n in rep.per_class)
    lines.append(f"{'all':<10} {total:>9} {m50:>7.3f} {m5095:>9.3f}")
    lines.append(f"{rep.images} images, {rep.ms_per_frame:.1f} ms/frame (pre+infer+post)")
    return "\n".join(lines)


def format_plates(rep: PlateReport) -> str:
    """Plate accuracy tables (by plate width, by character height) and the readable line."""

    def table(title: str, bands: dict[tuple[int, int], list[int]]) -> list[str]:
        out = [f"{title:<17} {'plates':>6} {'exact':>7}"]
        for (lo, hi), (ok, n) in bands.items():
            label = f"{lo}-{hi}" if hi < 10_000 else f">={lo}"
            acc = f"{ok / n:.1%}" if n else "-"
            out.append(f"{label:<17} {n:>6} {acc:>7}")
        return out

    lines = [*table("plate width px", rep.bands), ""]
    lines += table("char height px", rep.char_bands)
    ok, n = rep.readable
    acc = f"{ok / n:.1%}" if n else "-"
    lines.append(f"readable (characters >= {READABLE_CHAR_PX} px high): {ok}/{n} exact = {acc}")
    lines.append(f"{rep.ms_per_plate:.1f} ms/plate")
    return "\n".join(lines)
