"""``ioc edge``: bad gateway configs and fetch requests get one clear line and an exit
code, never a traceback (each case below was one, found by a review)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ioc.cli import main

ROOT = Path(__file__).resolve().parents[2]
RAIN = ROOT / "firmware_configs" / "hue" / "rain-hue-01.yaml"
CAMERA = ROOT / "firmware_configs" / "hue" / "cam-lequydon-01.yaml"


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _edit(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


def test_validate_goes_on_after_a_file_that_is_not_utf8(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.yaml", b"kind: sensor_gateway\nsite: hue\n# caf\xe9\n")
    assert main(["edge", "validate", str(bad), str(RAIN)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{bad}:3: <top>: not UTF-8 text: byte 0xe9 at offset 36", f"{RAIN}: ok"]


def test_a_kind_that_is_no_gateway_kind_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It was validated as a sensor gateway: 14 "unknown key" lines for a camera file."""
    path = _write(tmp_path, "cam.yaml", _edit(CAMERA, "kind: camera_gateway",
                                              "kind: camera-gateway"))
    line = path.read_text().splitlines().index("kind: camera-gateway") + 1
    for verb in (["validate"], ["run"]):
        assert main(["edge", *verb, str(path)]) == 1
        assert capsys.readouterr().out.splitlines() == [
            f"{path}:{line}: kind: 'camera-gateway': not a gateway kind (camera_gateway or"
            " sensor_gateway)"]


def test_a_scenario_that_does_not_exist_is_named_by_its_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "rain.yaml", _edit(RAIN, "scenario: flood-2025-11-03",
                                               "scenario: no-such-scenario"))
    line = next(i for i, s in enumerate(path.read_text().splitlines())
                if "scenario: no-such" in s) + 1
    for verb in ("validate", "run"):
        assert main(["edge", verb, str(path)]) == 1
        out = capsys.readouterr().out
        expected = f"{path}:{line}: driver.scenario: 'no-such-scenario': no scenario"
        assert out.startswith(expected), out
    passwd = _write(tmp_path, "notes.yaml", "just: some\nnotes: here\n")
    path.write_text(_edit(RAIN, "scenario: flood-2025-11-03", f"scenario: {passwd}"))
    assert main(["edge", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "driver.scenario" in out
    assert "it is not a scenario file" in out
    assert "notes" not in out.replace(str(passwd), "")  # the other file's content is not shown


def test_a_queue_path_that_cannot_be_opened_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "rain.yaml", _edit(RAIN, "queue:\n", f"queue:\n  path: {tmp_path}\n")
                  if "queue:\n" in RAIN.read_text() else
                  RAIN.read_text() + f"queue:\n  path: {tmp_path}\n")
    assert main(["edge", "run", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: {tmp_path}: cannot open the disk queue"), out


def test_frames_must_be_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "run", str(CAMERA), "--frames", "0"]) == 2
    assert "--frames 0: give at least 1" in capsys.readouterr().out


def test_fetching_evidence_creates_and_deletes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The fetch enforced retention: a folder of old photos given as evidence.dir lost them."""
    photos = tmp_path / "photos"
    holiday = photos / "2020" / "holiday.jpg"
    holiday.parent.mkdir(parents=True)
    holiday.write_bytes(b"\xff\xd8")
    os.utime(holiday, (0, 0))
    path = _write(tmp_path, "cam.yaml", _edit(CAMERA, "  dir: var/evidence/cam-lequydon-01",
                                              f"  dir: {photos}"))
    assert main(["edge", "evidence", str(path), "whatever"]) == 1
    assert "no evidence image 'whatever'" in capsys.readouterr().out
    assert holiday.exists()
    path.write_text(_edit(CAMERA, "  dir: var/evidence/cam-lequydon-01",
                          f"  dir: {tmp_path}/nowhere"))
    assert main(["edge", "evidence", str(path), "whatever"]) == 1
    assert not (tmp_path / "nowhere").exists()
