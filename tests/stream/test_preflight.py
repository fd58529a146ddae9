"""What would stop a stream config from running is found before the dataflow starts,
by ``ioc stream check-config`` as by ``ioc stream run``: one line per problem, no
traceback, nothing started (each case was a traceback ending in "dataflow did not
subscribe within 30 s", a silent retry loop, or ``ok``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ioc.cli import main
from stream.config import load_config, preflight

DEFAULTS = Path(__file__).resolve().parents[2] / "stream" / "defaults.yaml"


def _config(tmp_path: Path, **changes: object) -> Path:
    """The shipped defaults (stations included), stores in ``tmp_path``, then ``changes``
    (a section's keys, or a top-level value)."""
    data = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    data["store"] = {"timeseries_path": f"{tmp_path}/var/ts.sqlite",
                     "events_path": f"{tmp_path}/var/ev.sqlite"}
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    path = tmp_path / "stream.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_config_has_nothing_to_report(tmp_path: Path) -> None:
    assert preflight(load_config(_config(tmp_path))) == []


def test_every_problem_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("IOC_INFLUX_TOKEN", raising=False)
    monkeypatch.delenv("IOC_NO_SUCH_PASSWORD", raising=False)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    shipped = (DEFAULTS.parent / "rules.yaml").read_text(encoding="utf-8")
    assert "      kimlong: {thresholds" in shipped
    rules.write_text(shipped.replace("      kimlong: {thresholds", "      kimlog: {thresholds"),
                     encoding="utf-8")
    path = _config(tmp_path, rules=str(rules),
                   mqtt={"username": "stream", "password_env": "IOC_NO_SUCH_PASSWORD"},
                   influx={"url": "http://127.0.0.1:1"},
                   recovery={"dir": f"{tmp_path}/afile/rec"},
                   store={"timeseries_path": f"{tmp_path}/afile/ts.sqlite",
                          "events_path": f"{tmp_path}/var/ev.sqlite"})
    assert main(["stream", "check-config", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{rules}:") and "'kimlog': no such station in the stream"
               " config's stations; did you mean 'kimlong'?" in line for line in lines), lines
    assert ("mqtt.password_env: environment variable IOC_NO_SUCH_PASSWORD is not set"
            in lines)
    assert any(line.startswith("influx.token_env: environment variable IOC_INFLUX_TOKEN is"
                               " not set") for line in lines), lines
    assert f"recovery.dir: {tmp_path}/afile/rec: {tmp_path}/afile is not a folder" in lines
    assert f"store.timeseries_path: {tmp_path}/afile: {tmp_path}/afile is not a folder" in lines
    assert len(lines) == 5, lines
    assert not (tmp_path / "var").exists()  # nothing was created


def test_a_missing_rules_file_is_named(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, rules=f"{tmp_path}/nope.yaml")
    assert main(["stream", "run", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path}/nope.yaml: <top>: cannot read:"), out
    assert "Traceback" not in out


@pytest.mark.parametrize(("args", "expected"), [
    (["--partitions", "0"], "command line: partitions: 0: Input should be greater than or"
                            " equal to 1"),
    (["--mqtt-port", "70000"], "command line: mqtt.port: 70000: Input should be less than or"
                               " equal to 65535"),
    (["--mqtt-port", "0"], "command line: mqtt.port: 0: Input should be greater than or"
                           " equal to 1"),
])
def test_command_line_overrides_are_validated(tmp_path: Path, args: list[str], expected: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An override of 0 was dropped without a word; others reached Bytewax or the socket."""
    path = _config(tmp_path)
    assert main(["stream", "run", "--config", str(path), *args]) == 1
    assert capsys.readouterr().out.splitlines() == [expected]


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_workers_must_be_a_positive_count(workers: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["stream", "run", "-w", workers])
    assert info.value.code == 2
    assert "argument -w/--workers" in capsys.readouterr().err
