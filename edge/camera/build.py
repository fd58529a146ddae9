"""Wiring a camera config to its run-time parts: detector, plate stage, evidence, pipeline.

Model problems become ``ConfigError`` lines naming the file, the line and the key
(``detector.model``), e.g. a file that is not ONNX or has the wrong output shape.
"""

from __future__ import annotations

from pathlib import Path

from edge.camera.config import CameraGatewayConfig, key_lines
from edge.camera.evidence import EvidenceStore
from edge.camera.pipeline import CameraPipeline
from edge.camera.plates import PlateCollector
from ioc.config import ConfigError, ConfigProblem
from models import SHIPPED_PLATE_OCR
from models.detector import Detector, DetectorConfig
from models.errors import ModelError, ModelOutputError
from models.plate_ocr import OwnLineRecogniser
from models.plate_reader import PlateReader, PlateReaderConfig


def _resolve(path: Path, base: Path | None) -> Path:
    return path if path.is_absolute() or base is None else base / path


def _problem(key: str, path: object, exc: Exception, source: str, text: str | None) -> ConfigError:
    """A model that would not open, as a ConfigError naming file, line and key."""
    if text is not None:
        line = key_lines(text).get(key)
    elif Path(source).is_file():
        line = key_lines(Path(source).read_text(encoding="utf-8")).get(key)
    else:
        line = None
    return ConfigError([ConfigProblem(source, line, key, str(path), str(exc))])


def load_models(
    cfg: CameraGatewayConfig, *, source: str = "<config>", text: str | None = None,
    base: Path | None = None,
) -> tuple[Detector, Detector | None, OwnLineRecogniser | None]:
    """Open the vehicle detector, the plate detector and the own plate-line model (where
    the config uses them); ConfigError naming file and key."""
    d = cfg.detector
    loaded: list[Detector] = []
    vehicles = {"car", "motorbike", "bus", "truck"}
    wanted = [("detector.model", d.model, 320, d.conf, d.class_map, vehicles)]
    if cfg.plates.enabled:
        wanted.append(("detector.plate_model", d.plate_model, 128, 0.25, None, {"plate"}))
    for key, path, imgsz, conf, class_map, needed in wanted:
        model = _resolve(path, base)
        det = Detector(DetectorConfig(model=model, imgsz=imgsz, conf=conf, iou=d.iou,
                                      threads=d.threads, class_map=class_map))
        try:
            loaded.append(det.load())
            if not det.classes & needed:  # the two models swapped, say: nothing found, ever
                raise ModelOutputError(f"{model}: finds {sorted(det.classes)}, none of"
                                       f" {sorted(needed)}")
        except (ModelError, OSError) as exc:
            raise _problem(key, path, exc, source, text) from None
    pc = cfg.plates
    recogniser = None
    if pc.enabled and pc.recogniser == "own":
        ocr = _resolve(pc.ocr_model, base) if pc.ocr_model is not None else SHIPPED_PLATE_OCR
        try:
            recogniser = OwnLineRecogniser(ocr, pc.threads)
        except (ModelError, OSError) as exc:
            raise _problem("plates.ocr_model", ocr, exc, source, text) from None
    return loaded[0], (loaded[1] if len(loaded) > 1 else None), recogniser


def build_pipeline(cfg: CameraGatewayConfig, *, source: str = "<config>",
                   text: str | None = None, base: Path | None = None,
                   evidence_dir: Path | None = None, fps: float | None = None) -> CameraPipeline:
    """A ready pipeline (models loaded, evidence folder opened) for ``cfg``."""
    vehicles, plate_det, recogniser = load_models(cfg, source=source, text=text, base=base)
    plates = None
    if plate_det is not None:
        pc = cfg.plates
        reader = PlateReader(
            PlateReaderConfig(threads=pc.threads, fallback_full_ocr=pc.full_ocr_fallback,
                              fallback_below=pc.full_ocr_below, recogniser=pc.recogniser),
            recogniser=recogniser,
        ).load()
        plates = PlateCollector(plate_det, reader, best_frames=pc.best_frames,
                                min_vehicle_height=pc.min_vehicle_height,
                                first_reads=pc.first_reads, settled_conf=pc.settled_conf,
                                cut_frames=pc.cut_frames)
    ev = cfg.evidence
    folder = evidence_dir or _resolve(ev.dir, base)
    try:
        store = EvidenceStore(folder, cfg.camera, tz=cfg.timezone,
                              jpeg_quality=ev.jpeg_quality, max_images=ev.max_images,
                              max_bytes=ev.max_bytes, max_age_s=ev.max_age_days * 86400).open()
    except OSError as exc:
        raise OSError(f"evidence.dir {folder}: cannot be used: {exc.strerror or exc}") from None
    src_fps = getattr(cfg.source, "fps", None)
    return CameraPipeline(cfg, detector=vehicles, plates=plates, evidence=store,
                          fps=fps or src_fps or 10.0)
