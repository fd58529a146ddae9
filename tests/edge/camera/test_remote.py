"""Remote config: what is accepted, what is refused and why (named like a file error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.camera.config import load_camera_config
from edge.camera.remote import Refusal, check_remote, config_ack
from ioc.contract import Topics, decode_any, encode

ROOT = Path(__file__).resolve().parents[3]
PATH = ROOT / "firmware_configs" / "hue" / "cam-lequydon-01.yaml"
TEXT = PATH.read_text()
TOPIC = Topics.config("hue", "cam-lequydon-01")


def test_a_newer_valid_config_is_accepted() -> None:
    current = load_camera_config(PATH)
    text = TEXT.replace("version: 1", "version: 2").replace("limit_kmh: 50", "limit_kmh: 40")
    new = check_remote(current, TOPIC, text.encode())
    assert not isinstance(new, Refusal)
    assert new.version == 2
    assert new.rules.speeding is not None
    assert new.rules.speeding.limit_kmh == 40


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("version: 1", "version: 1", "version: 1: not newer than the running version 1"),
        ("limit_kmh: 50", "limit_kmh: -5", "rules.speeding.limit_kmh: -5: Input should be "
                                           "greater than 0"),
        ("device: cam-lequydon-01", "device: cam-other-01", "device: cannot change without a "
                                                            "restart"),
        ("  port: 1883", "  port: 1884", "broker: cannot change without a restart"),
        ("zone: [[", "zone: [[5000, 1], [", "rules.speeding.zone.0: [5000, 1]: point outside"),
        ("kind: camera_gateway", "kind: [", "not valid YAML"),
    ],
)
def test_bad_configs_are_refused_with_the_reason(old: str, new: str, reason: str) -> None:
    current = load_camera_config(PATH)
    text = TEXT.replace(old, new, 1)
    if old != "version: 1":
        text = text.replace("version: 1", "version: 2", 1)
    got = check_remote(current, TOPIC, text.encode())
    assert isinstance(got, Refusal)
    assert f"mqtt:{TOPIC}" in got.reason
    assert reason in got.reason


def test_binary_garbage_is_refused() -> None:
    got = check_remote(load_camera_config(PATH), TOPIC, b"\xff\xfe\x00garbage")
    assert isinstance(got, Refusal)
    assert "not UTF-8" in got.reason


@pytest.mark.parametrize(("payload", "refusal", "result", "claimed", "problems"), [
    (b"version: 0\nsite: hue", Refusal("a: bad\nb: worse"), "refused", "0",
     ["a: bad", "b: worse"]),
    (b"\xff\xfe garbage", Refusal("not UTF-8"), "refused", None, ["not UTF-8"]),
    (b"version: 9", None, "applied", None, []),
])
def test_config_ack_is_a_contract_event_with_version_result_and_every_problem(
        payload: bytes, refusal: Refusal | None, result: str, claimed: str | None,
        problems: list[str]) -> None:
    cfg = load_camera_config(PATH)
    ev = config_ack(cfg, TOPIC, payload, refusal)
    back = decode_any(Topics.for_event(ev), encode(ev))
    assert back == ev
    assert (ev.device, ev.result, ev.problems) == ("cam-lequydon-01", result, problems)
    assert ev.running_version == str(cfg.version)
    assert ev.config_version == (str(cfg.version) if refusal is None else claimed)


def test_the_same_payload_applied_then_refused_gets_two_acks() -> None:
    cfg = load_camera_config(PATH)
    payload = b"version: 9"
    applied = config_ack(cfg, TOPIC, payload)
    refused = config_ack(cfg, TOPIC, payload, Refusal("version: 9: not newer"))
    assert applied.id != refused.id
    assert config_ack(cfg, TOPIC, payload).id == applied.id  # a replay keeps its id
