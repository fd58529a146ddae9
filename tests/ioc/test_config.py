"""Config loading: every problem names the file, the line, the key path and the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.camera.config import load_camera_config
from edge.config import load_sensor_config
from ioc.commands.edge import config_kind
from ioc.config import ConfigError, load_yaml_model
from stream.config import StreamConfig, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "line", "path", "needle"),
    [
        ("stations:\n  kimlong:\n    name: K\n    lat: 95\n", 4,
         "stations.kimlong.lat", "less than or equal to 90"),
        ("stations:\n  kimlong:\n    name: K\n    deadbnd: 0.2\n", 4,
         "stations.kimlong.deadbnd", "unknown key"),
        ("site: Hue City\n", 1, "site", "should match pattern"),
        ("mqtt:\n  port: 70000\n", 2, "mqtt.port", "less than or equal to 65535"),
        ("rain:\n  windows_h: [1, 0]\n", 2, "rain.windows_h", "1..168 hours"),
        ("stations:\n  kimlong:\n    river: Hương\n", 2, "stations.kimlong.name", "Field required"),
        ("site: hue\nmqtt: port: 1\n", 2, "", "not valid YAML"),
    ],
)
def test_errors_name_line_and_key(text: str, line: int, path: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml_model(StreamConfig, "cfg.yaml", text=text)
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.path) == ("cfg.yaml", line, path)
    assert needle in problem.message
    assert str(problem).startswith(f"cfg.yaml:{line}: ")


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml_model(StreamConfig, "c.yaml", text="site: X\nmqtt:\n  port: 0\nbogus: 1\n")
    assert [p.path for p in info.value.problems] == ["site", "mqtt.port", "bogus"]


def test_a_key_given_twice_is_named_with_both_lines() -> None:
    """YAML keeps the last of two equal keys silently (``fps`` twice kept the second)."""
    with pytest.raises(ConfigError) as info:
        load_yaml_model(StreamConfig, "c.yaml", text="site: hue\nmqtt:\n  port: 1\n"
                        "  port: 2\nsite: other\n")
    assert [str(p) for p in info.value.problems] == [
        "c.yaml:4: mqtt.port: key given twice (first at line 3): remove one",
        "c.yaml:5: site: key given twice (first at line 1): remove one"]


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"site: hue\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:2: <top>: not UTF-8 text: byte 0xe9 at offset 15"


def test_a_recursive_alias_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="an alias refers to a mapping or list that contains"):
        load_yaml_model(StreamConfig, "c.yaml", text="stations: &x\n  a: *x\n")


def test_an_alias_bomb_is_refused_at_once() -> None:
    """1 KB of aliases, each twice the one before: checking it took hours."""
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    text = "stations:\n  k:\n    name: K\n" + "\n".join(lines) + "\n"
    with pytest.raises(ConfigError, match="its aliases expand to more than 100,000 values"):
        load_yaml_model(StreamConfig, "c.yaml", text=text)  # (2**39 values expanded)
    shared = "defaults: &d {name: K}\nstations:\n  k: *d\n  l: *d\n"  # ordinary reuse
    with pytest.raises(ConfigError, match=r"c\.yaml:1: defaults: .*unknown key"):
        load_yaml_model(StreamConfig, "c.yaml", text=shared)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_numbers_must_be_finite(value: str) -> None:
    with pytest.raises(ConfigError, match="Input should be a finite number"):
        load_yaml_model(StreamConfig, "c.yaml",
                        text=f"stations:\n  k:\n    name: K\n    lat: {value}\n")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_shipped_configs_are_valid() -> None:
    cfg = load_config()
    assert cfg.stations["kimlong"].kind == "river"
    assert cfg.rules is None  # the shipped rules file
    kinds = set()
    for path in sorted((ROOT / "firmware_configs" / "hue").glob("*.yaml")):
        kind = config_kind(path)
        kinds.add(kind)
        loaded = (load_camera_config(path) if kind == "camera_gateway"
                  else load_sensor_config(path))
        assert loaded.device == path.stem
    assert kinds == {"sensor_gateway", "camera_gateway"}


def test_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    text = (ROOT / "firmware_configs/hue/kimlong-01.yaml").read_text().replace(
        "password_env: null", "password_env: KIMLONG_MQTT_PASSWORD")
    path = tmp_path / "k.yaml"
    path.write_text(text)
    cfg = load_sensor_config(path)
    monkeypatch.delenv("KIMLONG_MQTT_PASSWORD", raising=False)
    with pytest.raises(ValueError, match="KIMLONG_MQTT_PASSWORD is not set"):
        cfg.broker.address()
    monkeypatch.setenv("KIMLONG_MQTT_PASSWORD", "s3cret")
    assert cfg.broker.address().password == "s3cret"
