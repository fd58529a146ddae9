"""Store writing off the dataflow's thread: everything handed over is written, in few
transactions, a failing write is retried rather than dropped, close writes what is held."""

from __future__ import annotations

import threading
import time

import pytest

from stream.store_writer import BackgroundWriter


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[list[int]] = []
        self.fail_first = fail_first
        self.closed_in: list[str] = []

    def write(self, items: list[int]) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise OSError("disk on fire")
        self.batches.append(list(items))

    def close(self) -> None:
        self.closed_in.append(threading.current_thread().name)


@pytest.mark.parametrize("fail_first", [0, 2])
def test_everything_is_written_once_in_order_in_few_batches(fail_first: int) -> None:
    rec = Recorder(fail_first)
    writer = BackgroundWriter(rec.write, rec.close, interval_s=0.02)
    writer.start()
    for i in range(0, 1000, 10):
        writer.submit(list(range(i, i + 10)))
    writer.close()
    written = [x for b in rec.batches for x in b]
    assert written == list(range(1000))
    assert len(rec.batches) < 100  # collected into rounds, not one write per submit
    assert rec.closed_in == ["store-writer"]  # the writer's own connections


def test_close_writes_what_is_held_without_waiting_a_round() -> None:
    rec = Recorder()
    writer = BackgroundWriter(rec.write, rec.close, interval_s=30.0)
    writer.start()
    writer.submit([1, 2, 3])
    t = time.monotonic()
    writer.close()
    assert [x for b in rec.batches for x in b] == [1, 2, 3]
    assert time.monotonic() - t < 29


def test_submit_waits_when_too_much_is_held() -> None:
    release = threading.Event()
    written: list[int] = []

    def slow(items: list[int]) -> None:
        release.wait(5)
        written.extend(items)

    writer = BackgroundWriter(slow, lambda: None, interval_s=0.0, max_pending=5)
    writer.start()
    writer.submit([0])
    time.sleep(0.05)  # the writer took [0] and is stuck writing it
    writer.submit([1, 2, 3, 4, 5])
    blocked = threading.Thread(target=writer.submit, args=([6],))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # 5 held: waits instead of growing without bound
    release.set()
    blocked.join(5)
    writer.close()
    assert written == list(range(7))


def test_a_close_that_cannot_finish_says_what_is_lost_and_where(
        caplog: pytest.LogCaptureFixture) -> None:
    """It said only 'still writing after N s at close': no store, no count."""
    import logging

    disk_full = [True]

    def fail(items: list[object]) -> None:
        if disk_full[0]:
            raise OSError("database or disk is full")

    writer = BackgroundWriter(fail, lambda: None, interval_s=0.01, name="var/ts.sqlite")
    writer.start()
    with caplog.at_level(logging.WARNING):
        writer.submit(list(range(50)))
        time.sleep(0.2)  # the first batch is being retried now
        writer.submit(list(range(7)))
        writer.close(timeout_s=0.5)
    assert "store writer var/ts.sqlite: writing 50 items failed" in caplog.text
    assert ("store writer var/ts.sqlite: still failing after 0 s at close; 7 items waiting"
            in caplog.text)
    disk_full[0] = False  # let its thread finish rather than retry for the rest of the run
    assert writer._thread is not None
    writer._thread.join(15)
    assert not writer._thread.is_alive()
