"""Dataset for the second stage: plates inside vehicle crops (training only).

Plates are a few pixels wide in a 320-pixel view of the whole scene, too small
for the full-frame detector. The second stage looks at each vehicle crop,
where the plate is large. Crops are jittered like a detector's boxes are.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from pathlib import Path

import cv2

from simulators.camera.export import sample_frames, scene_for_seed
from simulators.camera.truth import FrameTruth

logger = logging.getLogger(__name__)


def vehicle_crops(
    frame_truth: FrameTruth, width: int, height: int, rng: random.Random
) -> list[tuple[tuple[int, int, int, int], list[tuple[float, float, float, float]]]]:
    """(crop box, plate boxes inside it in crop pixels) for every labelled vehicle."""
    out = []
    plates = [v.plate_box for v in frame_truth.vehicles if v.plate_box is not None]
    for v in frame_truth.vehicles:
        x1, y1, x2, y2 = v.box
        w, h = x2 - x1, y2 - y1
        if w < 8 or h < 8:
            continue
        m = rng.uniform(0.03, 0.2)
        dx, dy = rng.uniform(-0.06, 0.06) * w, rng.uniform(-0.06, 0.06) * h
        cx1 = max(0, int(x1 - m * w + dx))
        cy1 = max(0, int(y1 - m * h + dy))
        cx2 = min(width, int(x2 + m * w + dx + 1))
        cy2 = min(height, int(y2 + m * h + dy + 1))
        inside = [
            (px1 - cx1, py1 - cy1, px2 - cx1, py2 - cy1)
            for px1, py1, px2, py2 in plates
            if px1 >= cx1 and py1 >= cy1 and px2 <= cx2 and py2 <= cy2
        ]
        out.append(((cx1, cy1, cx2, cy2), inside))
    return out


def export_plate_crops(
    out_dir: Path, splits: dict[str, Iterable[int]], frames: int = 6, stride: int = 15
) -> dict[str, int]:
    """Write a YOLO dataset with one class, plate, from vehicle crops."""
    counts = {}
    for split, seeds in splits.items():
        img_dir, lbl_dir = out_dir / "images" / split, out_dir / "labels" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        lbl_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        for seed in seeds:
            rng = random.Random(seed * 7 + 1)
            for i, frame, truth in sample_frames(scene_for_seed(seed), frames, stride):
                h, w = frame.shape[:2]
                for k, ((x1, y1, x2, y2), boxes) in enumerate(vehicle_crops(truth, w, h, rng)):
                    crop = frame[y1:y2, x1:x2]
                    cw, ch = x2 - x1, y2 - y1
                    stem = f"s{seed:05d}_f{i:05d}_{k:02d}"
                    cv2.imwrite(str(img_dir / f"{stem}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
                    rows = [
                        f"0 {(a + c) / 2 / cw:.6f} {(b + d) / 2 / ch:.6f} {(c - a) / cw:.6f}"
                        f" {(d - b) / ch:.6f}"
                        for a, b, c, d in boxes
                    ]
                    (lbl_dir / f"{stem}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
                    n += 1
        counts[split] = n
        logger.info("plate crops %s: %s", split, n)
    splits_yaml = "".join(f"{k}: images/{k}\n" for k in splits)
    (out_dir / "data.yaml").write_text(
        f"path: {out_dir.resolve()}\n{splits_yaml}names:\n  0: plate\n"
    )
    return counts
