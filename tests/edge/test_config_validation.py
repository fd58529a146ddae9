"""Gateway config validation: each bad config and the exact place it is reported.

Every case edits one line of a good config; the problem must name the file, the
line of that edit, the key path, the bad value and what is allowed. The line is
found in the edited text itself (where the bad text sits), never taken from the
loader.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.camera.config import load_camera_config
from edge.config import load_sensor_config
from ioc.cli import main
from ioc.config import ConfigError, read_secret_file

ROOT = Path(__file__).resolve().parents[2]
SENSOR = (ROOT / "firmware_configs" / "hue" / "kimlong-modbus-01.yaml").read_text()

CAMERA = """\
kind: camera_gateway
version: 3
site: hue
device: cam-test-01
camera: test-e
location: "Lê Lợi, Huế"
source:
  type: simulator
  width: 1280
  height: 720
frame:
  width: 1280
  height: 720
calibration:
  metres_per_pixel: 0.05
lanes:
  - name: lane-1
    polygon: [[64, 711], [432, 711], [582, 212], [480, 212]]
    direction: [[334, 560], [451, 352]]
rules:
  illegal_parking:
    zones:
      - name: shoulder
        polygon: [[1100, 700], [1270, 700], [1270, 500]]
"""


def _edit(text: str, old: str, new: str) -> tuple[str, int]:
    """``text`` with ``old`` replaced by ``new``, and the 1-based line of the first line
    that the edit changed."""
    assert text.count(old) == 1, f"{old!r} must occur once in the base config"
    first = text[:text.index(old)].count("\n") + 1
    olds, news = old.split("\n"), new.split("\n")
    changed = next(i for i, n in enumerate(news) if i >= len(olds) or olds[i] != n)
    return text.replace(old, new), first + changed


SENSOR_CASES = [
    # a typo in a key, with the key it was meant to be
    ("poll_interval_s: 60", "poll_intervall_s: 60", "poll_intervall_s", "60",
     "unknown key (a typo?); did you mean 'poll_interval_s'? (allowed: alarm_poll_interval_s,"),
    ("  unit_id: 1\n", "  unit_ld: 1\n", "driver.unit_ld", "1",
     "unknown key (a typo?); did you mean 'unit_id'?"),
    # an unknown sensor type: the driver kind, and the quantity a register measures
    ("  type: modbus\n", "  type: modbuss\n", "driver.type", "'modbuss'",
     "unknown type; did you mean 'modbus'? (allowed: scenario, modbus)"),
    ("    - quantity: water_level\n", "    - quantity: water_levle\n",
     "driver.registers.0.quantity", "'water_levle'",
     "Input should be 'water_level', 'rain',"),
    ("  water_level:\n    min: -1.0", "  waterlevel:\n    min: -1.0", "checks.waterlevel",
     "'waterlevel'", "did you mean 'water_level'?"),
    # alarm levels not increasing
    ("alarm_levels: [1.0, 2.0, 3.5]", "alarm_levels: [1.0, 3.5, 2.0]",
     "checks.water_level.alarm_levels", "[1.0, 3.5, 2.0]",
     "alarm levels must increase: level 3 (2) is not above level 2 (3.5)"),
    ("    max: 12.0\n", "    max: -5\n", "checks.water_level.max", "-5",
     "max must be above min (-1.0)"),
    # bad values, and what is allowed
    ("  port: 8883", "  port: 88830", "broker.port", "88830",
     "Input should be less than or equal to 65535"),
    ("      data_type: int16", "      data_type: int61", "driver.registers.0.data_type", "'int61'",
     "Input should be 'int16', 'uint16', 'int32', 'uint32' or 'float32'; did you mean 'int16'?"),
    ("      unit: m\n", "      unit: cm\n", "driver.registers.0.unit", "'cm'",
     "water_level is published in 'm'; convert with scale/offset"),
    ("      scale: 0.01", "      scale: 0", "driver.registers.0.scale", "0",
     "scale 0 would make every reading equal to offset"),
    ("      address: 0\n      data_type: int16", "      address: 70000\n      data_type: int16",
     "driver.registers.0.address", "70000", "less than or equal to 65535"),
    ("      kind: counter", "      kind: gauge", None, None, None),  # valid: a gauge
    ("  backoff_initial_s: 2", "  backoff_initial_s: 500", "driver.backoff_initial_s", "500.0",
     "is above backoff_max_s (120)"),
    # alarm levels the sensor cannot reach (max 12), or always is at (min -1)
    ("alarm_levels: [1.0, 2.0, 3.5]", "alarm_levels: [1.0, 2.0, 30]",
     "checks.water_level.alarm_levels", "[1.0, 2.0, 30]",
     "alarm level 3 (30) is outside the sensor's range (-1.0, 12.0]"),
    ("alarm_levels: [1.0, 2.0, 3.5]", "alarm_levels: [-5, 2.0, 3.5]",
     "checks.water_level.alarm_levels", "[-5, 2.0, 3.5]",
     "alarm level 1 (-5) is outside the sensor's range"),
    # a version no config_ack can carry (64 characters)
    ("version: 1\n", "version: " + "9" * 80 + "\n", "version", "9" * 80,
     "Input should be less than or equal to 9223372036854775807"),
    ("  password_env: IOC_MQTT_PASSWORD", "  password_env: ioc_password", "broker.password_env",
     "'ioc_password'", "should match pattern"),
    ("    ca_file: /etc/ioc-edge/ca.crt", "    ca_file: /etc/ioc-edge/ca.crt\n"
     "    key_file: /etc/ioc-edge/gw.key", "broker.tls.key_file", "'/etc/ioc-edge/gw.key'",
     "give cert_file and key_file together, or neither"),
]


@pytest.mark.parametrize(("old", "new", "path", "value", "message"), SENSOR_CASES)
def test_sensor_config_errors_name_file_line_key_value_and_what_is_allowed(
    tmp_path: Path, old: str, new: str, path: str | None, value: str | None,
    message: str | None,
) -> None:
    text, line = _edit(SENSOR, old, new)
    file = tmp_path / "gw.yaml"
    file.write_text(text)
    if path is None:
        assert load_sensor_config(file).driver.type == "modbus"
        return
    with pytest.raises(ConfigError) as info:
        load_sensor_config(file)
    assert len(info.value.problems) == 1, str(info.value)
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.path, problem.value) == (
        str(file), line, path, value)
    assert str(problem).startswith(f"{file}:{line}: {path}: {value}: ")
    assert message in problem.message


CAMERA_CASES = [
    # a zone point outside the frame (one problem per point, each with its line)
    ("[[1100, 700], [1270, 700], [1270, 500]]", "[[1100, 700], [1290, 700], [1270, 500]]",
     "rules.illegal_parking.zones.0.polygon.1", "[1290, 700]",
     "point outside the 1280x720 frame (frame.width/height)"),
    # a lane with fewer than 3 points
    ("polygon: [[64, 711], [432, 711], [582, 212], [480, 212]]",
     "polygon: [[64, 711], [432, 711]]", "lanes.0.polygon", "[[64, 711], [432, 711]]",
     "List should have at least 3 items after validation, not 2"),
    # a typo in a key
    ("    direction: [[334, 560]", "    directon: [[334, 560]", "lanes.0.directon",
     "[[334, 560], [451, 352]]", "unknown key (a typo?); did you mean 'direction'?"),
    # an unknown source type: the key path is the one in the file (no union tag in it)
    ("  type: simulator", "  type: simulater", "source.type", "'simulater'",
     "unknown type; did you mean 'simulator'? (allowed: simulator, url)"),
    ("  width: 1280\n  height: 720\nframe", "  width: 1280\n  heigth: 720\nframe",
     "source.heigth", "720", "unknown key (a typo?); did you mean 'height'?"),
]


@pytest.mark.parametrize(("old", "new", "path", "value", "message"), CAMERA_CASES)
def test_camera_config_errors_name_file_line_key_value_and_what_is_allowed(
    tmp_path: Path, old: str, new: str, path: str, value: str, message: str
) -> None:
    load_camera_config(tmp_path / "good.yaml", text=CAMERA)  # the base is valid
    text, line = _edit(CAMERA, old, new)
    file = tmp_path / "cam.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_camera_config(file)
    problem = next((p for p in info.value.problems if p.path == path), None)
    assert problem is not None, str(info.value)
    assert (problem.file, problem.line, problem.path, problem.value) == (
        str(file), line, path, value), str(info.value)
    assert message in problem.message


def test_validate_command_reports_every_file_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(SENSOR)
    bad_text, line = _edit(SENSOR, "poll_interval_s: 60", "poll_intervall_s: 60")
    bad = tmp_path / "bad.yaml"
    bad.write_text(bad_text)
    assert main(["edge", "validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{good}: ok"
    assert out[1].startswith(f"{bad}:{line}: poll_intervall_s: 60: unknown key (a typo?)")
    assert main(["edge", "validate", str(good)]) == 0


def test_registers_that_overlap_are_refused(tmp_path: Path) -> None:
    """A 32-bit counter at the holding register a gauge reads: both values from one word."""
    old = "      table: input\n      address: 0\n      data_type: uint32"
    assert old in SENSOR
    text = SENSOR.replace(old, "      table: holding\n      address: 0\n      data_type: uint32")
    with pytest.raises(ConfigError) as info:
        load_sensor_config(tmp_path / "gw.yaml", text=text)
    (problem,) = info.value.problems
    assert (problem.line, problem.path) == (text.splitlines().index("  registers:") + 1,
                                            "driver.registers")
    assert problem.message == ("registers 0 and 1 overlap: holding 0..0 (water_level) and"
                               " 0..1 (rain)")
    text = SENSOR.replace(old, "      table: holding\n      address: 1\n      data_type: uint32")
    assert load_sensor_config(tmp_path / "gw.yaml", text=text).driver.type == "modbus"


def test_a_missing_key_is_reported_at_its_parent(tmp_path: Path) -> None:
    text, _ = _edit(SENSOR, "  transport: tcp ", "  transport: rtu ")
    with pytest.raises(ConfigError) as info:
        load_sensor_config(tmp_path / "gw.yaml", text=text)
    driver_line = text.splitlines().index("driver:") + 1
    assert str(info.value) == (f"{tmp_path / 'gw.yaml'}:{driver_line}: driver.serial: None: "
                               "transport rtu needs a serial line (serial: {port: /dev/ttyUSB0})")


@pytest.mark.parametrize(("mode", "content", "error"), [
    (0o600, "s3cret\n", None),
    (0o400, "s3cret", None),
    (0o644, "s3cret\n", "mode 0644 lets other users read the secret; chmod 600"),
    (0o600, "\n", "the file is empty"),
])
def test_password_file_must_be_private(tmp_path: Path, mode: int, content: str,
                                       error: str | None) -> None:
    path = tmp_path / "pw"
    path.write_text(content)
    os.chmod(path, mode)
    if error is None:
        assert read_secret_file(path, "broker.password_file") == "s3cret"
    else:
        with pytest.raises(ValueError, match=error):
            read_secret_file(path, "broker.password_file")


def test_broker_address_reads_the_password_file_and_checks_tls_files(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    pw.chmod(0o600)
    text = SENSOR.replace("  password_env: IOC_MQTT_PASSWORD", f"  password_file: {pw}")
    (tmp_path / "gw.yaml").write_text(text)
    cfg = load_sensor_config(tmp_path / "gw.yaml")
    with pytest.raises(ValueError, match=r"broker\.tls\.ca_file: /etc/ioc-edge/ca\.crt: no such"):
        cfg.broker.address()
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = text.replace("/etc/ioc-edge/ca.crt", str(ca))
    (tmp_path / "gw.yaml").write_text(text)
    address = load_sensor_config(tmp_path / "gw.yaml").broker.address()
    assert (address.username, address.password, address.tls_ca) == (
        "kimlong-modbus-01", "s3cret", str(ca))
    both = text.replace(f"  password_file: {pw}", f"  password_file: {pw}\n  password_env: X")
    with pytest.raises(ConfigError, match="give password_env or password_file, not both"):
        load_sensor_config(tmp_path / "both.yaml", text=both)
