"""The alert engine: crossings, levels, dead-band, flapping, min duration, no-data, replays,
identity, pickling, and equivalence with the hard-coded FloodAlarm it generalises."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ioc.contract import Aggregate, Alert, SensorReading, encode, reading_id
from simulators.sensors.scenario import load_scenario
from stream.flood import AlarmLevels, FloodAlarm
from stream.rules import SeriesAlarm, StationAlarms
from stream.rules_config import RuleSet, load_rules

T0 = datetime(2025, 11, 3, tzinfo=UTC)
STEP = timedelta(minutes=10)
HUE = timezone(timedelta(hours=7))

RULES_YAML = """
rules:
  - name: river
    match: {measure: water_level, stations: [kimlong]}
    category: weather
    subcategory: flood
    unit: m
    what: water
    level_word: alarm level
    levels:
      - {level: 1, name: "I", severity: medium, at_least: 1.0}
      - {level: 2, name: "II", severity: high, at_least: 2.0}
      - {level: 3, name: "III", severity: critical, at_least: 3.5}
    deadband: 0.1
  - name: slow-river
    match: {measure: water_level, stations: [slow]}
    category: weather
    subcategory: flood
    unit: m
    levels:
      - {level: 1, name: "I", severity: medium, at_least: 1.0}
      - {level: 2, name: "II", severity: high, at_least: 2.0}
    deadband: 0.1
    min_duration_s: 1800
  - name: silent
    match: {measure: water_level, stations: [quiet]}
    category: weather
    subcategory: flood
    unit: m
    what: water
    level_word: level
    levels:
      - {level: 1, name: "I", severity: medium, at_least: 1.0}
    deadband: 0.1
    no_data_after_s: 1800
    no_data_severity: medium
  - name: strict
    match: {measure: rain_total, window_s: 86400}
    category: weather
    subcategory: heavy_rain
    unit: mm
    levels:
      - {level: 1, name: heavy, severity: medium, at_least: 51}
      - {level: 2, name: very heavy, severity: high, above: 100}
  - name: jam
    match: {measure: congestion_index, labels: {direction: north}}
    category: traffic
    subcategory: congestion
    unit: ""
    audience: traffic
    levels:
      - {level: 1, name: slow, severity: low, at_least: 0.5}
    deadband: 0.1
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules("test-rules.yaml", text=RULES_YAML)


def feed(alarm: SeriesAlarm, values: list[float | None], station: str = "kimlong",
         first: int = 0) -> list[Alert]:
    """Reading ``first + i`` at ``T0 + (first + i) * STEP`` (None: no reading then)."""
    out: list[Alert] = []
    for i, v in enumerate(values, start=first):
        if v is not None:
            ts = T0 + i * STEP
            out += alarm.update(ts, v, site="hue", station=station, device=f"{station}-01",
                                source_id=f"r{i}", location="Kim Long (Hương)")
    return out


def summary(alerts: list[Alert]) -> list[tuple[str, int]]:
    return [(a.status.value, a.level) for a in alerts]


def alarm_of(rules: RuleSet, station: str = "kimlong", measure: str = "water_level",
             window_s: int = 0, labels: dict[str, str] | None = None) -> SeriesAlarm:
    alarm = SeriesAlarm.for_series(rules, measure, station, window_s, labels)
    assert alarm is not None
    return alarm


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.5, 0.9, 0.99], []),
        ([0.5, 1.0], [("raised", 1)]),  # equal to a level reaches it
        ([0.5, 3.54], [("raised", 3)]),  # a jump over several levels is one change
        ([0.5, 1.2, 2.0, 3.5], [("raised", 1), ("escalated", 2), ("escalated", 3)]),
        ([0.5, 1.2, 3.6], [("raised", 1), ("escalated", 3)]),  # escalation jumps too
        ([1.2, 1.3, 1.5, 1.1, 0.95, 0.91], [("raised", 1)]),  # inside the dead-band: held
        ([1.2, 0.9], [("raised", 1)]),  # exactly level minus dead-band still holds
        ([1.2, 0.89], [("raised", 1), ("cleared", 0)]),
        ([3.6, 3.45, 3.39], [("raised", 3), ("deescalated", 2)]),
        ([3.6, 1.95], [("raised", 3), ("deescalated", 2)]),  # 1.95 holds II with the band
        ([3.6, 1.5, 0.5], [("raised", 3), ("deescalated", 1), ("cleared", 0)]),
        ([3.6, 0.5], [("raised", 3), ("cleared", 0)]),  # straight down is one clear
        ([3.6, 0.5, 1.0], [("raised", 3), ("cleared", 0), ("raised", 1)]),  # new episode
        # Flapping around level II: one escalation, no storm.
        ([1.5, 2.0, 1.98, 2.01, 1.95, 2.0, 1.92, 2.05], [("raised", 1), ("escalated", 2)]),
        # Flapping around level I's threshold, never below the dead-band: one alert.
        ([1.0, 0.97, 1.02, 0.93, 1.0, 0.95, 1.01], [("raised", 1)]),
    ],
)
def test_level_sequences(rules: RuleSet, values: list[float],
                         expected: list[tuple[str, int]]) -> None:
    assert summary(feed(alarm_of(rules), values)) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([50.9, 51.0], [("raised", 1)]),  # at_least: equal reaches
        ([51.0, 100.0], [("raised", 1)]),  # above: equal does not
        ([51.0, 100.01], [("raised", 1), ("escalated", 2)]),
        ([100.0, 100.5, 100.0], [("raised", 1), ("escalated", 2)]),  # no dead-band, held
        ([100.5, 99.9], [("raised", 2), ("deescalated", 1)]),
        ([100.5, 50.9], [("raised", 2), ("cleared", 0)]),
    ],
)
def test_at_least_and_above(rules: RuleSet, values: list[float],
                            expected: list[tuple[str, int]]) -> None:
    alarm = alarm_of(rules, "aluoi", "rain_total", 86400)
    assert summary(feed(alarm, values, station="aluoi")) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # a brief spike (one reading, then two) raises nothing
        ([0.5, 1.5, 0.5, 1.5, 1.5, 0.5], []),
        # sustained: reached at step 1, still at step 4 (30 min later): raised at step 4
        ([0.5, 1.5, 1.2, 1.1, 1.3], [("raised", 1, 4, 1)]),
        # a dip below the level restarts the run, even inside the dead-band
        ([1.5, 1.5, 0.95, 1.5, 1.5, 1.5, 1.5], [("raised", 1, 6, 3)]),
        # straight to II and held there: one raise at II
        ([0.5, 2.5, 2.5, 2.5, 2.5], [("raised", 2, 4, 1)]),
        # I sustained first, II later: raise then escalate when II has lasted
        ([1.5, 1.5, 1.5, 1.5, 2.2, 2.2, 2.2, 2.2],
         [("raised", 1, 3, 0), ("escalated", 2, 7, 0)]),
        # clearing is immediate (min duration applies to raising and escalating)
        ([1.5, 1.5, 1.5, 1.5, 0.5], [("raised", 1, 3, 0), ("cleared", 0, 4, 0)]),
    ],
)
def test_min_duration(rules: RuleSet, values: list[float],
                      expected: list[tuple[str, int, int, int]]) -> None:
    alerts = feed(alarm_of(rules, "slow"), values, station="slow")
    got = [(a.status.value, a.level, int((a.ts - T0) / STEP), int((a.since - T0) / STEP))
           for a in alerts]
    assert got == expected


def test_no_data_raised_by_tick_and_cleared_by_data(rules: RuleSet) -> None:
    alarm = alarm_of(rules, "quiet")
    assert feed(alarm, [0.5, 0.6], station="quiet") == []
    last = T0 + STEP
    assert alarm.tick(last + timedelta(minutes=29)) == []
    raised = alarm.tick(last + timedelta(minutes=45))
    assert [(a.status.value, a.subcategory, a.ts, a.since) for a in raised] == [
        ("raised", "no_data", last + timedelta(minutes=30), last)]
    assert raised[0].severity.value == "medium"
    assert "no water data for 30 min (last at 2025-11-03 07:10)" in raised[0].description
    assert alarm.tick(last + timedelta(hours=3)) == []  # one alert, however many ticks
    back = alarm.update(last + timedelta(hours=1), 0.7, site="hue", station="quiet",
                        device="quiet-01", source_id="r9")
    assert [(a.status.value, a.alert_id, a.ts) for a in back] == [
        ("cleared", raised[0].alert_id, last + timedelta(hours=1))]
    assert "back after 60 min" in back[0].description


def test_no_data_is_the_same_whether_a_tick_saw_it_or_not(rules: RuleSet) -> None:
    values = [0.5, 1.2, None, None, None, None, 1.3, 0.5]
    ticked = alarm_of(rules, "quiet")
    seen: list[Alert] = []
    for i, v in enumerate(values):
        ts = T0 + i * STEP
        seen += ticked.tick(ts)
        if v is not None:
            seen += ticked.update(ts, v, site="hue", station="quiet", device="quiet-01",
                                  source_id=f"r{i}", location="Kim Long (Hương)")
    unticked = feed(alarm_of(rules, "quiet"), values, station="quiet")
    assert [encode(a) for a in seen] == [encode(a) for a in unticked]
    assert [(a.subcategory, a.status.value) for a in seen] == [
        ("flood", "raised"), ("no_data", "raised"), ("no_data", "cleared"), ("flood", "cleared")]
    # silent while the flood alert is open: at least as grave as the open level
    assert seen[1].severity.value == "medium"
    assert "while at level I" in seen[1].description


def test_no_data_takes_the_severity_of_an_open_alarm() -> None:
    rules = load_rules()  # the city's rules: flood no-data is high, level III critical
    alarm = alarm_of(rules, "kimlong")
    feed(alarm, [3.6], station="kimlong")
    (raised,) = alarm.tick(T0 + timedelta(hours=1))
    assert (raised.subcategory, raised.severity.value) == ("no_data", "critical")
    calm = alarm_of(rules, "phuoc")
    feed(calm, [0.4], station="phuoc")
    assert [a.severity.value for a in calm.tick(T0 + timedelta(hours=1))] == ["high"]


def test_replay_gives_identical_alerts_and_old_readings_change_nothing(rules: RuleSet) -> None:
    values = [0.5, 1.0, 2.2, 3.54, 3.3, 1.5, 0.5, 1.1]
    first = feed(alarm_of(rules), values)
    second = feed(alarm_of(rules), values)
    assert [encode(a) for a in first] == [encode(a) for a in second]
    assert len({a.id for a in first}) == len(first)
    assert len({a.alert_id for a in first}) == 2  # two episodes
    alarm = alarm_of(rules)
    once = feed(alarm, values)
    assert feed(alarm, values) == []  # the same readings again: all at or before the last
    assert alarm.update(T0 + 2 * STEP, 3.9, site="hue", station="kimlong", device="d",
                        source_id="late") == []  # out of order: ignored
    last = T0 + (len(values) - 1) * STEP
    assert alarm.update(last, 3.9, site="hue", station="kimlong", device="d",
                        source_id=f"r{len(values) - 1}") == []  # the last reading re-delivered
    # Another reading at the same instant (a correction, or a clock of one-second
    # resolution) is a reading: it escalates; delivered again, it changes nothing.
    again = alarm.update(last, 3.9, site="hue", station="kimlong", device="d",
                         source_id="again")
    assert [(a.status, a.level) for a in again] == [("escalated", 3)]
    assert alarm.update(last, 3.9, site="hue", station="kimlong", device="d",
                        source_id="again") == []
    assert alarm.update(T0 + len(values) * STEP, 0.5, site="hue", station="kimlong",
                        device="d", source_id="next")[0].alert_id == once[-1].alert_id


@pytest.mark.parametrize("cut", [1, 3, 5, 9, 12])
def test_pickled_state_continues_like_an_uninterrupted_run(rules: RuleSet, cut: int) -> None:
    values: list[float | None] = [0.5, 1.0, 1.5, 1.5, None, None, None, 2.5, 2.5, 2.5, 2.5,
                                  3.6, 0.5, 1.4, 1.4, 1.4, 1.4]
    for station in ("kimlong", "slow", "quiet"):
        whole = feed(alarm_of(rules, station), values, station=station)
        alarm = alarm_of(rules, station)
        head = feed(alarm, values[:cut], station=station)
        restored = pickle.loads(pickle.dumps(alarm))
        tail = feed(restored, values[cut:], station=station, first=cut)
        assert [encode(a) for a in head + tail] == [encode(a) for a in whole], station


def test_alert_fields_and_description(rules: RuleSet) -> None:
    alarm = alarm_of(rules)
    alarm.update(T0, 0.5, site="hue", station="kimlong", device="kimlong-01", source_id="r0")
    (top,) = alarm.update(T0 + STEP, 3.54, site="hue", station="kimlong", device="kimlong-01",
                          source_id="r1", location="Kim Long (Hương)", rate_of_rise=0.12)
    assert (top.category, top.subcategory, top.severity.value, top.level) == (
        "weather", "flood", "critical", 3)
    assert (top.threshold, top.value, top.unit, top.rate_of_rise) == (3.5, 3.54, "m", 0.12)
    assert (top.station, top.location, top.device, top.reading_id) == (
        "kimlong", "Kim Long (Hương)", "kimlong-01", "r1")
    assert top.since == T0 + STEP
    assert top.audience == "operator"
    assert top.description == ("Kim Long (Hương): water 3.54 m reached alarm level III"
                               " (3.50 m), +0.04 m, rising 0.12 m/h")


def test_labels_and_windows_are_separate_series(rules: RuleSet) -> None:
    state = StationAlarms()

    def agg(value: float, minute: int, lane: str, direction: str = "north") -> Aggregate:
        ts = T0 + timedelta(minutes=minute)
        return Aggregate(id=f"a{lane}{minute}", site="hue", device="cam-01", ts=ts,
                         station="cam-01", measure="congestion_index", window_s=60,
                         value=value, unit="", labels={"lane": lane, "direction": direction})

    out = state.on_aggregate(rules, agg(0.8, 0, "1"), location="Lê Lợi")
    out += state.on_aggregate(rules, agg(0.8, 0, "2"), location="Lê Lợi")
    out += state.on_aggregate(rules, agg(0.9, 0, "3", "south"), location="Lê Lợi")  # no rule
    assert [(a.status.value, a.audience, a.category) for a in out] == [
        ("raised", "traffic", "traffic")] * 2
    assert len({a.alert_id for a in out}) == 2
    assert out[0].description.startswith("Lê Lợi [direction=north lane=1]: 0.80 reached")
    assert len(state.series) == 3
    rain = Aggregate(id="rain", site="hue", device="g", ts=T0, station="aluoi",
                     measure="rain_total", window_s=3600, value=300.0, unit="mm")
    assert state.on_aggregate(rules, rain) == []  # a 1 h window: the 24 h rule ignores it


def test_station_alarms_on_readings_and_tick(rules: RuleSet) -> None:
    state = StationAlarms()

    def reading(quantity: str, value: float, unit: str, i: int) -> SensorReading:
        ts = T0 + i * STEP
        return SensorReading(id=reading_id("quiet-01", quantity, ts, "quiet"), site="hue",
                             device="quiet-01", ts=ts, station="quiet", quantity=quantity,
                             value=value, unit=unit)

    assert state.on_reading(rules, reading("temperature", 30.0, "degC", 0)) == []
    assert state.series == {"temperature": None}  # remembered: no rule watches it
    (raised,) = state.on_reading(rules, reading("water_level", 1.2, "m", 0), location="Q")
    assert raised.reading_id == reading("water_level", 1.2, "m", 0).id
    assert [a.subcategory for a in state.tick(T0 + timedelta(hours=1))] == ["no_data"]


# --------------------------------------------------------------- equivalence with FloodAlarm


# What FloodAlarm was given from stream/defaults.yaml (Decision 05/2020/QĐ-TTg), spelled
# here so the comparison outlives the stations config dropping its alarm levels.
GAUGES = {
    "kimlong": ("Kim Long (Hương)", AlarmLevels((1.0, 2.0, 3.5), deadband=0.1)),
    "phuoc": ("Phú Ốc (Bồ)", AlarmLevels((1.5, 3.0, 4.5), deadband=0.1)),
}


def _flood_alarm_alerts(station: str, samples: list[tuple[datetime, float]]) -> list[Alert]:
    name, levels = GAUGES[station]
    alarm = FloodAlarm("hue", station, levels, location=name)
    out = []
    for i, (ts, v) in enumerate(samples):
        a = alarm.update(v, ts, device=f"{station}-01", reading_id=f"r{i}",
                         rate_of_rise=0.1 * (i % 3))
        if a is not None:
            out.append(a)
    return out


def _engine_alerts(rules: RuleSet, station: str,
                   samples: list[tuple[datetime, float]]) -> list[Alert]:
    name = GAUGES[station][0]
    alarm = alarm_of(rules, station)
    out: list[Alert] = []
    for i, (ts, v) in enumerate(samples):
        out += alarm.update(ts, v, site="hue", station=station, device=f"{station}-01",
                            source_id=f"r{i}", location=name, rate_of_rise=0.1 * (i % 3))
    return out


def _same(old: list[Alert], new: list[Alert]) -> None:
    """Everything but the change ``id`` (FloodAlarm numbers changes, the engine hashes
    them) and the description wording."""
    fields = ("ts", "alert_id", "status", "level", "value", "threshold", "severity", "since",
              "category", "subcategory", "station", "location", "unit", "rate_of_rise",
              "reading_id", "device", "site", "audience")
    assert [[getattr(a, f) for f in fields] for a in new] == [
        [getattr(a, f) for f in fields] for a in old]


def test_flood_scenario_matches_flood_alarm_and_the_demo_order() -> None:
    rules = load_rules()
    scenario = load_scenario("flood-2025-11-03")
    merged: list[Alert] = []
    for station, device in (("kimlong", "kimlong-01"), ("phuoc", "phuoc-01")):
        samples = [(s.ts, s.value) for s in scenario.samples(device)
                   if s.quantity == "water_level"]
        old = _flood_alarm_alerts(station, samples)
        new = _engine_alerts(rules, station, samples)
        assert all(a.subcategory == "flood" for a in new)  # gauges every 10 min: no no-data
        _same(old, new)
        merged += new
    merged.sort(key=lambda a: (a.ts, a.station or ""))
    got = [(a.station, a.status.value, a.level, a.ts.astimezone(HUE).strftime("%m-%d %H:%M"))
           for a in merged]
    assert got == [
        ("kimlong", "raised", 1, "11-02 11:30"), ("phuoc", "raised", 1, "11-02 13:20"),
        ("kimlong", "escalated", 2, "11-02 21:20"), ("phuoc", "escalated", 2, "11-03 00:50"),
        ("kimlong", "escalated", 3, "11-03 08:00"), ("phuoc", "escalated", 3, "11-03 12:00"),
        ("kimlong", "deescalated", 2, "11-03 14:00"), ("phuoc", "deescalated", 2, "11-03 14:50"),
        ("kimlong", "deescalated", 1, "11-04 03:30"), ("phuoc", "deescalated", 1, "11-04 03:30"),
        ("phuoc", "cleared", 0, "11-04 11:10"), ("kimlong", "cleared", 0, "11-04 11:30"),
    ]


@pytest.mark.parametrize("seed", range(40))
def test_random_sequences_match_flood_alarm(seed: int) -> None:
    """Random walks across every level and the dead-bands, with repeats, readings out of
    order and values exactly on levels and on level-minus-dead-band (gaps under the
    30 min no-data limit, so only level alerts are compared)."""
    rng = random.Random(seed)
    station = rng.choice(["kimlong", "phuoc"])
    marks = [1.0, 2.0, 3.5, 0.9, 1.9, 3.4] if station == "kimlong" else \
        [1.5, 3.0, 4.5, 1.4, 2.9, 4.4]
    ts, v = T0, rng.uniform(0.0, 5.0)
    samples = []
    for _ in range(300):
        r = rng.random()
        if r < 0.05 and samples:
            samples.append(samples[rng.randrange(len(samples))])  # replayed or older
            continue
        ts += timedelta(minutes=rng.choice([1, 5, 10, 15, 29]))
        v = rng.choice(marks) if r < 0.2 else min(5.5, max(0.0, v + rng.gauss(0, 0.3)))
        samples.append((ts, round(v, 2)))
    rules = load_rules()
    old = _flood_alarm_alerts(station, samples)
    new = _engine_alerts(rules, station, samples)
    assert len(old) >= 4  # the walk did cross levels
    _same(old, new)


@pytest.mark.parametrize(
    ("measure", "window_s", "labels", "values", "expected", "first_text"),
    [
        ("rain_total", 86400, {}, [40.0, 51.0, 100.0, 100.4, 90.0, 45.0],
         [("raised", 1, "medium"), ("escalated", 2, "high"), ("deescalated", 1, "medium"),
          ("cleared", 0, "informational")],
         "Huế city: 24 h rain 51.0 mm reached heavy rain (51.0 mm), +0.0 mm"),
        ("rain_total", 43200, {}, [25.0, 25.5, 60.0],
         [("raised", 1, "medium"), ("escalated", 2, "high")],
         "Huế city: 12 h rain 25.5 mm reached heavy rain (25.0 mm), +0.5 mm"),
        ("rain_total", 10800, {}, [100.0, 120.0], [("raised", 1, "high")],
         "Huế city: 3 h rain 120.0 mm reached intense rain (100.0 mm), +20.0 mm"),
        ("vn_aqi_hourly", 3600, {}, [100.0, 101.0, 160.0, 350.0, 290.0, 95.0],
         [("raised", 3, "low"), ("escalated", 4, "medium"), ("escalated", 6, "critical"),
          ("deescalated", 5, "high"), ("cleared", 0, "informational")],
         "Huế city: VN_AQI 101 reached poor (101), +0"),
        # three minutes in a row before a jam counts (readings every 10 min here)
        ("congestion_index", 60, {"lane": "2"}, [0.95, 0.95, 0.3],
         [("raised", 3, "high"), ("cleared", 0, "informational")],
         "Huế city [lane=2]: congestion index 0.95 reached jammed (0.90), +0.05"),
        ("rate_of_rise", 3600, {}, [0.35, 0.35, 0.35, 0.35, 0.7, 0.7, 0.7, 0.7, 0.15],
         [("raised", 1, "medium"), ("escalated", 2, "high"), ("cleared", 0, "informational")],
         "Huế city: water rising at 0.35 m/h reached fast rise (0.30 m/h), +0.05 m/h"),
    ],
)
def test_shipped_rules_behave(measure: str, window_s: int, labels: dict[str, str],
                              values: list[float], expected: list[tuple[str, int, str]],
                              first_text: str) -> None:
    alarm = alarm_of(load_rules(), "hue-city", measure, window_s, labels)
    out: list[Alert] = []
    for i, v in enumerate(values):
        out += alarm.update(T0 + i * STEP, v, site="hue", station="hue-city",
                            device="rain-hue-01", source_id=f"a{i}", location="Huế city")
    assert [(a.status.value, a.level, a.severity.value) for a in out] == expected
    assert out[0].description == first_text
