"""``ioc demo`` refuses arguments it cannot run with in one line, before it starts a broker
or makes a folder (they were tracebacks, some leaving a broker and temp folders behind, or
accepted: --duration 0 ran and passed, --speed 0 took the default)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from ioc.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _demo_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("ioc-demo-*")}


@pytest.mark.parametrize(("args", "expected"), [
    (["--scenario", "nosuch"], "ioc demo: no scenario 'nosuch': not a file, and not one of"),
    (["--scenario", str(ROOT / "firmware_configs" / "hue" / "kimlong-01.yaml")],
     "kimlong-01.yaml:2: name: Field required"),
    (["--data-dir", str(ROOT / "README.md")], "is a file, not a folder"),
])
def test_inputs_that_cannot_work_are_one_line(args: list[str], expected: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = _demo_folders()
    assert main(["demo", "--cameras", "0", "--duration", "5", *args]) == 2
    out = capsys.readouterr().out
    assert expected in out
    assert out.count("\n") == 1
    assert "broker:" not in out  # nothing was started
    assert _demo_folders() == before


def test_a_device_without_a_gateway_config_is_named(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cameras", "0", "--configs", str(tmp_path)]) == 2
    assert ("plays device 'kimlong-01', which has no gateway config"
            f" {tmp_path / 'kimlong-01.yaml'}") in capsys.readouterr().out


@pytest.mark.parametrize(("option", "value"), [
    ("--duration", "0"), ("--duration", "-5"), ("--speed", "0"), ("--speed", "-5"),
    ("--speed", "nan"), ("--duration", "inf"),
])
def test_durations_and_speeds_are_finite_and_above_zero(
        option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", option, value])
    assert info.value.code == 2
    assert f"argument {option}: {value} is not a number above 0" in capsys.readouterr().err
