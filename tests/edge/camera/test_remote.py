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
        ("zone: [[", "zone: [[-5, 711.2], [", "rules.speeding.zone.0: [-5, 711.2]: point outside"),
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


def test_a_refused_config_leaves_every_running_part_as_it_was(tmp_path: Path,
                                                              publisher) -> None:  # type: ignore[no-untyped-def]
    """A new detector setting with a source that cannot open: the new pipeline had stayed
    in use under the old config's version."""
    from edge.camera.agent import CameraAgent
    from edge.camera.signal import make_signal
    from edge.camera.source import make_source

    text = TEXT.replace("  dir: var/evidence/cam-lequydon-01", f"  dir: {tmp_path}/ev", 1)
    assert "  conf: 0.1" in text
    cfg = load_camera_config(PATH, text=text)
    agent = CameraAgent(cfg, publisher, config_path=str(PATH))
    agent.pipeline = agent._factory(cfg)
    agent.source = make_source(cfg.source)
    agent.source.open()
    agent.signal = make_signal(cfg.signal, None, "test-signal")
    agent.signal.start()
    running = (agent.pipeline, agent.source, agent.signal)
    source_block = text[text.index("source:\n"):text.index("frame:\n")]
    bad = (text.replace("version: 1", "version: 2", 1).replace("  conf: 0.1", "  conf: 0.3", 1)
           .replace(source_block, f"source:\n  type: url\n  url: {tmp_path}/nope.mp4\n", 1))
    assert not agent.apply_config(TOPIC, bad.encode())
    assert (agent.pipeline, agent.source, agent.signal) == running
    assert agent.pipeline.detector.config.conf == 0.1  # type: ignore[union-attr]
    assert agent.cfg.version == 1
    ack = agent.publisher.sent[-1]
    assert getattr(ack, "result", None) == "refused"
    assert "nope.mp4" in " ".join(getattr(ack, "problems", []))
    good = text.replace("version: 1", "version: 3", 1).replace("  conf: 0.1", "  conf: 0.3", 1)
    assert agent.apply_config(TOPIC, good.encode())
    assert agent.pipeline is not running[0]
    assert agent.pipeline.detector.config.conf == 0.3  # type: ignore[union-attr]
    assert agent.source is running[1]  # unchanged parts are kept
    agent.source.close()


def test_frames_of_another_size_than_configured_stop_the_agent(tmp_path: Path,
                                                              publisher) -> None:  # type: ignore[no-untyped-def]
    """A 320x240 video under a 1280x720 config ran without a word, every zone misplaced."""
    import cv2
    import numpy as np

    from edge.camera.agent import CameraAgent
    from edge.camera.signal import make_signal
    from edge.camera.source import SourceError, make_source

    video = tmp_path / "small.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(3):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    text = TEXT.replace("  dir: var/evidence/cam-lequydon-01", f"  dir: {tmp_path}/ev", 1)
    source_block = text[text.index("source:\n"):text.index("frame:\n")]
    cfg = load_camera_config(PATH, text=text.replace(
        source_block, f"source:\n  type: url\n  url: {video}\n", 1))
    agent = CameraAgent(cfg, publisher, config_path=str(PATH))
    agent.pipeline = agent._factory(cfg)
    agent.source = make_source(cfg.source)
    agent.source.open()
    agent.signal = make_signal(cfg.signal, None, "test-signal")
    with pytest.raises(SourceError, match=r"the source gives 320x240 frames but"
                                          r" frame\.width/height say 1280x720"):
        agent.run()
    agent.source.close()


def test_the_frame_held_back_is_finished_by_the_running_pipeline_before_a_config(
    tmp_path: Path, publisher,  # type: ignore[no-untyped-def]
) -> None:
    """The agent detects a frame while the one before is processed; a config that
    arrives in between must not leave that frame to the next pipeline, or lose it."""
    from datetime import UTC, datetime

    import numpy as np

    from edge.camera.agent import CameraAgent
    from edge.camera.source import Frame

    text = TEXT.replace("  dir: var/evidence/cam-lequydon-01", f"  dir: {tmp_path}/ev", 1)
    cfg = load_camera_config(PATH, text=text)
    agent = CameraAgent(cfg, publisher, config_path=str(PATH))
    old = agent.pipeline = agent._factory(cfg)
    try:
        frame = Frame(0, np.zeros((720, 1280, 3), np.uint8), datetime(2025, 11, 3, tzinfo=UTC),
                      0.0)
        agent._ahead.push(old, frame, "green")
        assert old.stats.frames == 0
        newer = text.replace("version: 1", "version: 2", 1).replace("  conf: 0.1", "  conf: 0.3")
        assert agent.apply_config(TOPIC, newer.encode())
        assert agent.pipeline is not old
        assert old.stats.frames == 1
        assert agent.pipeline.stats.frames == 0
        assert not agent._ahead.holding
    finally:
        agent._ahead.close()
