"""Train the vehicle and plate detector on simulator data and export it to ONNX.

Training only (torch, ultralytics): never imported by the run-time package.
Runs fully offline: no pretrained weights (the network is built from a model
yaml), no font download, no settings sync, no hub. Example::

    .venv-train/bin/python -m models.training.train --epochs 35 --imgsz 320

The dataset is generated from simulator seeds first (training seeds and
validation seeds never overlap with the evaluation seeds of ``ioc models eval``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from models.input_size import input_size_arg

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "models" / "training"
DEFAULT_DATA = WORK / "data"
DEFAULT_RUNS = WORK / "runs"
CONFIG_DIR = WORK / ".yolo"
DEFAULT_ONNX = ROOT / "models" / "vehicles_192x320.onnx"


def prepare_offline(threads: int = 2) -> None:
    """Environment for ultralytics without network: config dir, font, no sync, no installs.

    Also gives training all ``threads``: ultralytics defaults to cpu_count - 1
    threads, which is a single one on a 2-core machine and halves the speed.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(CONFIG_DIR)
    os.environ.setdefault("MPLCONFIGDIR", str(CONFIG_DIR / "mpl"))
    font_dir = CONFIG_DIR / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib

    src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (font_dir / name).exists():
            shutil.copy(src, font_dir / name)
    from models.training import torch_shim

    torch_shim.install()
    from ultralytics import settings

    wanted = {"sync": False, "hub": False, "tensorboard": False, "wandb": False, "mlflow": False}
    settings.update({k: v for k, v in wanted.items() if k in settings})
    import ultralytics.utils
    import ultralytics.utils.torch_utils

    ultralytics.utils.NUM_THREADS = threads
    ultralytics.utils.torch_utils.NUM_THREADS = threads


#: Scene settings of the "busy" training seeds: more violators (wrong way, red light,
#: parking) and denser traffic, so more vehicles hide one another.
BUSY_SCENE: dict[str, object] = {"violation_share": 0.5, "spawn_per_s": 2.4}


def make_dataset(
    out: Path,
    train_seeds: str,
    val_seeds: str,
    frames: int,
    stride: int,
    kind: str = "frames",
    busy_seeds: str = "",
    jobs: int = 1,
) -> Path:
    """Generate the YOLO dataset from simulator seeds (skipped when already there).

    ``kind``: "frames" (whole scenes, 5 classes), "vehicles" (whole scenes, the four
    vehicle classes only: plates come from the second stage) or "plate-crops"
    (vehicle crops, plates). ``busy_seeds`` add training scenes with ``BUSY_SCENE``.
    """
    from models.training.plate_crops import export_plate_crops
    from simulators.camera.export import export_yolo, parse_seeds, write_data_yaml

    if (out / "data.yaml").exists():
        logger.info("dataset already at %s", out)
        return out / "data.yaml"
    splits = {"train": parse_seeds(train_seeds), "val": parse_seeds(val_seeds)}
    if kind == "plate-crops":
        counts = export_plate_crops(out, splits, frames=frames, stride=stride)
    else:
        counts = export_yolo(out, splits, frames=frames, stride=stride, jobs=jobs)
        if busy_seeds:
            busy = {"train": parse_seeds(busy_seeds)}
            extra = export_yolo(out, busy, frames=frames, stride=stride, jobs=jobs, **BUSY_SCENE)
            counts["train"] += extra["train"]
            write_data_yaml(out, ("train", "val"))
        if kind == "vehicles":
            drop_class(out, PLATE_CLASS)
    logger.info("dataset: %s", counts)
    return out / "data.yaml"


PLATE_CLASS = 4


def drop_class(out: Path, class_id: int) -> None:
    """Remove one class (the last one) from every label file and from data.yaml."""
    from simulators.camera.config import CLASS_NAMES
    from simulators.camera.export import write_data_yaml

    if class_id != len(CLASS_NAMES) - 1:
        raise ValueError("only the last class can be dropped without renumbering")
    for label in (out / "labels").rglob("*.txt"):
        lines = label.read_text().splitlines()
        kept = [ln for ln in lines if ln and int(ln.split()[0]) != class_id]
        label.write_text("".join(f"{ln}\n" for ln in kept))
    write_data_yaml(out, ("train", "val"), CLASS_NAMES[:class_id])


def train(args: argparse.Namespace) -> Path:
    """Train from the model yaml (no weights) and return the best checkpoint."""
    prepare_offline(args.threads)
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(args.threads)
    data = make_dataset(
        args.data,
        args.train_seeds,
        args.val_seeds,
        args.frames,
        args.stride,
        args.dataset,
        args.busy_seeds,
        args.jobs,
    )
    model = YOLO(args.model)  # a yaml: architecture only, random initial weights
    t0 = time.monotonic()
    model.train(
        data=str(data),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        workers=args.workers,
        device=args.device,
        project=str(args.runs),
        name=args.name,
        exist_ok=True,
        # False: random initial weights; --init: weights of this project's own earlier run
        pretrained=str(args.init) if args.init else False,
        amp=False,
        plots=False,
        mosaic=args.mosaic,
        lr0=args.lr0,
        warmup_epochs=0.0 if args.init else 3.0,
        close_mosaic=args.close_mosaic,
        scale=0.25,
        translate=0.1,
        fliplr=0.0,
        hsv_v=0.5,
        seed=0,
        deterministic=False,
        patience=100,
        verbose=True,
        cache=False if args.cache == "none" else args.cache,
        **({"time": args.hours} if args.hours else {}),
    )
    logger.info("trained in %.0f s", time.monotonic() - t0)
    return Path(args.runs) / args.name / "weights" / "best.pt"


def export(weights: Path, out: Path, imgsz: int | tuple[int, int]) -> Path:
    """Export a checkpoint to ONNX (static shape, simplified) and copy it to ``out``.

    A rectangular ``imgsz`` (height, width) fits 16:9 frames with little padding:
    192x320 costs about 60 % of 320x320 for the same scale of objects.
    """
    prepare_offline()
    from ultralytics import YOLO

    produced = Path(YOLO(str(weights)).export(format="onnx", imgsz=imgsz, simplify=True, opset=17))
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(produced, out)
    logger.info("exported %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out


def build_parser() -> argparse.ArgumentParser:
    """Arguments shared by this script and ``ioc models train``."""
    p = argparse.ArgumentParser(prog="python -m models.training.train")
    p.add_argument("--model", default="yolov8n.yaml", help="ultralytics model yaml (no weights)")
    p.add_argument(
        "--init", type=Path, default=None, help="start from this project checkpoint (.pt)"
    )
    p.add_argument("--lr0", type=float, default=0.01)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--dataset", choices=("frames", "vehicles", "plate-crops"), default="frames")
    p.add_argument(
        "--busy-seeds", default="", help="extra training seeds with more violators and traffic"
    )
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    p.add_argument("--name", default="detector")
    p.add_argument("--train-seeds", default="1000-1149")
    p.add_argument("--val-seeds", default="8000-8019")
    p.add_argument("--frames", type=int, default=4, help="frames sampled per seed")
    p.add_argument("--stride", type=int, default=20, help="frames between samples")
    p.add_argument("--epochs", type=int, default=35)
    p.add_argument(
        "--hours", type=float, default=None, help="wall-clock budget; overrides --epochs"
    )
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=0, help="0: load in the main process")
    p.add_argument("--cache", default="ram", help="ram, disk or none")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, or a CUDA device index such as 0")
    p.add_argument("--jobs", type=int, default=1, help="processes rendering the dataset")
    p.add_argument("--mosaic", type=float, default=0.3)
    p.add_argument("--close-mosaic", type=int, default=8)
    p.add_argument("--onnx", type=Path, default=DEFAULT_ONNX)
    p.add_argument(
        "--export-imgsz",
        type=input_size_arg,
        default=None,
        help="ONNX input size, e.g. 192x320 (default: --imgsz, square)",
    )
    p.add_argument("--no-export", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Train, then export to ONNX."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    best = train(args)
    if not args.no_export:
        export(best, args.onnx, args.export_imgsz or args.imgsz)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
