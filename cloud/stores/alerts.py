"""The operators' alert board: each alert's latest state and what operators did about it.

The stream sends state changes (raised, escalated, de-escalated, cleared) grouped
by ``alert_id``; :meth:`EventStore.put` keeps every change in ``alert_changes`` and
the latest in ``alert_state``. Operators acknowledge, assign, comment and clear.
Each action is a row in ``operator_actions`` and stamps ``alert_state`` with the
*stored sequence number* of the change it saw, so "acknowledged" means "nothing
new since": an escalation after the acknowledgement makes the alert open again,
without comparing the stream's event time with the operator's wall clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from cloud.stores.db import Database, Row
from cloud.stores.errors import ConflictError, NotFoundError
from cloud.stores.times import from_ns, now_ns, opt_from_ns

ConsoleState = Literal["open", "acknowledged", "cleared"]
CONSOLE_STATES: Final = ("open", "acknowledged", "cleared")
MAX_LIMIT: Final = 1000

_CLEARED = "(s.status = 'cleared' OR (s.closed_seq IS NOT NULL AND s.closed_seq >= s.last_seq))"
_ACKED = "(s.ack_seq IS NOT NULL AND s.ack_seq >= s.last_seq)"
_STATE_SQL: Final[dict[str, str]] = {
    "cleared": _CLEARED,
    "acknowledged": f"(NOT {_CLEARED} AND {_ACKED})",
    "open": f"(NOT {_CLEARED} AND NOT {_ACKED})",
}
_COLUMNS = ("s.alert_id, s.site, s.device, s.category, s.subcategory, s.severity, s.audience,"
            " s.station, s.plate, s.status, s.level, s.description, s.since_ns, s.last_ts_ns,"
            " s.last_seq, s.last_change_id, s.ack_by, s.ack_at_ns, s.assignee, s.assigned_by,"
            f" s.assigned_at_ns, s.closed_by, s.closed_at_ns, {_CLEARED}, {_ACKED}")


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as the console shows it."""

    alert_id: str
    site: str
    device: str
    category: str
    subcategory: str
    severity: str
    audience: str
    station: str | None
    plate: str | None
    status: str
    level: int
    description: str
    since: datetime
    last_change_at: datetime
    last_seq: int
    last_change_id: str
    state: ConsoleState
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    assignee: str | None
    assigned_by: str | None
    assigned_at: datetime | None
    cleared_by: str | None
    cleared_at: datetime | None


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """Something an operator did to an alert."""

    seq: int
    alert_id: str
    action: str
    actor: str
    role: str
    at: datetime
    assignee: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One stored state change: its sequence number and the alert event as JSON data."""

    seq: int
    audience: str
    event: dict[str, Any]


def _view(r: Row) -> AlertView:
    state: ConsoleState = "cleared" if r[23] else "acknowledged" if r[24] else "open"
    return AlertView(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], int(r[10]), r[11],
        from_ns(r[12]), from_ns(r[13]), int(r[14]), r[15], state, r[16], opt_from_ns(r[17]),
        r[18], r[19], opt_from_ns(r[20]), r[21], opt_from_ns(r[22]))


class AlertBoard:
    """Queries and operator actions over the alert tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, *, audiences: tuple[str, ...], state: ConsoleState | None = None,
             category: str | None = None, severity: str | None = None,
             station: str | None = None, assignee: str | None = None,
             since_ns: int | None = None, until_ns: int | None = None,
             limit: int = 100) -> list[AlertView]:
        """Alerts for these audiences, most recently changed first."""
        where = [f"s.audience IN ({','.join('?' * len(audiences))})"]
        args: list[object] = list(audiences)
        if state is not None:
            where.append(_STATE_SQL[state])
        for column, value in (("category", category), ("severity", severity),
                              ("station", station), ("assignee", assignee)):
            if value is not None:
                where.append(f"s.{column} = ?")
                args.append(value)
        if since_ns is not None:
            where.append("s.last_ts_ns >= ?")
            args.append(since_ns)
        if until_ns is not None:
            where.append("s.since_ns < ?")
            args.append(until_ns)
        rows = self.db.query(f"SELECT {_COLUMNS} FROM alert_state s WHERE {' AND '.join(where)}"
                             " ORDER BY s.last_seq DESC LIMIT ?", [*args, limit])
        return [_view(r) for r in rows]

    def get(self, alert_id: str) -> AlertView | None:
        """One alert, or None."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM alert_state s WHERE s.alert_id = ?",
                             (alert_id,))
        return _view(rows[0]) if rows else None

    def changes(self, alert_id: str) -> list[AlertChange]:
        """Every stored change of one alert, in stored order."""
        rows = self.db.query("SELECT stored_seq, audience, body FROM alert_changes"
                             " WHERE alert_id = ? ORDER BY stored_seq", (alert_id,))
        return [AlertChange(int(s), a, json.loads(bytes(b))) for s, a, b in rows]

    def changes_after(self, seq: int, audiences: tuple[str, ...] | None = None,
                      limit: int = 100) -> list[AlertChange]:
        """Changes stored after ``seq`` (for these audiences when given), in stored order."""
        sql = "SELECT stored_seq, audience, body FROM alert_changes WHERE stored_seq > ?"
        args: list[object] = [seq]
        if audiences is not None:
            sql += f" AND audience IN ({','.join('?' * len(audiences))})"
            args.extend(audiences)
        rows = self.db.query(sql + " ORDER BY stored_seq LIMIT ?", [*args, limit])
        return [AlertChange(int(s), a, json.loads(bytes(b))) for s, a, b in rows]

    def latest_seq(self) -> int:
        """The highest stored sequence number of any alert change (0 when none)."""
        return int(self.db.query("SELECT coalesce(max(stored_seq), 0) FROM alert_changes")[0][0])

    def actions(self, alert_id: str) -> list[OperatorAction]:
        """What operators did to one alert, in order."""
        rows = self.db.query("SELECT seq, alert_id, action, actor, role, at_ns, assignee, note"
                             " FROM operator_actions WHERE alert_id = ? ORDER BY seq", (alert_id,))
        return [OperatorAction(int(r[0]), r[1], r[2], r[3], r[4], from_ns(r[5]), r[6], r[7])
                for r in rows]

    # ------------------------------------------------------------------ actions

    def act(self, alert_id: str, action: Literal["acknowledge", "assign", "comment", "clear"],
            *, actor: str, role: str, note: str | None = None,
            assignee: str | None = None) -> AlertView:
        """Record an operator action; NotFoundError for an unknown alert, ConflictError when
        the alert's state refuses it (acknowledging or clearing a cleared alert,
        acknowledging what is already acknowledged)."""
        now = now_ns()
        with self.db.transaction(serial=True) as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM alert_state s WHERE s.alert_id = ?",
                              (alert_id,))
            if not rows:
                raise NotFoundError(f"no alert {alert_id!r}")
            view = _view(rows[0])
            if action in ("acknowledge", "clear", "assign") and view.state == "cleared":
                raise ConflictError(f"alert {alert_id!r} is cleared"
                                    f"{f' by {view.cleared_by}' if view.cleared_by else ''}")
            if action == "acknowledge" and view.state == "acknowledged":
                raise ConflictError(f"alert {alert_id!r} is already acknowledged by"
                                    f" {view.acknowledged_by} at {view.acknowledged_at}")
            if action == "acknowledge":
                tx.run("UPDATE alert_state SET ack_by = ?, ack_at_ns = ?, ack_seq = ?"
                       " WHERE alert_id = ?", (actor, now, view.last_seq, alert_id))
            elif action == "assign":
                tx.run("UPDATE alert_state SET assignee = ?, assigned_by = ?, assigned_at_ns = ?"
                       " WHERE alert_id = ?", (assignee, actor, now, alert_id))
            elif action == "clear":
                tx.run("UPDATE alert_state SET closed_by = ?, closed_at_ns = ?, closed_seq = ?"
                       " WHERE alert_id = ?", (actor, now, view.last_seq, alert_id))
            tx.run("INSERT INTO operator_actions (alert_id, action, actor, role, at_ns, at_seq,"
                   " assignee, note) VALUES (?,?,?,?,?,?,?,?)",
                   (alert_id, action, actor, role, now, view.last_seq, assignee, note))
            rows = tx.execute(f"SELECT {_COLUMNS} FROM alert_state s WHERE s.alert_id = ?",
                              (alert_id,))
        return _view(rows[0])
