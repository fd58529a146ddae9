"""Frame sources: a video file, a missing or unreadable one, a live stream that drops and
comes back, and the simulator with its frame times and signal."""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.camera.config import SimulatorSource, UrlSource
from edge.camera.source import CaptureFrames, SimulatorFrames, SourceError


def write_video(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48)) -> None:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    for i in range(frames):
        out.write(np.full((size[1], size[0], 3), i * 20, np.uint8))
    out.release()


def test_a_video_file_gives_every_frame_with_its_time(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path)
    src = CaptureFrames(UrlSource(type="url", url=str(path), start="2025-11-03T08:00:00+07:00"))
    src.open()
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    src.close()
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].ts.isoformat() == "2025-11-03T08:00:00+07:00"
    assert (frames[5].ts - frames[0].ts).total_seconds() == pytest.approx(0.5, abs=0.01)
    assert src.state == "closed"


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    (b"this is not a video" * 100, "OpenCV cannot read it as video|no frame could be decoded"),
])
def test_missing_or_unreadable_file_names_key_and_file(tmp_path: Path, content: bytes | None,
                                                       message: str) -> None:
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    src = CaptureFrames(UrlSource(type="url", url=str(path)))
    with pytest.raises(SourceError, match=rf"source\.url: {re.escape(str(path))}: ({message})"):
        src.open()


def test_a_live_stream_that_drops_is_retried_with_back_off_and_comes_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.avi"  # a "stream" that is not there yet, then ends, then returns
    src = CaptureFrames(UrlSource(type="url", url=str(path), live=True, retry_initial_s=0.05,
                                  retry_max_s=0.2), wait_s=0.1)
    src.open()
    assert src.read() is None
    deadline = time.monotonic() + 5
    while src.reconnects < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert src.reconnects >= 3
    assert src.state == "reconnecting"
    write_video(path)
    got = None
    while got is None and time.monotonic() < deadline:
        got = src.read()
    src.close()
    assert got is not None
    assert got.image.shape == (48, 64, 3)


def test_simulator_frames_carry_time_signal_and_truth() -> None:
    src = SimulatorFrames(SimulatorSource(type="simulator", seed=4, width=320, height=180,
                                          realtime=False, max_frames=5,
                                          start="2025-11-03T08:00:00+07:00"))
    src.open()
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    src.close()
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]  # max_frames ends the clip like a file
    assert frames[0].image.shape == (180, 320, 3)
    assert (frames[3].ts - frames[0].ts).total_seconds() == pytest.approx(0.3)
    assert all(f.signal in ("red", "yellow", "green") for f in frames)
    assert frames[2].truth.index == 2


def test_a_realtime_simulator_starts_its_clock_at_the_first_read() -> None:
    """The agent opens its source, then waits up to 10 s for the broker: a simulated
    camera skipped those seconds as late frames, and the clip began 10 s in."""
    import time

    src = SimulatorFrames(SimulatorSource(type="simulator", seed=4, width=320, height=180,
                                          fps=20, realtime=True, max_frames=50))
    src.open()
    time.sleep(0.5)  # ten frame periods
    first, second = src.read(), src.read()
    src.close()
    assert first is not None
    assert second is not None
    assert (first.index, second.index, src.dropped) == (0, 1, 0)
