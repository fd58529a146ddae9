"""SMS and app-push gateways: the small interface, one HTTP implementation, and the notifier.

A :class:`TextGateway` sends one short text to one recipient. Providers differ
in everything else, so each gets its own small class behind this interface;
:class:`HttpTextGateway` covers the common shape (POST JSON ``{"to", "text"}``
with a bearer token). :class:`TextNotifier` turns alert changes into texts for
a list of recipients; a change counts as delivered when every recipient got it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import httpx

from cloud.notify.base import AlertFilter, DeliveryError, alert_text, post
from ioc.contract import Alert

logger = logging.getLogger(__name__)


class TextGateway(Protocol):
    """Sends short texts (SMS, push)."""

    def start(self) -> None:
        """Open the gateway's client."""

    def send_text(self, recipient: str, text: str) -> None:
        """Send one text; raise :class:`DeliveryError` when it was not accepted."""

    def stop(self) -> None:
        """Close the client."""


class HttpTextGateway:
    """POST ``{"to": recipient, "text": text}`` to ``url`` (bearer ``token`` when given)."""

    def __init__(self, url: str, *, token: str | None = None, timeout_s: float = 5.0) -> None:
        self.url = url
        self.token = token
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None

    def start(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._client = httpx.Client(timeout=self.timeout_s, headers=headers)

    def send_text(self, recipient: str, text: str) -> None:
        if self._client is None:
            raise RuntimeError("text gateway used before start()")
        try:
            status, _answer = post(self._client, self.url, json={"to": recipient, "text": text})
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"{self.url} answered {status} for {recipient}",
                                retry=status >= 500 or status in (408, 429))

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class TextNotifier:
    """Alert changes as short texts to fixed recipients through a :class:`TextGateway`.

    When some recipients got the text and another failed, the retry sends to the
    ones that failed only (remembered per change while the process runs)."""

    def __init__(self, name: str, gateway: TextGateway, recipients: Sequence[str], *,
                 filter: AlertFilter | None = None) -> None:
        if not recipients:
            raise ValueError(f"text notifier {name} has no recipients")
        self.name = name
        self.gateway = gateway
        self.recipients = tuple(recipients)
        self.filter = filter or AlertFilter()
        self._sent: dict[str, set[str]] = {}

    def wants(self, alert: Alert) -> bool:
        return self.filter(alert)

    def start(self) -> None:
        self.gateway.start()

    def send(self, alert: Alert) -> None:
        done = self._sent.setdefault(alert.id, set())
        text = alert_text(alert)
        errors: list[str] = []
        retry = False
        for recipient in self.recipients:
            if recipient in done:
                continue
            try:
                self.gateway.send_text(recipient, text)
                done.add(recipient)
            except DeliveryError as exc:
                errors.append(f"{recipient}: {exc}")
                retry = retry or exc.retry
        if errors:
            raise DeliveryError("; ".join(errors), retry=retry)
        self._sent.pop(alert.id, None)

    def stop(self) -> None:
        self.gateway.stop()
