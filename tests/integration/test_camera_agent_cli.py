"""``ioc edge validate|run`` with camera configs, as a technician runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ioc.broker import MosquittoBroker

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
IOC = [sys.executable, "-m", "ioc.cli"]
HUE = ROOT / "firmware_configs" / "hue"


def _ioc(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOC, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)


def test_validate_every_shipped_gateway_config() -> None:
    paths = sorted(str(p) for p in HUE.glob("*.yaml"))
    result = _ioc("edge", "validate", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == len(paths)


def test_validate_names_the_bad_model_and_the_zone_outside_the_frame(tmp_path: Path) -> None:
    text = (HUE / "cam-hungvuong-01.yaml").read_text()
    bad_model = tmp_path / "not-a-model.onnx"
    bad_model.write_text("hello")
    a = tmp_path / "bad-model.yaml"
    a.write_text(text.replace("  model: models/vehicles_192x320.onnx", f"  model: {bad_model}"))
    b = tmp_path / "bad-zone.yaml"
    b.write_text(text.replace("  stop_line: [[400, 308]", "  stop_line: [[-40, 308]"))
    result = _ioc("edge", "validate", str(a), str(b))
    assert result.returncode == 1
    line = text.splitlines().index("  model: models/vehicles_192x320.onnx") + 1
    assert f"{a}:{line}: detector.model: {bad_model}: " in result.stdout
    assert "is not a loadable ONNX model" in result.stdout
    assert f"{b}:" in result.stdout
    assert "rules.red_light.stop_line.0: [-40, 308]: point outside the 1280x720 frame" in (
        result.stdout)
    assert "Traceback" not in result.stderr


def test_run_a_camera_for_a_few_frames(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    text = (HUE / "cam-lethanhton-01.yaml").read_text()
    for old, new in [("  port: 1883", f"  port: {mosquitto.port}"),
                     ("  path: var/queue/cam-lethanhton-01.sqlite", f"  path: {tmp_path}/q.sqlite"),
                     ("  dir: var/evidence/cam-lethanhton-01", f"  dir: {tmp_path}/ev"),
                     ("  realtime: true", "  realtime: false")]:
        assert old in text
        text = text.replace(old, new)
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(text)
    result = _ioc("edge", "run", str(cfg), "--frames", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cam-lethanhton-01: 30 frames, " in result.stdout
    assert "events published" in result.stdout


def test_run_with_a_missing_video_file_says_which(tmp_path: Path) -> None:
    text = (HUE / "cam-lethanhton-01.yaml").read_text()
    start = text.index("source:\n")
    end = text.index("frame:\n")
    text = text[:start] + f"source:\n  type: url\n  url: {tmp_path}/missing.mp4\n" + text[end:]
    text = text.replace("  path: var/queue/cam-lethanhton-01.sqlite",
                        f"  path: {tmp_path}/q.sqlite")
    text = text.replace("  dir: var/evidence/cam-lethanhton-01", f"  dir: {tmp_path}/ev")
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(text.replace("  port: 1883", "  port: 1"))
    result = _ioc("edge", "run", str(cfg), timeout=120)
    assert result.returncode == 1
    assert f"source.url: {tmp_path}/missing.mp4: no such file" in result.stdout
    assert "Traceback" not in result.stderr


def test_fetch_an_evidence_image_by_id(tmp_path: Path) -> None:
    import hashlib
    from datetime import UTC, datetime

    import numpy as np

    from edge.camera.evidence import EvidenceStore

    text = (HUE / "cam-lethanhton-01.yaml").read_text()
    text = text.replace("  dir: var/evidence/cam-lethanhton-01", f"  dir: {tmp_path}/ev")
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(text)
    store = EvidenceStore(tmp_path / "ev", "lethanhton-w").open()
    ref = store.save(np.zeros((90, 160, 3), np.uint8), "at", datetime(2025, 11, 3, tzinfo=UTC),
                     "k")
    out = tmp_path / "copy.jpg"
    result = _ioc("edge", "evidence", str(cfg), ref.image_id, "-o", str(out), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == ref.sha256
    assert ref.sha256 in result.stdout
    missing = _ioc("edge", "evidence", str(cfg), "no-such-image", timeout=60)
    assert missing.returncode == 1
    assert "no evidence image 'no-such-image'" in missing.stdout
