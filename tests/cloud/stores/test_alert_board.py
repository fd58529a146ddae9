"""Operator actions: acknowledged and cleared hold until a newer change; conflicts say why."""

from __future__ import annotations

import pytest

from cloud.stores.bundle import CloudStores
from cloud.stores.errors import ConflictError, NotFoundError


def test_acknowledge_then_escalation_reopens(stores: CloudStores, make) -> None:
    board = stores.alerts
    stores.events.put([make.alert("c1", "flood")])
    assert board.get("flood").state == "open"  # type: ignore[union-attr]
    acked = board.act("flood", "acknowledge", actor="op-1", role="flood_operator", note="seen")
    assert (acked.state, acked.acknowledged_by) == ("acknowledged", "op-1")
    with pytest.raises(ConflictError, match="already acknowledged by op-1"):
        board.act("flood", "acknowledge", actor="op-2", role="flood_operator")
    stores.events.put([make.alert("c2", "flood", "escalated", make.at(5), level=2)])
    assert board.get("flood").state == "open"  # type: ignore[union-attr]
    board.act("flood", "assign", actor="op-1", role="flood_operator", assignee="op-2")
    board.act("flood", "comment", actor="op-2", role="flood_operator", note="on my way")
    cleared = board.act("flood", "clear", actor="op-2", role="flood_operator")
    assert (cleared.state, cleared.cleared_by, cleared.assignee) == ("cleared", "op-2", "op-2")
    with pytest.raises(ConflictError, match="is cleared by op-2"):
        board.act("flood", "acknowledge", actor="op-1", role="flood_operator")
    board.act("flood", "comment", actor="op-1", role="flood_operator", note="after the fact")
    assert [a.action for a in board.actions("flood")] == [
        "acknowledge", "assign", "comment", "clear", "comment"]


@pytest.mark.parametrize(("state", "expected"), [
    ("open", {"b"}), ("acknowledged", {"a"}), ("cleared", {"c"}), (None, {"a", "b", "c"}),
])
def test_filter_by_console_state(stores: CloudStores, make, state: str | None,
                                 expected: set[str]) -> None:
    stores.events.put([make.alert("1", "a"), make.alert("2", "b"),
                       make.alert("3", "c", "cleared")])
    stores.alerts.act("a", "acknowledge", actor="x", role="admin")
    got = stores.alerts.list(audiences=("operator",), state=state)  # type: ignore[arg-type]
    assert {v.alert_id for v in got} == expected


def test_audience_filter(stores: CloudStores, make) -> None:
    read = make.plate("p1", "75A12345")
    stores.events.put([read, make.hit("h1", read, "75A12345"), make.alert("1", "flood")])
    assert [v.alert_id for v in stores.alerts.list(audiences=("operator",))] == ["flood"]
    assert [v.alert_id for v in stores.alerts.list(audiences=("police",))] == ["hit-p1"]


def test_unknown_alert(stores: CloudStores) -> None:
    with pytest.raises(NotFoundError, match="no alert 'nope'"):
        stores.alerts.act("nope", "comment", actor="x", role="admin", note="?")
