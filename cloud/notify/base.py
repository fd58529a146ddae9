"""What every notifier is: a name, a filter, and ``send(alert)`` that succeeds or says why not.

A notifier sends; it never decides when to retry. :class:`DeliveryError` says
whether trying again may help (a timeout, a 503) or not (a 400 from the
receiver); the dispatcher keeps the schedule and the record of what was delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx

from cloud.config import AlertFilterConfig
from ioc.contract import Alert

SEVERITY_RANK: Final = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class DeliveryError(Exception):
    """A delivery that failed; ``retry`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


#: bytes of a receiver's answer kept for the error message; the rest is never read
ANSWER_BYTES: Final = 512


def post(client: httpx.Client, url: str, **kwargs: Any) -> tuple[int, str]:
    """POST and return the status and at most :data:`ANSWER_BYTES` of the answer (none of
    it on success): a receiver that answers slowly or without end cannot hold the sender
    longer than its per-read timeout once the status line is in, nor fill its memory."""
    with client.stream("POST", url, **kwargs) as response:
        if 200 <= response.status_code < 300:
            return response.status_code, ""
        head = b""
        for chunk in response.iter_raw(ANSWER_BYTES):
            head += chunk
            if len(head) >= ANSWER_BYTES:
                break
        return response.status_code, head[:ANSWER_BYTES].decode("utf-8", "replace")


class Notifier(Protocol):
    """A destination for alert changes."""

    name: str

    def wants(self, alert: Alert) -> bool:
        """Whether this change is for this notifier."""

    def start(self) -> None:
        """Open clients or connections (no I/O before this)."""

    def send(self, alert: Alert) -> None:
        """Deliver one change; raise :class:`DeliveryError` when it did not arrive."""

    def stop(self) -> None:
        """Close what :meth:`start` opened."""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which changes a notifier takes: categories, audiences, statuses (empty: all), and a
    lowest severity."""

    categories: frozenset[str] = frozenset()
    audiences: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    min_severity: str = "informational"

    @classmethod
    def from_config(cls, cfg: AlertFilterConfig) -> AlertFilter:
        return cls(frozenset(cfg.categories), frozenset(cfg.audiences), frozenset(cfg.statuses),
                   cfg.min_severity)

    def __call__(self, alert: Alert) -> bool:
        return ((not self.categories or alert.category in self.categories)
                and (not self.audiences or alert.audience in self.audiences)
                and (not self.statuses or alert.status.value in self.statuses)
                and SEVERITY_RANK[alert.severity.value] >= SEVERITY_RANK[self.min_severity])


def alert_text(alert: Alert, limit: int = 300) -> str:
    """A short human line for SMS and push messages."""
    where = alert.station or alert.location or alert.device
    text = (f"[{alert.severity.value.upper()}] {alert.category}/{alert.subcategory}"
            f" {alert.status.value} at {where}: {alert.description or alert.alert_id}"
            f" ({alert.ts:%Y-%m-%d %H:%M} UTC)")
    return text if len(text) <= limit else text[: limit - 1] + "…"
