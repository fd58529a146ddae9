"""Writing simulated video to files and exporting YOLO-format datasets.

``python -m simulators.camera.export yolo OUT --seeds 0-99 --frames 8`` writes
``OUT/images/{split}/*.jpg``, ``OUT/labels/{split}/*.txt`` and ``OUT/data.yaml``
with classes car, motorbike, bus, truck, plate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from simulators.camera.config import CLASS_NAMES, SceneConfig, SceneKind
from simulators.camera.source import CameraSimulator
from simulators.camera.truth import FrameTruth

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def scene_for_seed(seed: int, **overrides: object) -> SceneConfig:
    """The scene a dataset uses for ``seed``: odd seeds are road segments, even ones junctions."""
    kind = SceneKind.SEGMENT if seed % 2 else SceneKind.INTERSECTION
    params: dict[str, object] = {"seed": seed, "kind": kind}
    params.update(overrides)
    return SceneConfig(**params)  # type: ignore[arg-type]


def sample_frames(
    config: SceneConfig, frames: int, stride: int
) -> Iterator[tuple[int, np.ndarray, FrameTruth]]:
    """Every ``stride``-th frame of a scene, ``frames`` of them: (index, image, truth)."""
    with CameraSimulator(config) as sim:
        for i in range(frames * stride):
            if i % stride != stride - 1:
                if not sim.grab():
                    return
                continue
            ok, frame = sim.read()
            if not ok or frame is None:
                return
            yield i, frame, sim.truth


def yolo_lines(truth: FrameTruth, width: int, height: int) -> list[str]:
    """YOLO label lines (class cx cy w h, normalised) for one frame."""
    out = []
    for cls, (x1, y1, x2, y2) in truth.boxes():
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        out.append(f"{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return out


def export_yolo(
    out_dir: Path,
    splits: dict[str, Iterable[int]],
    *,
    frames: int = 8,
    stride: int = 12,
    jobs: int = 1,
    **overrides: object,
) -> dict[str, int]:
    """Write a YOLO dataset; ``splits`` maps split name to seeds. Returns images per split.

    Each image has a JSON sidecar under ``truth/`` with the plate strings and boxes,
    which ``ioc models eval`` uses to score plate reading. ``jobs`` > 1 renders seeds
    in that many processes (each seed's files are the same either way).
    """
    counts: dict[str, int] = {}
    for split, seeds in splits.items():
        dirs = tuple(out_dir / k / split for k in ("images", "labels", "truth"))
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        tasks = [(seed, dirs, frames, stride, overrides) for seed in seeds]
        counts[split] = sum(map_jobs(_export_seed, tasks, jobs))
        logger.info("exported %s images to %s", counts[split], dirs[0])
    write_data_yaml(out_dir, list(splits))
    return counts


def map_jobs(fn: Callable[[T], R], tasks: Sequence[T], jobs: int = 1) -> Iterator[R]:
    """``fn`` over ``tasks``, results in task order; in ``jobs`` processes when above 1
    (``fn`` and the tasks must pickle)."""
    if jobs <= 1:
        yield from map(fn, tasks)
        return
    with ProcessPoolExecutor(jobs) as pool:
        yield from pool.map(fn, tasks, chunksize=2)


def _export_seed(
    task: tuple[int, tuple[Path, Path, Path], int, int, dict[str, object]],
) -> int:
    """Write one seed's sampled frames, labels and truth sidecars; returns the count."""
    seed, (img_dir, lbl_dir, truth_dir), frames, stride, overrides = task
    n = 0
    for i, frame, truth in sample_frames(scene_for_seed(seed, **overrides), frames, stride):
        stem = f"s{seed:05d}_f{i:05d}"
        h, w = frame.shape[:2]
        cv2.imwrite(str(img_dir / f"{stem}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
        (lbl_dir / f"{stem}.txt").write_text("\n".join(yolo_lines(truth, w, h)) + "\n")
        (truth_dir / f"{stem}.json").write_text(json.dumps(truth_record(truth)))
        n += 1
    return n


def write_data_yaml(
    out_dir: Path, splits: Sequence[str], names: Sequence[str] = CLASS_NAMES
) -> None:
    """The ultralytics dataset file: root, one images folder per split, class names."""
    listed = "\n".join(f"  {i}: {name}" for i, name in enumerate(names))
    yaml_splits = "".join(f"{k}: images/{k}\n" for k in splits)
    text = f"path: {out_dir.resolve()}\n{yaml_splits}names:\n{listed}\n"
    (out_dir / "data.yaml").write_text(text)


def truth_record(truth: FrameTruth) -> dict[str, object]:
    """JSON-friendly ground truth of a frame (vehicles, plates, signal)."""
    return {
        "index": truth.index,
        "signal": str(truth.signal),
        "vehicles": [
            {
                "track_id": v.track_id,
                "cls": int(v.cls),
                "box": list(v.box),
                "plate": dataclasses.asdict(v.plate),
                "plate_box": list(v.plate_box) if v.plate_box else None,
            }
            for v in truth.vehicles
        ],
    }


def write_video(config: SceneConfig, path: Path, frames: int, fourcc: str = "mp4v") -> int:
    """Write ``frames`` frames of the scene to a video file; returns frames written."""
    cam = config.camera
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*fourcc), config.fps, (cam.width, cam.height)
    )
    if not writer.isOpened():
        raise RuntimeError(f"cannot open a video writer for {path} with codec {fourcc!r}")
    n = 0
    try:
        with CameraSimulator(config, max_frames=frames) as sim:
            while True:
                ok, frame = sim.read()
                if not ok:
                    break
                writer.write(frame)
                n += 1
    finally:
        writer.release()
    return n


def parse_seeds(text: str) -> list[int]:
    """``"0-9,20,30-31"`` → [0..9, 20, 30, 31]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: export a YOLO dataset or a video."""
    p = argparse.ArgumentParser(prog="python -m simulators.camera.export")
    sub = p.add_subparsers(dest="what", required=True)
    y = sub.add_parser("yolo", help="YOLO dataset")
    y.add_argument("out", type=Path)
    y.add_argument("--train-seeds", default="1000-1049")
    y.add_argument("--val-seeds", default="9000-9009")
    y.add_argument("--frames", type=int, default=8)
    y.add_argument("--stride", type=int, default=12)
    y.add_argument("--jobs", type=int, default=1, help="seeds rendered in parallel")
    v = sub.add_parser("video", help="video file")
    v.add_argument("out", type=Path)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--frames", type=int, default=300)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.what == "yolo":
        splits = {"train": parse_seeds(args.train_seeds), "val": parse_seeds(args.val_seeds)}
        print(export_yolo(args.out, splits, frames=args.frames, stride=args.stride, jobs=args.jobs))
    else:
        print(write_video(scene_for_seed(args.seed), args.out, args.frames))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
