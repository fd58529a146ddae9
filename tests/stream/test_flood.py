"""Alarm-level logic: crossing, equality, escalation, dead-band clear, flapping, replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.contract import AlertStatus
from stream.flood import AlarmLevels, FloodAlarm

T0 = datetime(2025, 11, 3, tzinfo=UTC)
KIM_LONG = AlarmLevels((1.0, 2.0, 3.5), deadband=0.1)


def run(values: list[float], levels: AlarmLevels = KIM_LONG) -> list[tuple[str, int]]:
    alarm = FloodAlarm("hue", "kimlong", levels)
    out = []
    for i, v in enumerate(values):
        alert = alarm.update(v, T0 + timedelta(minutes=10 * i), device="kimlong-01",
                             reading_id=f"r{i}")
        if alert is not None:
            out.append((alert.status.value, alert.level))
    return out


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.5, 0.9, 0.99], []),
        ([0.5, 1.0], [("raised", 1)]),  # equal to a level counts
        ([0.5, 3.54], [("raised", 3)]),  # a jump straight to III is one alert at III
        ([0.5, 1.2, 2.0, 3.5], [("raised", 1), ("escalated", 2), ("escalated", 3)]),
        ([1.2, 1.3, 1.5, 1.1, 0.95, 0.91], [("raised", 1)]),  # within the dead-band: no clear
        ([1.2, 0.9], [("raised", 1)]),  # exactly level minus dead-band holds
        ([1.2, 0.89], [("raised", 1), ("cleared", 0)]),
        ([3.6, 3.45, 3.39], [("raised", 3), ("deescalated", 2)]),
        ([3.6, 1.95], [("raised", 3), ("deescalated", 2)]),  # 1.95 holds II with the dead-band
        ([3.6, 1.5, 0.5], [("raised", 3), ("deescalated", 1), ("cleared", 0)]),
        ([3.6, 0.5, 1.0], [("raised", 3), ("cleared", 0), ("raised", 1)]),  # a new episode
        # Flapping around level II: one escalation, no storm.
        ([1.5, 2.0, 1.98, 2.01, 1.95, 2.0, 1.92, 2.05], [("raised", 1), ("escalated", 2)]),
    ],
)
def test_alarm_sequences(values: list[float], expected: list[tuple[str, int]]) -> None:
    assert run(values) == expected


def test_replayed_and_older_readings_change_nothing() -> None:
    alarm = FloodAlarm("hue", "kimlong", KIM_LONG)
    first = alarm.update(1.2, T0, device="d", reading_id="r1")
    assert first is not None
    assert first.status is AlertStatus.RAISED
    assert alarm.update(1.2, T0, device="d", reading_id="r1") is None  # the same reading
    assert alarm.update(3.9, T0 - timedelta(minutes=5), device="d", reading_id="r0") is None
    assert alarm.level == 1


def test_alert_identity_and_fields() -> None:
    a1 = FloodAlarm("hue", "kimlong", KIM_LONG, location="Kim Long (Hương)")
    a2 = FloodAlarm("hue", "kimlong", KIM_LONG, location="Kim Long (Hương)")
    seq1 = [a1.update(v, T0 + timedelta(hours=i), device="d", reading_id=f"r{i}")
            for i, v in enumerate([1.0, 2.2, 3.54, 0.5])]
    seq2 = [a2.update(v, T0 + timedelta(hours=i), device="d", reading_id=f"r{i}")
            for i, v in enumerate([1.0, 2.2, 3.54, 0.5])]
    assert [a.id for a in seq1 if a] == [a.id for a in seq2 if a]  # same input, same ids
    alerts = [a for a in seq1 if a is not None]
    assert len({a.alert_id for a in alerts}) == 1  # one alert, four state changes
    assert len({a.id for a in alerts}) == 4
    top = alerts[2]
    assert top.level == 3
    assert top.threshold == 3.5
    assert top.severity.value == "critical"
    assert top.reading_id == "r2"
    assert top.since == T0
    assert "+0.04 m" in top.description
    assert "Kim Long" in top.description


@pytest.mark.parametrize(
    ("levels", "message"),
    [((), "1 to 3"), ((2.0, 1.0), "increase"), ((1.0, 1.0), "increase"),
     ((1.0, 2.0, 3.0, 4.0), "1 to 3")],
)
def test_bad_levels_are_refused(levels: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlarmLevels(levels)
