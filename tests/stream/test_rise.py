"""Rate of rise in m/h, with out-of-order readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stream.rise import RateOfRise

T0 = datetime(2025, 11, 3, tzinfo=UTC)


def test_rate_over_the_window() -> None:
    r = RateOfRise(window=timedelta(hours=1))
    assert r.add(T0, 1.0) is None  # no history yet
    assert r.add(T0 + timedelta(minutes=5), 1.01) is None  # shorter than min_span
    assert r.add(T0 + timedelta(minutes=30), 1.10) == pytest.approx(0.2)
    assert r.add(T0 + timedelta(minutes=90), 1.40) == pytest.approx(0.3)  # 1.10→1.40 over 1 h


def test_out_of_order_readings_are_placed_in_time() -> None:
    r = RateOfRise(window=timedelta(hours=1))
    r.add(T0, 2.0)
    r.add(T0 + timedelta(minutes=60), 2.6)
    assert r.add(T0 + timedelta(minutes=30), 2.2) == pytest.approx(0.4)
    assert r.rate_at((T0 + timedelta(minutes=60)).timestamp()) == pytest.approx(0.6)


def test_falling_river_has_negative_rate() -> None:
    r = RateOfRise(window=timedelta(hours=1))
    r.add(T0, 3.5)
    assert r.add(T0 + timedelta(hours=1), 3.2) == pytest.approx(-0.3)


def test_the_same_reading_again_gives_no_new_rate() -> None:
    from datetime import UTC, datetime, timedelta

    from stream.rise import RateOfRise

    r = RateOfRise(window=timedelta(hours=1))
    t0 = datetime(2025, 11, 3, tzinfo=UTC)
    rates = [r.add(t0 + timedelta(minutes=10 * i), 1.0 + 0.01 * i) for i in range(40)]
    assert rates[-1] == 0.06
    assert r.add(t0 + timedelta(minutes=10 * 39), 1.0 + 0.01 * 39) is None  # duplicate
    assert r.add(t0 + timedelta(minutes=10 * 39), 2.0) is not None  # a corrected value
