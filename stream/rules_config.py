"""The alert rules file (``stream/rules.yaml``): its typed schema and its compiled form.

A rule says which series it watches (a measure, optionally some stations, a window
length and label equalities), what its alerts are (FIWARE category, subcategory,
unit, audience) and its levels: increasing thresholds, each with a number, a name
and a severity. Stations may override the thresholds (a river gauge's alarm levels
are its own). A level is reached by a value ``at_least`` its threshold (a value
equal to it counts) or strictly ``above`` it (rain "very heavy" is > 100 mm).

Loading goes through :func:`ioc.config.load_yaml_model`, so every problem,
including the cross-checks below (levels that do not increase, severities that fall,
overrides with the wrong number of thresholds), is reported as
``file:line: key.path: value: what is wrong`` pointing at the offending entry.

:class:`RuleSet` is the compiled, immutable form: a dict from measure to rules, and
per rule one :class:`Rule` per station override, so the engine never looks anything
up per reading.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ioc.config import StrictModel, fail_at, load_yaml_model
from ioc.contract import QUANTITIES, Severity

#: Measures a rule may watch, with their unit: the sensor quantities of the wire
#: contract, and the aggregates the stream computes. A rule's ``unit`` must match.
MEASURES: Final[dict[str, str]] = {
    **{name: spec.unit for name, spec in QUANTITIES.items()},
    "rain_total": "mm",
    "rate_of_rise": "m/h",
    "vn_aqi_hourly": "",
    "vn_aqi_daily": "",
    "nowcast_pm25": "ug/m3",
    "nowcast_pm10": "ug/m3",
    "congestion_index": "",
}
SEVERITY_RANK: Final[dict[Severity, int]] = {s: i for i, s in enumerate(Severity)}

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
LabelKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Category = Literal["weather", "environment", "traffic", "security", "health", "agriculture"]
Audience = Literal["operator", "police", "traffic", "technician"]


class LevelSpec(StrictModel):
    """One level of a rule: reached by a value ``at_least`` (>=) or ``above`` (>) a threshold.
    Without either, every station the rule watches gives its thresholds."""

    level: int = Field(ge=1, le=10)
    name: str = Field(min_length=1, max_length=32)
    severity: Severity
    at_least: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> LevelSpec:
        if self.at_least is not None and self.above is not None:
            raise ValueError("give at_least or above, not both")
        return self

    @property
    def threshold(self) -> float | None:
        return self.at_least if self.above is None else self.above


class StationOverride(StrictModel):
    """A station's own thresholds (one per level, same order) and dead-band."""

    thresholds: list[float] = Field(min_length=1)
    deadband: float | None = Field(default=None, ge=0)


class MatchSpec(StrictModel):
    """Which series a rule watches. Empty ``stations``/``labels`` match any."""

    measure: str
    stations: list[Slug] | None = Field(default=None, min_length=1)
    window_s: int | None = Field(default=None, ge=0)
    labels: dict[LabelKey, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> MatchSpec:
        problems: list[tuple[tuple[str | int, ...], Any, str]] = []
        if self.measure not in MEASURES:
            problems.append((("measure",), self.measure,
                             f"unknown measure (known: {', '.join(sorted(MEASURES))})"))
        if "window" in self.labels:
            problems.append((("labels", "window"), self.labels["window"],
                             "match the window length with window_s: <seconds>"))
        fail_at(problems, "MatchSpec")
        return self


class RuleSpec(StrictModel):
    """One alert rule as written in the rules file."""

    name: Slug
    match: MatchSpec
    category: Category
    subcategory: Slug
    unit: str = Field(max_length=16)
    what: str = Field(default="", max_length=64)  # the value's noun in descriptions
    level_word: str = Field(default="", max_length=32)  # "alarm level" III
    audience: Audience = "operator"
    decimals: int = Field(default=2, ge=0, le=6)
    levels: list[LevelSpec] = Field(min_length=1, max_length=10)
    deadband: float = Field(default=0.0, ge=0)
    min_duration_s: int = Field(default=0, ge=0, le=7 * 86400)
    no_data_after_s: int | None = Field(default=None, gt=0, le=7 * 86400)
    no_data_severity: Severity = Severity.MEDIUM
    stations: dict[Slug, StationOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> RuleSpec:
        problems: list[tuple[tuple[str | int, ...], Any, str]] = []
        known = (info.context or {}).get("stations")
        if known is not None:  # a station the stream does not know: a typo silences it
            for i, station in enumerate(self.match.stations or ()):
                if station not in known:
                    problems.append((("match", "stations", i), station, _unknown(station, known)))
            for station in self.stations:
                if station not in known:
                    problems.append((("stations", station), station, _unknown(station, known)))
        expected_unit = MEASURES.get(self.match.measure)
        if expected_unit is not None and self.unit != expected_unit:
            problems.append((("unit",), self.unit,
                             f"{self.match.measure} is measured in {expected_unit!r}"))
        problems += _levels_problems(self.levels)
        given = [lv.threshold is not None for lv in self.levels]
        if any(given) and not all(given):
            i = given.index(False)
            problems.append((("levels", i), self.levels[i].name,
                             "every level needs at_least/above, or none (stations give them)"))
        if not any(given):
            if not self.stations:
                problems.append((("levels",), len(self.levels),
                                 "levels without thresholds need per-station thresholds"
                                 " under stations"))
            for station in self.match.stations or ():
                if station not in self.stations:
                    problems.append((("match", "stations"), station,
                                     "station has no thresholds under stations"))
        for station, override in self.stations.items():
            loc: tuple[str | int, ...] = ("stations", station, "thresholds")
            if self.match.stations is not None and station not in self.match.stations:
                problems.append((("stations", station), station,
                                 "station is not in match.stations"))
            if len(override.thresholds) != len(self.levels):
                problems.append((loc, override.thresholds,
                                 f"expected {len(self.levels)} thresholds, one per level"))
            for i in range(1, len(override.thresholds)):
                if override.thresholds[i] <= override.thresholds[i - 1]:
                    problems.append(((*loc, i), override.thresholds[i],
                                     f"threshold must be above the previous one"
                                     f" ({override.thresholds[i - 1]})"))
        fail_at(problems, "RuleSpec")
        return self


def _unknown(station: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(station, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"no such station in the stream config's stations{hint}"


def _levels_problems(levels: list[LevelSpec]) -> list[tuple[tuple[str | int, ...], Any, str]]:
    """Levels must increase in number and threshold, and severity must not fall."""
    problems: list[tuple[tuple[str | int, ...], Any, str]] = []
    for i in range(1, len(levels)):
        prev, cur = levels[i - 1], levels[i]
        if cur.level <= prev.level:
            problems.append((("levels", i, "level"), cur.level,
                             f"level numbers must increase (previous entry is {prev.level})"))
        if (cur.threshold is not None and prev.threshold is not None
                and cur.threshold <= prev.threshold):
            key = "at_least" if cur.above is None else "above"
            problems.append((("levels", i, key), cur.threshold,
                             f"thresholds must increase (previous entry {prev.name!r}"
                             f" is {prev.threshold})"))
        if SEVERITY_RANK[cur.severity] < SEVERITY_RANK[prev.severity]:
            problems.append((("levels", i, "severity"), cur.severity.value,
                             f"severity must not fall with the level (previous entry"
                             f" {prev.name!r} is {prev.severity.value})"))
    return problems


class RulesFile(StrictModel):
    """The whole rules file."""

    version: Literal[1] = 1
    utc_offset: str = Field(default="+07:00", pattern=r"^[+-]\d{2}:\d{2}$")
    rules: list[RuleSpec] = Field(default_factory=list)

    @field_validator("utc_offset")
    @classmethod
    def _offset(cls, value: str) -> str:
        hh, mm = int(value[1:3]), int(value[4:6])
        if hh > 14 or mm > 59 or (hh == 14 and mm):
            raise ValueError("not a UTC offset (they run from -14:00 to +14:00)")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> RulesFile:
        seen: dict[str, int] = {}
        problems: list[tuple[tuple[str | int, ...], Any, str]] = []
        if not self.rules:  # an empty or truncated file would silence every alarm
            problems.append((("rules",), [], "no rules: the stream would raise no alert"))
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                problems.append((("rules", i, "name"), rule.name,
                                 f"rule name already used by rules.{seen[rule.name]}"))
            seen.setdefault(rule.name, i)
        fail_at(problems, "RulesFile")
        return self


# --------------------------------------------------------------------------- compiled


@dataclass(frozen=True, slots=True)
class Level:
    """A compiled level: its number, name, severity and the threshold for one station."""

    number: int
    name: str
    severity: Severity
    threshold: float
    inclusive: bool  # True: at_least (>=); False: above (>)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule compiled for one station (or for every station without an override).

    ``thresholds``/``inclusive``/``holds`` are flat tuples so the engine compares floats
    without touching the :class:`Level` objects; ``holds[i]`` is level i's threshold
    minus the dead-band, below which the level is left."""

    name: str
    measure: str
    category: str
    subcategory: str
    unit: str
    what: str
    level_word: str
    audience: str
    decimals: int
    levels: tuple[Level, ...]
    thresholds: tuple[float, ...]
    inclusive: tuple[bool, ...]
    holds: tuple[float, ...]
    deadband: float
    min_duration: timedelta | None
    no_data_after: timedelta | None
    no_data_severity: Severity


def _compile(spec: RuleSpec, override: StationOverride | None) -> Rule:
    thresholds = tuple(override.thresholds) if override else tuple(
        float(lv.threshold) for lv in spec.levels if lv.threshold is not None)
    deadband = spec.deadband if override is None or override.deadband is None \
        else override.deadband
    levels = tuple(Level(lv.level, lv.name, lv.severity, t, lv.above is None)
                   for lv, t in zip(spec.levels, thresholds, strict=True))
    return Rule(
        name=spec.name, measure=spec.match.measure, category=spec.category,
        subcategory=spec.subcategory, unit=spec.unit, what=spec.what,
        level_word=spec.level_word, audience=spec.audience, decimals=spec.decimals,
        levels=levels, thresholds=thresholds,
        inclusive=tuple(lv.inclusive for lv in levels),
        holds=tuple(t - deadband for t in thresholds), deadband=deadband,
        min_duration=timedelta(seconds=spec.min_duration_s) if spec.min_duration_s else None,
        no_data_after=(timedelta(seconds=spec.no_data_after_s)
                       if spec.no_data_after_s else None),
        no_data_severity=spec.no_data_severity,
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    stations: frozenset[str] | None
    window_s: int | None
    labels: tuple[tuple[str, str], ...]
    default: Rule | None  # None when every station must give its thresholds
    by_station: Mapping[str, Rule]

    def rule_for(self, station: str, window_s: int, labels: Mapping[str, str]) -> Rule | None:
        if self.stations is not None and station not in self.stations:
            return None
        if self.window_s is not None and window_s != self.window_s:
            return None
        if any(labels.get(k) != v for k, v in self.labels):
            return None
        return self.by_station.get(station, self.default)


_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class RuleSet:
    """The compiled rules: immutable, looked up by measure once per new series."""

    __slots__ = ("_by_measure", "spec", "tz")

    def __init__(self, spec: RulesFile) -> None:
        self.spec = spec
        sign, hh, mm = _OFFSET.match(spec.utc_offset).groups()  # type: ignore[union-attr]
        offset = timedelta(hours=int(hh), minutes=int(mm))
        self.tz = timezone(-offset if sign == "-" else offset)
        by_measure: dict[str, list[_Entry]] = {}
        for rs in spec.rules:
            complete = all(lv.threshold is not None for lv in rs.levels)
            by_measure.setdefault(rs.match.measure, []).append(_Entry(
                stations=frozenset(rs.match.stations) if rs.match.stations else None,
                window_s=rs.match.window_s,
                labels=tuple(sorted(rs.match.labels.items())),
                default=_compile(rs, None) if complete else None,
                by_station={s: _compile(rs, o) for s, o in rs.stations.items()},
            ))
        self._by_measure = {m: tuple(e) for m, e in by_measure.items()}

    def rules_for(self, measure: str, station: str, window_s: int = 0,
                  labels: Mapping[str, str] | None = None) -> tuple[Rule, ...]:
        """Every rule that watches this series (in file order); empty when none does."""
        entries = self._by_measure.get(measure)
        if not entries:
            return ()
        found = (e.rule_for(station, window_s, labels or {}) for e in entries)
        return tuple(r for r in found if r is not None)

    @property
    def measures(self) -> frozenset[str]:
        """Measures at least one rule watches (the flow can skip the others)."""
        return frozenset(self._by_measure)

    def __getstate__(self) -> RulesFile:
        return self.spec

    def __setstate__(self, spec: RulesFile) -> None:
        self.__init__(spec)  # type: ignore[misc]


def default_rules_path() -> Path:
    """The shipped rules for Hue."""
    return Path(str(resources.files("stream") / "rules.yaml"))


def load_rules(path: Path | str | None = None, *, text: str | None = None,
               stations: Collection[str] | None = None) -> RuleSet:
    """Load and compile a rules file (the shipped one when ``path`` is None); raises
    :class:`ioc.config.ConfigError` naming file, line, key path and value of each problem.
    ``stations``: the stations the stream knows; a rule naming another is refused."""
    context = {"stations": frozenset(stations)} if stations is not None else None
    return RuleSet(load_yaml_model(RulesFile, path or default_rules_path(), text=text,
                                   context=context))
