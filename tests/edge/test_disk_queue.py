"""The on-disk queue: order, bounds and full policies, reopening, and surviving SIGKILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.disk_queue import DiskQueue, FullPolicy, QueueError


def _fill(q: DiskQueue, n: int, size: int = 10) -> list[bool]:
    return [q.put(f"t/{i}", bytes([i % 256]) * size) for i in range(n)]


def test_messages_come_back_oldest_first_and_ack_removes_them(tmp_path: Path) -> None:
    with DiskQueue(tmp_path / "q.sqlite") as q:
        _fill(q, 5)
        got = q.peek(limit=10)
        assert [m.topic for m in got] == [f"t/{i}" for i in range(5)]
        assert q.peek(after_seq=got[1].seq, limit=2) == got[2:4]
        assert q.ack([got[0].seq, got[2].seq, 999_999]) == 2
        assert [m.topic for m in q.peek()] == ["t/1", "t/3", "t/4"]
        assert len(q) == 3
        assert q.bytes_queued == 3 * (3 + 10)


def test_queue_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    with DiskQueue(path) as q:
        _fill(q, 3)
        q.put("retained", b"x", retain=True)
    with DiskQueue(path) as q:
        assert len(q) == 4
        msgs = q.peek()
        assert [m.topic for m in msgs] == ["t/0", "t/1", "t/2", "retained"]
        assert msgs[-1].retain
        assert q.disk_bytes() > 0


@pytest.mark.parametrize(
    ("policy", "max_messages", "max_bytes", "accepted", "kept", "dropped"),
    [
        # bounded by count
        (FullPolicy.DROP_OLDEST, 3, 10_000, [True] * 5, ["t/2", "t/3", "t/4"], 2),
        (FullPolicy.DROP_NEWEST, 3, 10_000, [True] * 3 + [False] * 2, ["t/0", "t/1", "t/2"], 2),
        # bounded by bytes: each message is 3 + 10 bytes, 40 bytes hold three
        (FullPolicy.DROP_OLDEST, 100, 40, [True] * 5, ["t/2", "t/3", "t/4"], 2),
        (FullPolicy.DROP_NEWEST, 100, 40, [True] * 3 + [False] * 2, ["t/0", "t/1", "t/2"], 2),
        # room for everything
        (FullPolicy.DROP_NEWEST, 5, 10_000, [True] * 5, [f"t/{i}" for i in range(5)], 0),
    ],
)
def test_full_policy(tmp_path: Path, policy: FullPolicy, max_messages: int, max_bytes: int,
                     accepted: list[bool], kept: list[str], dropped: int) -> None:
    with DiskQueue(tmp_path / "q.sqlite", max_messages=max_messages, max_bytes=max_bytes,
                   policy=policy) as q:
        assert _fill(q, 5) == accepted
        assert [m.topic for m in q.peek()] == kept
        assert q.dropped == dropped
        assert len(q) == len(kept)


def test_message_larger_than_the_queue_is_refused_and_counted(tmp_path: Path) -> None:
    with DiskQueue(tmp_path / "q.sqlite", max_bytes=1024) as q:
        assert q.put("t", b"x" * 5000) is False
        assert (q.dropped, len(q)) == (1, 0)


@pytest.mark.parametrize("kwargs", [{"max_messages": 0}, {"max_bytes": 0},
                                    {"synchronous": "OFF"}, {"policy": "drop_random"}])
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|drop_random"):
        DiskQueue(tmp_path / "q.sqlite", **kwargs)  # type: ignore[arg-type]


def test_unwritable_path_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    q = DiskQueue(blocker / "q.sqlite")
    with pytest.raises(QueueError, match=r"file/q\.sqlite: cannot open"):
        q.open()


def test_use_before_open_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QueueError, match="not open"):
        DiskQueue(tmp_path / "q.sqlite").put("t", b"x")


_KILLER = """
import os, signal, sys
from edge.disk_queue import DiskQueue
q = DiskQueue(sys.argv[1]).open()
for i in range(200):
    q.put(f"t/{i}", b"payload %d" % i)
print("written", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_every_committed_put_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(path)], capture_output=True,
                          text=True, timeout=60, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == -9, proc.stderr
    assert "written" in proc.stdout
    with DiskQueue(path) as q:
        msgs = q.peek(limit=1000)
    assert [m.payload for m in msgs] == [b"payload %d" % i for i in range(200)]


def test_one_process_at_a_time_owns_a_queue_file(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    first = DiskQueue(path).open()
    first.put("t", b"a")
    with pytest.raises(QueueError, match=r"q\.sqlite: the disk queue is in use by another"):
        DiskQueue(path).open()
    first.close()
    with DiskQueue(path) as second:  # the owner closed: the next agent takes over
        assert [m.payload for m in second.peek()] == [b"a"]
