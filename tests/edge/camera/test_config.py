"""Camera configs: the shipped ones load and match the simulator; bad ones give named errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edge.camera.build import build_pipeline, load_models
from edge.camera.config import load_camera_config
from edge.camera.rules import IllegalParkingRule
from edge.camera.scene import build_scene
from ioc.config import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "firmware_configs" / "hue").glob("cam-*.yaml"))
BAD_OUTPUT = ROOT / "tests" / "models" / "data" / "bad_output.onnx"
LEQUYDON = ROOT / "firmware_configs" / "hue" / "cam-lequydon-01.yaml"


def test_four_shipped_cameras() -> None:
    assert len(SHIPPED) == 4
    kinds = sorted(load_camera_config(p).source.scene for p in SHIPPED)  # type: ignore[union-attr]
    assert kinds == ["intersection", "intersection", "segment", "segment"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_geometry_matches_the_simulator(path: Path) -> None:
    """Calibration, lanes and stop line put the simulator's world where it is drawn."""
    cfg = load_camera_config(path)
    scene = build_scene(cfg)
    k = cfg.frame.width / 640
    f, horizon = 720 * k, 10 * k

    def pixel(x: float, d: float) -> tuple[float, float]:  # simulator projection, camera 6 m up
        return cfg.frame.width / 2 + f * (x - 5.0) / d, horizon + f * 6.0 / d

    for x, d in [(1.6, 15.0), (8.0, 25.0), (10.85, 28.0), (4.8, 38.0)]:
        assert scene.calibration.point(*pixel(x, d)) == pytest.approx((x, d), abs=0.02)
    lanes = {lane.name: lane for lane in scene.lanes}
    assert lanes["lane-moto"].allowed == frozenset({"motorbike"})
    assert lanes["lane-moto"].polygon.contains((8.0, 20.0))
    assert not lanes["lane-moto"].polygon.contains((4.8, 20.0))
    for lane in scene.lanes:
        assert lane.direction == pytest.approx(np.array([0.0, 1.0]), abs=1e-3)
    if cfg.source.scene == "intersection":  # type: ignore[union-attr]
        red = next(r for r in scene.rules if r.violation == "red_light")
        assert red.line.signed_distance((5.0, 30.0)) == pytest.approx(0.0, abs=0.02)
        assert red.line.signed_distance((5.0, 31.0)) == pytest.approx(1.0, abs=0.02)
    parking = next(r for r in scene.rules if r.violation == "illegal_parking")
    assert isinstance(parking, IllegalParkingRule)
    assert (parking.queue_gap_m, parking.queue_max_s) == (3.0, 60.0)  # the defaults: on


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_zone_point_outside_the_frame_names_file_line_and_key(tmp_path: Path) -> None:
    text = LEQUYDON.read_text()
    lines = text.splitlines()
    zone_line = next(i for i, s in enumerate(lines) if "zone: [[" in s) + 1
    bad = re.sub(r"zone: \[\[[\d.]+, ", "zone: [[-60, ", text, count=1)
    path = tmp_path / "cam.yaml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as err:
        load_camera_config(path)
    msg = str(err.value)
    assert f"{path}:{zone_line}: rules.speeding.zone.0: [-60," in msg
    assert "outside the 1280x720 frame" in msg


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("  width: 1280\n  height: 720\ndetector", "  width: 1280\n  height: 700\ndetector",
         "frame", "the simulator source draws 1280x720 (source.width/height)"),
        ("device: cam-lequydon-01", "device: Cam 01", "device", "should match pattern"),
        ("  lost_s: 1.0", "  lost_secs: 1.0", "tracker.lost_secs", "unknown key"),
        ("signal:\n  source: simulator\n", "", "rules.red_light", "needs a signal source"),
        ("timezone: Asia/Ho_Chi_Minh", "timezone: Mars/Olympus", "timezone", "Mars/Olympus"),
        ("  ground: [[0, 15]", "  metres_per_pixel: 0.05\n  ground: [[0, 15]", "calibration",
         "either image + ground points or metres_per_pixel"),
        ("  best_frames: 10", "  best_frames: 10\n  settled_conf: 1.5", "plates.settled_conf",
         "less than or equal to 1"),
        ("  best_frames: 10", "  best_frames: 10\n  first_reads: -1", "plates.first_reads",
         "greater than or equal to 0"),
        ("  best_frames: 10", "  best_frames: 10\n  full_ocr_below: 2", "plates.full_ocr_below",
         "less than or equal to 1"),
        ("    max_stationary_s: 3.0", "    max_stationary_s: 3.0\n    queue_gap_m: -1",
         "rules.illegal_parking.queue_gap_m", "greater than or equal to 0"),
        ("    max_stationary_s: 3.0", "    max_stationary_s: 3.0\n    queue_max_s: 0",
         "rules.illegal_parking.queue_max_s", "greater than 0"),
    ],
)
def test_bad_config_values_are_named(tmp_path: Path, old: str, new: str, key: str,
                                     message: str) -> None:
    path = tmp_path / "cam.yaml"
    path.write_text(_edit(LEQUYDON.read_text(), old, new))
    with pytest.raises(ConfigError) as err:
        load_camera_config(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f": {key}:" in msg
    assert message in msg


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [  # each passed `validate` and then crashed `run`, or silently disabled a rule
        ("    direction: [[334, 560], [451.7, 352.3]]", "    direction: [[334, 560], [334, 560]]",
         "lanes.0.direction", "the two points are the same"),
        ("  stop_line: [[400, 308], [980.8, 308]]", "  stop_line: [[400, 308], [400, 308]]",
         "rules.red_light.stop_line", "the two points are the same"),
        ("    polygon: [[64, 711.2], [432.6, 711.2], [582.4, 212], [480, 212]]",
         "    polygon: [[64, 711.2], [432.6, 711.2], [800, 711.2]]",
         "lanes.0.polygon", "encloses 0 square pixels"),
        ("    polygon: [[64, 711.2], [432.6, 711.2], [582.4, 212], [480, 212]]",
         "    polygon: [[64, 711.2], [432.6, 711.2], [480, 212], [582.4, 212]]",
         "lanes.0.polygon", "crosses itself (edges 1 and 3)"),
        ("  seed: 9000", "  seed: 9000\n  start: yesterday", "source.start",
         "not an ISO 8601 time"),
        ("signal:\n  source: simulator\n",
         "signal:\n  source: schedule\n  green_s: 30\n  yellow_s: 3\n  red_s: 30\n"
         "  epoch: '2025-01-01T00:00:00'\n", "signal.epoch", "needs a UTC offset"),
        ("signal:\n  source: simulator\n", "signal:\n  source: mqtt\n  topic: a/#/b\n",
         "signal.topic", "'#' must be a whole level and the last one"),
        ("signal:\n  source: simulator\n", "signal:\n  source: mqtt\n  topic: a/b+/c\n",
         "signal.topic", "'+' must be a whole level"),
        ("  ground: [[0, 15]", "  ground: [[0, 15]", "calibration", "degenerate"),
    ],
)
def test_geometry_and_times_that_cannot_work_are_named(tmp_path: Path, old: str, new: str,
                                                       key: str, message: str) -> None:
    text = LEQUYDON.read_text()
    if key == "calibration":  # all four ground points on one line
        text = re.sub(r"  ground: \[\[.*\]\]", "  ground: [[0, 15], [0, 20], [0, 25], [0, 30]]",
                      text, count=1)
    path = tmp_path / "cam.yaml"
    path.write_text(_edit(text, old, new))
    with pytest.raises(ConfigError) as err:
        load_camera_config(path)
    msg = str(err.value)
    assert f": {key}:" in msg, msg
    assert message in msg, msg
    last = key.rpartition(".")[2] + ":"  # its first occurrence is the one edited
    line = next(i for i, s in enumerate(path.read_text().splitlines())
                if s.strip().startswith(last)) + 1
    assert msg.startswith(f"{path}:{line}: "), msg


def _models_error(tmp_path: Path, text: str, key_prefix: str) -> tuple[Path, int, str]:
    """Write ``text`` as a config, open its models: (file, line of the key, error text)."""
    path = tmp_path / "cam.yaml"
    path.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines()) if s.startswith(key_prefix)) + 1
    cfg = load_camera_config(path)
    with pytest.raises(ConfigError) as err:
        load_models(cfg, source=str(path), base=ROOT)
    return path, line, str(err.value)


@pytest.mark.parametrize("which", ["not_onnx", "wrong_shape", "missing"])
def test_model_problems_name_file_line_and_key(tmp_path: Path, which: str) -> None:
    model = {"not_onnx": tmp_path / "model.onnx", "wrong_shape": BAD_OUTPUT,
             "missing": tmp_path / "nope.onnx"}[which]
    if which == "not_onnx":
        model.write_text("not a protobuf\n" * 10)
    text = _edit(LEQUYDON.read_text(), "  model: models/vehicles_192x320.onnx",
                 f"  model: {model}")
    path, line, msg = _models_error(tmp_path, text, "  model:")
    assert msg.startswith(f"{path}:{line}: detector.model: {model}: ")
    assert {"not_onnx": "is not a loadable ONNX model", "wrong_shape": "unexpected output shape",
            "missing": "model file not found"}[which] in msg


@pytest.mark.parametrize(("key", "model", "message"), [
    # a plate-line model as the detector: its (N, 40, 32) output passed as 36 classes
    ("  model:", "models/plate_ocr.onnx",
     "input shape (-1, 1, 32, 160): expected (N, 3, height, width) colour images"),
    # the two detectors swapped: plates were silently never found
    ("  plate_model:", "models/vehicles_192x320.onnx",
     "finds ['bus', 'car', 'motorbike', 'truck'], none of ['plate']"),
    ("  model:", "models/plates_128.onnx", "finds ['plate'], none of ['bus', 'car',"),
])
def test_a_model_that_cannot_do_its_job_is_refused(tmp_path: Path, key: str, model: str,
                                                   message: str) -> None:
    text = LEQUYDON.read_text()
    old = next(s for s in text.splitlines() if s.startswith(key))
    path, line, msg = _models_error(tmp_path, _edit(text, old, f"{key} {ROOT / model}"), key)
    assert msg.startswith(f"{path}:{line}: detector.{key.strip(' :')}: {ROOT / model}: "), msg
    assert message in msg, msg


def test_plate_ocr_model_problem_names_file_line_and_key(tmp_path: Path) -> None:
    text = LEQUYDON.read_text()
    assert "\nplates:\n" in text
    text = text.replace("\nplates:\n", f"\nplates:\n  ocr_model: {BAD_OUTPUT}\n", 1)
    path, line, msg = _models_error(tmp_path, text, "  ocr_model:")
    assert msg.startswith(f"{path}:{line}: plates.ocr_model: {BAD_OUTPUT}: ")
    assert "expected (N, 1, 32, 160)" in msg


def test_the_full_ocr_threshold_reaches_the_plate_reader(tmp_path: Path) -> None:
    path = tmp_path / "cam.yaml"
    path.write_text(_edit(LEQUYDON.read_text(), "  best_frames: 10",
                          "  best_frames: 10\n  full_ocr_below: 0.7"))
    pipe = build_pipeline(load_camera_config(path), source=str(path), base=ROOT,
                          evidence_dir=tmp_path / "evidence")
    assert pipe.plates is not None
    assert pipe.plates.reader.config.fallback_below == 0.7
    shipped = build_pipeline(load_camera_config(LEQUYDON), source=str(LEQUYDON), base=ROOT,
                             evidence_dir=tmp_path / "evidence2")
    assert shipped.plates is not None
    assert shipped.plates.reader.config.fallback_below == 0.8
