"""The alert engine: multi-level thresholds with dead-band, minimum duration and no-data.

One :class:`SeriesAlarm` watches one series (a station's measure, with its window
length and labels) under every rule that matches it (see :mod:`stream.rules_config`).
For each rule it is a small state machine in event time, the generalisation of the
river alarm that ``stream/flood.py`` hard-codes:

* reaching a level (``at_least``: a value equal to it counts; ``above``: strictly)
  raises the alert, or escalates it when a lower level was raised; a jump over several
  levels is one change, at the highest level reached;
* the alert steps down only when the value falls below a level minus the dead-band,
  and clears below level I's; a value hovering around a level gives one alert;
* with ``min_duration_s`` a level counts only once every reading for that long has
  reached it: a brief spike raises nothing, a sustained one raises at the reading that
  completes the duration (``since`` is when the run began);
* with ``no_data_after_s`` a silent series raises a separate ``no_data`` alert at
  ``last reading + N`` (found by :meth:`SeriesAlarm.tick` with the watermark, or by the
  next reading after the gap), cleared by the next reading.

Every alert has a stable ``alert_id`` (site, station, rule, series, start of the
episode) and every change a stable ``id`` (alert id, status, level, time), so the
same input gives byte-identical alerts whenever it is replayed, and readings at or
before the last one processed change nothing. State is plain picklable Python: it
lives in Bytewax ``stateful_map`` state and recovery snapshots.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ioc.contract import Aggregate, Alert, AlertStatus, SensorReading, Severity, stable_id
from stream.rules_config import SEVERITY_RANK, Rule, RuleSet

logger = logging.getLogger(__name__)

SeriesKey = tuple[str, int, tuple[tuple[str, str], ...]]


@dataclass(slots=True)
class _Track:
    """State of one rule on one series."""

    rule: Rule
    level: int = 0  # 0: no alert; i: rule.levels[i - 1]
    alert_id: str | None = None
    since: datetime | None = None
    peak: float = 0.0
    run_start: list[datetime | None] | None = None  # per level, with min_duration
    due: list[datetime | None] | None = None  # run_start + min_duration
    nodata_id: str | None = None
    nodata_since: datetime | None = None


def _sustained(tr: _Track, ts: datetime, value: float) -> int:
    """Highest level every reading for ``min_duration`` has reached (runs reset below)."""
    rule = tr.rule
    runs, due = tr.run_start, tr.due
    assert runs is not None
    assert due is not None
    assert rule.min_duration is not None
    best = 0
    for i, t in enumerate(rule.thresholds):
        if value > t or (value == t and rule.inclusive[i]):
            if runs[i] is None:
                runs[i] = ts
                due[i] = ts + rule.min_duration
            if ts >= due[i]:  # type: ignore[operator]
                best = i + 1
        else:
            for j in range(i, len(runs)):  # levels are nested: none above is reached
                runs[j] = due[j] = None
            break
    return best


def _reached(rule: Rule, value: float) -> int:
    thresholds, inclusive = rule.thresholds, rule.inclusive
    for i in range(len(thresholds) - 1, -1, -1):
        t = thresholds[i]
        if value > t or (value == t and inclusive[i]):
            return i + 1
    return 0


@dataclass(slots=True)
class SeriesAlarm:
    """Alarm state of one series under the rules that watch it (picklable)."""

    tracks: tuple[_Track, ...]
    series: str = ""  # window and labels, for ids ("" for a plain reading)
    labels: str = ""  # labels, for descriptions
    tz: timezone | None = None  # for times in descriptions
    last_ts: datetime | None = None
    #: ids of the readings processed at ``last_ts``: a second reading at the same instant
    #: (another id) is processed, a re-delivered one (an id seen) is not
    ids_at_last: list[str] = field(default_factory=list)
    site: str = ""
    station: str = ""
    device: str = ""
    source_id: str | None = None
    location: str = ""

    @classmethod
    def for_series(cls, rules: RuleSet, measure: str, station: str, window_s: int = 0,
                   labels: Mapping[str, str] | None = None) -> SeriesAlarm | None:
        """The alarm of a series, or None when no rule watches it."""
        found = rules.rules_for(measure, station, window_s, labels)
        if not found:
            return None
        named = [f"{k}={v}" for k, v in sorted((labels or {}).items())]
        parts = [f"{window_s}s", *named] if window_s else named
        tracks = tuple(
            _Track(r, run_start=[None] * len(r.levels) if r.min_duration else None,
                   due=[None] * len(r.levels) if r.min_duration else None)
            for r in found)
        return cls(tracks, ",".join(parts), " ".join(named), rules.tz)

    def update(self, ts: datetime, value: float, *, site: str, station: str, device: str,
               source_id: str | None, location: str = "",
               rate_of_rise: float | None = None) -> list[Alert]:
        """Feed one reading; return the alert changes it causes (usually none)."""
        out: list[Alert] = []
        last = self.last_ts
        if last is not None and (ts < last or (ts == last and (
                source_id is None or source_id in self.ids_at_last))):
            return out
        if ts == last:
            self.ids_at_last.append(source_id)  # type: ignore[arg-type]
        else:
            self.ids_at_last = [source_id] if source_id is not None else []
        if last is not None:  # a gap no tick saw: raise it now, as a tick would have
            for tr in self.tracks:
                after = tr.rule.no_data_after
                if after is not None and tr.nodata_id is None and ts - last >= after:
                    out.append(self._nodata_raise(tr, last))
        self.last_ts = ts
        self.site, self.station, self.device = site, station, device
        self.source_id, self.location = source_id, location
        for tr in self.tracks:
            rule = tr.rule
            if tr.nodata_id is not None:
                out.append(self._nodata(tr, AlertStatus.CLEARED, ts, value))
            level = tr.level
            if tr.run_start is None:
                if level == 0 and value < rule.thresholds[0]:
                    continue  # the quiet path: nothing reached, nothing open
                reached = _reached(rule, value)
            else:
                if level == 0 and value < rule.thresholds[0] and tr.run_start[0] is None:
                    continue
                reached = _sustained(tr, ts, value)
            if reached > level:
                if level == 0:
                    tr.since = ts if tr.run_start is None else tr.run_start[reached - 1]
                    tr.alert_id = self._id(rule.name, tr.since.isoformat())
                    tr.peak = value
                    status = AlertStatus.RAISED
                else:
                    status = AlertStatus.ESCALATED
                tr.level = reached
            elif level > 0:
                if value > tr.peak:
                    tr.peak = value
                holds = rule.holds
                held = level
                while held > 0 and value < holds[held - 1]:
                    held -= 1
                if held == level:
                    continue
                status = AlertStatus.CLEARED if held == 0 else AlertStatus.DEESCALATED
                tr.level = held
            else:
                continue
            if value > tr.peak:
                tr.peak = value
            out.append(self._level_alert(tr, status, level, ts, value, rate_of_rise))
        return out

    def tick(self, watermark: datetime) -> list[Alert]:
        """Raise ``no_data`` for rules whose series has been silent for their limit by the
        watermark (event time). The alert's time is the last reading plus the limit, so it
        is the same whenever the tick comes."""
        out: list[Alert] = []
        last = self.last_ts
        if last is None:
            return out
        for tr in self.tracks:
            after = tr.rule.no_data_after
            if after is not None and tr.nodata_id is None and watermark - last >= after:
                out.append(self._nodata_raise(tr, last))
        return out

    # ------------------------------------------------------------------ alert building

    def _id(self, *parts: str) -> str:
        """Identity of an alert: site, station, rule, series (when it has labels or a
        window) and what starts the episode. A plain reading's flood alert has the same
        id as ``stream.flood.FloodAlarm`` gave it."""
        if self.series:
            return stable_id(self.site, self.station, parts[0], self.series, *parts[1:])
        return stable_id(self.site, self.station, *parts)

    def _where(self) -> str:
        name = self.location or self.station
        return f"{name} [{self.labels}]" if self.labels else name

    def _fmt(self, rule: Rule, x: float) -> str:
        unit = f" {rule.unit}" if rule.unit else ""
        return f"{x:.{rule.decimals}f}{unit}"

    def _level_alert(self, tr: _Track, status: AlertStatus, before: int, ts: datetime,
                     value: float, rate: float | None) -> Alert:
        rule = tr.rule
        assert tr.alert_id is not None
        assert tr.since is not None
        alert_id, since = tr.alert_id, tr.since
        what = f"{rule.what} " if rule.what else ""
        word = f"{rule.level_word} " if rule.level_word else ""
        head = f"{self._where()}: {what}{self._fmt(rule, value)}"
        if status is AlertStatus.CLEARED:
            threshold = rule.holds[0]
            first = rule.levels[0]
            text = (f"{head} fell below {word}{first.name} minus dead-band"
                    f" ({self._fmt(rule, threshold)}); peak {self._fmt(rule, tr.peak)}")
            severity = Severity.INFORMATIONAL
            number = 0
            tr.alert_id = tr.since = None
        else:
            lv = rule.levels[tr.level - 1]
            threshold, severity, number = lv.threshold, lv.severity, lv.number
            over = value - threshold
            if status is AlertStatus.DEESCALATED:
                left = rule.levels[before - 1]
                text = (f"{head} fell below {word}{left.name} minus dead-band"
                        f" ({self._fmt(rule, rule.holds[before - 1])}); now {word}{lv.name}"
                        f" ({self._fmt(rule, threshold)})")
            else:
                text = (f"{head} reached {word}{lv.name} ({self._fmt(rule, threshold)}),"
                        f" {'+' if over >= 0 else '-'}{self._fmt(rule, abs(over))}")
        if rate is not None:
            per_hour = f" {rule.unit}/h" if rule.unit else "/h"
            text += f", {'rising' if rate >= 0 else 'falling'} {abs(rate):.2f}{per_hour}"
        return Alert(
            id=stable_id(alert_id, status.value, number, ts.isoformat()),
            site=self.site, device=self.device, ts=ts, alert_id=alert_id, status=status,
            category=rule.category,  # type: ignore[arg-type]
            subcategory=rule.subcategory, severity=severity, station=self.station,
            location=self.location, level=number, value=value, threshold=threshold,
            rate_of_rise=rate, unit=rule.unit, since=since, reading_id=self.source_id,
            description=text, audience=rule.audience,  # type: ignore[arg-type]
        )

    def _nodata_raise(self, tr: _Track, last: datetime) -> Alert:
        rule = tr.rule
        assert rule.no_data_after is not None
        tr.nodata_since = last
        tr.nodata_id = self._id(rule.name, "no_data", last.isoformat())
        return self._nodata(tr, AlertStatus.RAISED, last + rule.no_data_after, None)

    def _nodata(self, tr: _Track, status: AlertStatus, ts: datetime,
                value: float | None) -> Alert:
        rule = tr.rule
        alert_id, since = tr.nodata_id, tr.nodata_since
        assert alert_id is not None
        assert since is not None
        local = since.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if self.tz else \
            since.isoformat()
        minutes = (ts - since).total_seconds() / 60
        what = rule.what or rule.measure
        severity = rule.no_data_severity
        if status is AlertStatus.RAISED:
            if tr.level > 0:  # a silent gauge during an alarm is as grave as the alarm
                open_severity = rule.levels[tr.level - 1].severity
                if SEVERITY_RANK[open_severity] > SEVERITY_RANK[severity]:
                    severity = open_severity
            text = f"{self._where()}: no {what} data for {minutes:.0f} min (last at {local})"
            if tr.level > 0:
                word = f"{rule.level_word} " if rule.level_word else ""
                text += f" while at {word}{rule.levels[tr.level - 1].name}"
        else:
            severity = Severity.INFORMATIONAL
            text = (f"{self._where()}: {what} data back after {minutes:.0f} min"
                    f" of silence (last at {local})")
            tr.nodata_id = tr.nodata_since = None
        return Alert(
            id=stable_id(alert_id, status.value, 0, ts.isoformat()),
            site=self.site, device=self.device, ts=ts, alert_id=alert_id, status=status,
            category=rule.category,  # type: ignore[arg-type]
            subcategory="no_data", severity=severity, station=self.station,
            location=self.location, level=0, value=value, unit=rule.unit, since=since,
            reading_id=self.source_id, description=text,
            audience=rule.audience,  # type: ignore[arg-type]
        )


@dataclass(slots=True)
class StationAlarms:
    """Every series alarm of one station: the state a keyed ``stateful_map`` keeps.

    Series no rule watches are remembered as None, so the rules are searched once
    per series, not per reading."""

    series: dict[str | SeriesKey, SeriesAlarm | None] = field(default_factory=dict)

    def _alarm(self, rules: RuleSet, key: str | SeriesKey, measure: str, station: str,
               window_s: int, labels: Mapping[str, str] | None) -> SeriesAlarm | None:
        try:
            return self.series[key]
        except KeyError:
            alarm = SeriesAlarm.for_series(rules, measure, station, window_s, labels)
            self.series[key] = alarm
            return alarm

    def on_reading(self, rules: RuleSet, reading: SensorReading, *, location: str = "",
                   rate_of_rise: float | None = None) -> list[Alert]:
        """Alerts caused by a sensor reading (series: its quantity)."""
        station = reading.station_id
        alarm = self._alarm(rules, reading.quantity, reading.quantity, station, 0, None)
        if alarm is None:
            return []
        return alarm.update(reading.ts, reading.value, site=reading.site, station=station,
                            device=reading.device, source_id=reading.id, location=location,
                            rate_of_rise=rate_of_rise)

    def on_aggregate(self, rules: RuleSet, agg: Aggregate, *, location: str = "") -> list[Alert]:
        """Alerts caused by an aggregate (series: measure, window length and labels)."""
        key: str | SeriesKey = (agg.measure, agg.window_s, tuple(sorted(agg.labels.items())))
        alarm = self._alarm(rules, key, agg.measure, agg.station, agg.window_s, agg.labels)
        if alarm is None:
            return []
        return alarm.update(agg.ts, agg.value, site=agg.site, station=agg.station,
                            device=agg.device, source_id=agg.id, location=location)

    def tick(self, watermark: datetime) -> list[Alert]:
        """``no_data`` alerts of every series silent too long by the watermark."""
        out: list[Alert] = []
        for alarm in self.series.values():
            if alarm is not None:
                out.extend(alarm.tick(watermark))
        return out
