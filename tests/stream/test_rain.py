"""Rain windows in event time: totals, late and out-of-order readings, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stream.rain import RainWindows

T0 = datetime(2025, 11, 3, tzinfo=UTC)
H = timedelta(hours=1)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def totals_at(rw: RainWindows, updates: list, end: datetime) -> dict[int, float]:
    out = {}
    for u in updates:
        for t in u.totals:
            if t.end == end:
                out[int(t.window / H)] = t.total_mm
    return out


def feed(rw: RainWindows, items: list[tuple[float, float]]) -> list:
    return [rw.add(minutes(m), mm) for m, mm in items]


def test_windows_close_on_the_watermark() -> None:
    rw = RainWindows(lateness=timedelta(minutes=10))
    ups = feed(rw, [(10 * i, 1.0) for i in range(1, 7)])  # 6 mm in the first hour
    assert all(not u.totals for u in ups)  # 01:00 not closed until the watermark passes it
    ups = feed(rw, [(70, 2.0)])  # max 01:10 → watermark 01:00 closes the hour
    assert totals_at(rw, ups, T0 + H) == {1: 6.0, 3: 6.0, 6: 6.0, 12: 6.0, 24: 6.0}


def test_totals_over_several_windows() -> None:
    rw = RainWindows(lateness=timedelta(0))
    ups = feed(rw, [(60 * h, float(h)) for h in range(1, 26)])  # h mm at each hour mark
    end = T0 + 24 * H
    got = totals_at(rw, ups, end)
    assert got == {1: 24.0, 3: 24 + 23 + 22, 6: sum(range(19, 25)), 12: sum(range(13, 25)),
                   24: sum(range(1, 25))}


def test_out_of_order_within_lateness_is_simply_included() -> None:
    rw = RainWindows(lateness=timedelta(minutes=10))
    ups = feed(rw, [(20, 1.0), (10, 1.0), (40, 1.0), (30, 1.0), (60, 1.0), (50, 1.0), (75, 0.5)])
    assert not any(u.late for u in ups)
    assert totals_at(rw, ups, T0 + H)[1] == 6.0


def test_late_reading_corrects_closed_windows() -> None:
    rw = RainWindows(lateness=timedelta(minutes=10))
    feed(rw, [(10, 1.0), (20, 1.0), (130, 1.0)])  # closes 01:00 and 02:00
    late = rw.add(minutes(30), 5.0)  # belongs to the first hour, arrives after it closed
    assert late.late
    assert late.refused is None
    fixed = {(t.end, int(t.window / H)): t.total_mm for t in late.totals if t.revised}
    assert fixed[(T0 + H, 1)] == 7.0
    assert fixed[(T0 + 2 * H, 3)] == 7.0  # the 3 h window ending at 02:00 covers it too
    assert (T0 + 2 * H, 1) not in fixed  # the 1 h window ending at 02:00 does not


def test_duplicate_reading_is_not_counted_twice() -> None:
    rw = RainWindows(lateness=timedelta(0))
    ups = feed(rw, [(30, 2.0), (30, 2.0), (60, 1.0), (61, 0.0)])
    assert totals_at(rw, ups, T0 + H)[1] == 3.0


def test_reading_older_than_every_window_is_refused_with_a_reason() -> None:
    rw = RainWindows(lateness=timedelta(0))
    feed(rw, [(10, 1.0), (60 * 30, 1.0)])  # 30 h later
    update = rw.add(minutes(20), 1.0)
    assert update.refused is not None
    assert "older than every kept window" in update.refused
    assert not update.totals


def test_long_silence_does_not_emit_empty_windows_one_by_one() -> None:
    rw = RainWindows(lateness=timedelta(0))
    feed(rw, [(10, 1.0)])
    update = rw.add(minutes(60 * 24 * 30), 1.0)  # a month later
    assert len(update.totals) <= 25 * len(rw.windows)


def test_a_late_duplicate_changes_nothing_and_corrections_skip_pruned_windows() -> None:
    """At-least-once delivery re-sends readings after a crash: a duplicate arriving after
    its windows closed must not re-emit them (they would be recomputed from readings
    already pruned); a genuinely new late reading corrects only windows still complete."""
    rw = RainWindows(windows=(H, 3 * H), step=H, lateness=timedelta(minutes=10))
    feed(rw, [(m, 1.0) for m in range(10, 10 * 60, 10)])  # 1 mm every 10 min for ~10 h
    assert rw.emitted_until is not None
    dup = rw.add(minutes(8 * 60 + 30), 1.0)  # already counted, windows long closed
    assert dup.totals == []
    assert dup.late
    new = rw.add(minutes(8 * 60 + 35), 2.0)  # new and late: corrects what it can, exactly
    assert new.totals
    kept_from = rw.emitted_until - 3 * H
    assert all(t.end - t.window >= kept_from for t in new.totals)
    for t in new.totals:
        assert t.samples == round(t.window / timedelta(minutes=10)) + 1
