"""The rules file: the shipped rules load, and every mistake is named by file, line and key."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ioc.config import ConfigError
from ioc.contract import Severity
from stream.config import load_config
from stream.rules_config import MEASURES, RuleSet, default_rules_path, load_rules

BASE = """\
version: 1
rules:
  - name: flood
    match: {measure: water_level}
    category: weather
    subcategory: flood
    unit: m
    levels:
      - {level: 1, name: "I", severity: medium}
      - {level: 2, name: "II", severity: high}
      - {level: 3, name: "III", severity: critical}
    deadband: 0.1
    stations:
      kimlong: {thresholds: [1.0, 2.0, 3.5]}
  - name: aqi
    match:
      measure: vn_aqi_hourly
    category: environment
    subcategory: air_quality
    unit: ""
    levels:
      - level: 3
        name: poor
        severity: low
        at_least: 101
      - level: 4
        name: bad
        severity: medium
        at_least: 151
"""


def test_base_is_valid() -> None:
    rules = load_rules("rules.yaml", text=BASE)
    (flood,) = rules.rules_for("water_level", "kimlong")
    assert flood.thresholds == (1.0, 2.0, 3.5)
    assert flood.holds == (1.0 - 0.1, 2.0 - 0.1, 3.5 - 0.1)
    assert rules.rules_for("water_level", "phuoc") == ()  # no thresholds for it: no rule
    assert rules.rules_for("pm25", "kimlong") == ()
    assert [lv.number for lv in rules.rules_for("vn_aqi_hourly", "any")[0].levels] == [3, 4]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # levels not increasing: the entry that is wrong, its line, its key
        ("        at_least: 151", "        at_least: 100",
         "rules.yaml:29: rules.1.levels.1.at_least: 100.0: thresholds must increase"
         " (previous entry 'poor' is 101.0)"),
        ("      - level: 4", "      - level: 3",
         "rules.yaml:26: rules.1.levels.1.level: 3: level numbers must increase"),
        ("kimlong: {thresholds: [1.0, 2.0, 3.5]}", "kimlong: {thresholds: [1.0, 3.5, 2.0]}",
         "rules.yaml:14: rules.0.stations.kimlong.thresholds.2: 2.0: threshold must be above"
         " the previous one (3.5)"),
        ("kimlong: {thresholds: [1.0, 2.0, 3.5]}", "kimlong: {thresholds: [1.0, 2.0]}",
         "rules.yaml:14: rules.0.stations.kimlong.thresholds: [1.0, 2.0]: expected 3"
         " thresholds, one per level"),
        # unknown severity
        ('name: "II", severity: high}', 'name: "II", severity: severe}',
         "rules.yaml:10: rules.0.levels.1.severity: 'severe': Input should be 'informational',"
         " 'low', 'medium', 'high' or 'critical'"),
        # severity falling with the level
        ('name: "III", severity: critical}', 'name: "III", severity: low}',
         "rules.yaml:11: rules.0.levels.2.severity: 'low': severity must not fall with the"
         " level (previous entry 'II' is high)"),
        # a typo in a key
        ("    deadband: 0.1", "    deadbnad: 0.1",
         "rules.yaml:12: rules.0.deadbnad: 0.1: unknown key (a typo?)"),
        ("        at_least: 101", "        atleast: 101",
         "rules.yaml:25: rules.1.levels.0.atleast: 101: unknown key (a typo?)"),
        # a bad measure
        ("      measure: vn_aqi_hourly", "      measure: vn_aqi_hourley",
         "rules.yaml:17: rules.1.match.measure: 'vn_aqi_hourley': unknown measure (known: "),
        # a unit that is not the measure's
        ("    unit: m\n", "    unit: cm\n",
         "rules.yaml:7: rules.0.unit: 'cm': water_level is measured in 'm'"),
        ("        at_least: 101", "        at_least: 101\n        above: 100",
         "rules.yaml:22: rules.1.levels.0: {...}: give at_least or above, not both"),
        # a station that is matched but has no thresholds
        ("match: {measure: water_level}", "match: {measure: water_level, stations: [phuoc]}",
         "rules.yaml:4: rules.0.match.stations: 'phuoc': station has no thresholds"),
        ("    category: environment", "    category: pollution",
         "rules.yaml:18: rules.1.category: 'pollution': Input should be"),
        ("  - name: aqi", "  - name: flood",
         "rules.yaml:15: rules.1.name: 'flood': rule name already used by rules.0"),
        ("    deadband: 0.1", "    deadband: -0.1",
         "rules.yaml:12: rules.0.deadband: -0.1: Input should be greater than or equal to 0"),
        ("match: {measure: water_level}", "match: {measure: rain_total, labels: {window: 1h}}",
         "rules.yaml:4: rules.0.match.labels.window: '1h': match the window length with"
         " window_s"),
        # YAML's .nan and .inf: a level no reading reaches, an alert that never clears
        ("kimlong: {thresholds: [1.0, 2.0, 3.5]}", "kimlong: {thresholds: [1.0, .nan, 3.5]}",
         "rules.yaml:14: rules.0.stations.kimlong.thresholds.1: nan: Input should be a finite"),
        ("    deadband: 0.1", "    deadband: .inf",
         "rules.yaml:12: rules.0.deadband: inf: Input should be a finite number"),
        # a key given twice: YAML keeps the last one without a word
        ("    deadband: 0.1", "    deadband: 0.1\n    deadband: 50",
         "rules.yaml:13: rules.0.deadband: key given twice (first at line 12): remove one"),
    ],
)
def test_config_errors_name_file_line_and_key(old: str, new: str, expected: str) -> None:
    """``expected`` is the start of one problem's line ("..." skips a long value)."""
    assert old in BASE
    with pytest.raises(ConfigError) as info:
        load_rules("rules.yaml", text=BASE.replace(old, new, 1))
    head, _, tail = expected.partition("...")
    assert any(str(p).startswith(head) and tail in str(p)
               for p in info.value.problems), str(info.value)


def test_several_problems_are_reported_together() -> None:
    text = BASE.replace("    deadband: 0.1", "    deadbnad: 0.1").replace(
        "        at_least: 151", "        at_least: 100")
    with pytest.raises(ConfigError) as info:
        load_rules("rules.yaml", text=text)
    assert [p.path for p in info.value.problems] == ["rules.0.deadbnad",
                                                     "rules.1.levels.1.at_least"]


def test_mixed_thresholds_are_refused() -> None:
    text = BASE.replace('{level: 2, name: "II", severity: high}',
                        '{level: 2, name: "II", severity: high, at_least: 2.0}')
    with pytest.raises(ConfigError, match=r"rules\.yaml:9: rules\.0\.levels\.0: 'I': every level"):
        load_rules("rules.yaml", text=text)


@pytest.mark.parametrize("offset", ["+24:00", "+99:99", "-14:30", "+07:60"])
def test_a_utc_offset_that_is_none_is_a_config_error(offset: str) -> None:
    with pytest.raises(ConfigError, match=rf"rules\.yaml:1: utc_offset: '\{offset}': not a UTC"):
        load_rules("rules.yaml", text=f"utc_offset: '{offset}'\n" + BASE)
    assert load_rules("rules.yaml", text="utc_offset: '-14:00'\n" + BASE).tz is not None


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "version: 1\nrules: []\n"])
def test_a_file_without_rules_is_refused(text: str) -> None:
    """An empty or truncated rules file would silence every alarm."""
    with pytest.raises(ConfigError, match="no rules: the stream would raise no alert"):
        load_rules("rules.yaml", text=text)


def test_stations_are_checked_against_the_streams_stations() -> None:
    """A typo in a station name turned that river's alarm off without a word."""
    typo = BASE.replace("kimlong: {thresholds", "kimlog: {thresholds")
    with pytest.raises(ConfigError) as info:
        load_rules("rules.yaml", text=typo, stations={"kimlong", "phuoc"})
    assert str(info.value) == ("rules.yaml:14: rules.0.stations.kimlog: 'kimlog': no such"
                               " station in the stream config's stations; did you mean"
                               " 'kimlong'?")
    matched = BASE.replace("match: {measure: water_level}",
                           "match: {measure: water_level, stations: [kimlong, phuco]}")
    with pytest.raises(ConfigError, match=r"rules\.0\.match\.stations\.1: 'phuco': no such"):
        load_rules("rules.yaml", text=matched, stations={"kimlong", "phuoc"})
    load_rules("rules.yaml", text=typo)  # without the stream's stations: not checked
    load_rules(stations=load_config().stations)  # the shipped rules and config agree


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_shipped_rules() -> None:
    rules = load_rules()
    assert default_rules_path().name == "rules.yaml"
    # Decision 05/2020/QĐ-TTg (Phú Ốc's level I unverified), dead-band as before
    for station, levels in (("kimlong", (1.0, 2.0, 3.5)), ("phuoc", (1.5, 3.0, 4.5))):
        (flood,) = rules.rules_for("water_level", station)
        assert (flood.thresholds, flood.deadband) == (levels, 0.1)
        assert flood.no_data_after is not None
        assert flood.no_data_after.total_seconds() == 1800
        assert [lv.severity for lv in flood.levels] == [Severity.MEDIUM, Severity.HIGH,
                                                        Severity.CRITICAL]
    assert rules.rules_for("water_level", "hue-city") == ()  # a rain gauge has no levels
    (day,) = rules.rules_for("rain_total", "aluoi", 86400)
    assert [(lv.name, lv.threshold, lv.inclusive) for lv in day.levels] == [
        ("heavy rain", 51.0, True), ("very heavy rain", 100.0, False)]
    assert [r.name for r in rules.rules_for("rain_total", "aluoi", 43200)] == ["rain-12h"]
    assert [r.name for r in rules.rules_for("rain_total", "aluoi", 10800)] == ["rain-3h"]
    assert rules.rules_for("rain_total", "aluoi", 3600) == ()
    (aqi,) = rules.rules_for("vn_aqi_hourly", "hue-air")
    assert [(lv.name, lv.threshold) for lv in aqi.levels] == [
        ("poor", 101), ("bad", 151), ("very bad", 201), ("hazardous", 301)]
    (jam,) = rules.rules_for("congestion_index", "cam-01", 60, {"lane": "1"})
    assert jam.audience == "traffic"
    (rise,) = rules.rules_for("rate_of_rise", "kimlong", 3600)
    assert rise.min_duration is not None
    assert rise.subcategory == "rising_water"
    assert rules.measures <= set(MEASURES)


def test_ruleset_pickles() -> None:
    rules = load_rules()
    again = pickle.loads(pickle.dumps(rules))
    assert isinstance(again, RuleSet)
    assert again.rules_for("water_level", "kimlong") == rules.rules_for("water_level", "kimlong")
