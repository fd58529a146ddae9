"""``ioc models train | export | eval``: make, export and measure the edge's models.

``train`` and ``export`` need the ``[train]`` extra (torch, ultralytics), usually
in a separate environment (``.venv-train``); ``eval`` needs only the run-time
stack and the simulator. Heavy imports happen inside the command functions.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from models.input_size import input_size_arg

logger = logging.getLogger(__name__)

_TRAIN_HINT = (
    "training needs the [train] extra (torch, ultralytics): create a separate venv, e.g.\n"
    "  python3.11 -m venv .venv-train && .venv-train/bin/pip install torch==2.13.0 && "
    ".venv-train/bin/pip install -e '.[train]'\n"
    "then run: .venv-train/bin/ioc models train"
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``ioc models`` and its subcommands."""
    p = sub.add_parser("models", help="train, export and evaluate the detector and plate reader")
    msub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)

    t = msub.add_parser(
        "train",
        help="generate simulator data, train the detector (ultralytics, offline), export ONNX",
        description="Arguments after '--' go to models.training.train, e.g. "
        "'ioc models train -- --hours 0.7 --imgsz 320' (see 'ioc models train -- --help').",
    )
    t.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then training arguments")
    t.set_defaults(func=run_train)

    e = msub.add_parser("export", help="export an ultralytics checkpoint (.pt) to ONNX")
    e.add_argument("weights", type=Path)
    e.add_argument("--onnx", type=Path, default=None, help="where to copy the .onnx")
    e.add_argument(
        "--imgsz",
        type=input_size_arg,
        default=320,
        help="320 (square) or HEIGHTxWIDTH, e.g. 192x320",
    )
    e.set_defaults(func=run_export)

    v = msub.add_parser("eval", help="metrics table on simulator seeds training never saw")
    v.add_argument("--model", type=Path, default=None, help="ONNX detector (default: shipped)")
    v.add_argument("--seeds", default="9000-9039", help="simulator seeds, e.g. 9000-9039,9100")
    v.add_argument("--frames", type=int, default=4, help="frames per seed")
    v.add_argument("--plate-seeds", default="9200-9299", help="seeds for plate reading")
    v.add_argument("--plate-width", type=int, default=1280, help="frame width for plate reading")
    v.add_argument("--threads", type=int, default=2)
    v.add_argument("--coco", action="store_true", help="the model has COCO classes: map them")
    v.add_argument(
        "--plate-model", type=Path, default=None, help="second-stage plate ONNX (default: shipped)"
    )
    v.add_argument(
        "--single-stage", action="store_true", help="plates from the full-frame model only"
    )
    v.add_argument(
        "--recogniser",
        choices=("own", "rapidocr"),
        default="own",
        help="plate-line recogniser: the project's model or PP-OCRv4 (rapidocr)",
    )
    v.add_argument("--ocr-model", type=Path, default=None, help="own recogniser ONNX")
    v.add_argument(
        "--no-fallback", action="store_true", help="never run rapidocr's full OCR on unsure reads"
    )
    v.add_argument("--skip-plates", action="store_true")
    v.add_argument("--skip-detector", action="store_true")
    v.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    """Train and export (training environment only)."""
    try:
        from models.training.train import main
    except ImportError as exc:  # pragma: no cover - depends on the environment
        logger.error("%s (%s)", _TRAIN_HINT, exc)
        return 2
    try:
        forwarded = list(args.train_args)
        if forwarded[:1] == ["--"]:
            forwarded = forwarded[1:]
        return main(forwarded)
    except ModuleNotFoundError as exc:
        logger.error("%s (missing: %s)", _TRAIN_HINT, exc.name)
        return 2


def run_export(args: argparse.Namespace) -> int:
    """Export a checkpoint to ONNX (training environment only)."""
    try:
        from models.training.train import DEFAULT_ONNX, export

        export(args.weights, args.onnx or DEFAULT_ONNX, args.imgsz)
    except ModuleNotFoundError as exc:
        logger.error("%s (missing: %s)", _TRAIN_HINT, exc.name)
        return 2
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Print the metrics tables."""
    from models import SHIPPED_DETECTOR, SHIPPED_PLATE_DETECTOR
    from models.class_map import COCO_CLASS_MAP
    from models.detector import Detector, DetectorConfig
    from models.errors import ModelError
    from models.evaluate import (
        evaluate_detector,
        evaluate_plates,
        format_detection,
        format_plates,
    )
    from models.plate_reader import PlateReader, PlateReaderConfig
    from models.two_stage import TwoStageConfig, TwoStageDetector
    from simulators.camera.export import parse_seeds

    if not args.skip_detector:
        cfg = DetectorConfig(
            model=args.model or SHIPPED_DETECTOR,
            conf=0.001,
            iou=0.6,
            threads=args.threads,
            class_map=COCO_CLASS_MAP if args.coco else None,
        )
        plate_cfg = DetectorConfig(
            model=args.plate_model or SHIPPED_PLATE_DETECTOR,
            imgsz=128,
            conf=0.01,
            threads=args.threads,
        )
        try:
            if args.single_stage or args.coco:
                detector: Detector | TwoStageDetector = Detector(cfg).load()
            else:
                detector = TwoStageDetector(TwoStageConfig(cfg, plate_cfg)).load()
        except ModelError as exc:
            logger.error("%s", exc)
            return 1
        report = evaluate_detector(detector, parse_seeds(args.seeds), frames=args.frames)
        stages = cfg.model.name if isinstance(detector, Detector) else (
            f"{cfg.model.name} + {plate_cfg.model.name} on vehicle crops"
        )  # fmt: skip
        print(f"\nDetector {stages} on seeds {args.seeds} ({args.frames} frames each)")
        print(format_detection(report))
    if not args.skip_plates:
        try:
            reader = PlateReader(
                PlateReaderConfig(
                    recogniser=args.recogniser,
                    ocr_model=args.ocr_model,
                    fallback_full_ocr=not args.no_fallback,
                    threads=args.threads,
                )
            ).load()
        except ModelError as exc:
            logger.error("%s", exc)
            return 1
        prep = evaluate_plates(
            reader, parse_seeds(args.plate_seeds), frames=args.frames, width=args.plate_width
        )
        fallback = "off" if args.no_fallback else "on"
        print(f"\nPlate reading ({args.recogniser} recogniser, full-OCR fallback {fallback})")
        print(f"on ground-truth boxes, {args.plate_width} px frames,")
        print(f"seeds {args.plate_seeds}:")
        print(format_plates(prep))
        for truth, raw, char_px, width in prep.failures:
            print(f"  miss (characters {char_px:.1f} px, plate {width:.0f} px wide): "
                  f"{truth} read as {raw!r}")
    return 0
