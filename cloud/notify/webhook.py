"""Webhooks: each alert change POSTed as its contract JSON to a URL.

Headers: ``Idempotency-Key`` (the change's id: the same change always carries the
same key, so a receiver can drop the one duplicate a crash mid-send could cause),
``X-IOC-Alert-Id``, ``X-IOC-Alert-Status``, and with a secret
``X-IOC-Signature: sha256=<hex HMAC of the body>``.

2xx is delivered. 408, 425, 429 and 5xx, timeouts and connection errors are worth
another try; any other status is final (the receiver refuses this payload).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Final

import httpx

from cloud.notify.base import AlertFilter, DeliveryError, post
from ioc.contract import Alert, encode

logger = logging.getLogger(__name__)

RETRYABLE_STATUS: Final = frozenset({408, 425, 429})


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-IOC-Signature`` value of a body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POST alert changes to one URL."""

    def __init__(self, name: str, url: str, *, filter: AlertFilter | None = None,
                 secret: bytes | None = None, timeout_s: float = 5.0) -> None:
        self.name = name
        self.url = url
        self.filter = filter or AlertFilter()
        self.secret = secret
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None

    def wants(self, alert: Alert) -> bool:
        return self.filter(alert)

    def start(self) -> None:
        self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False,
                                    headers={"User-Agent": "hue-ioc-notify/1"})

    def send(self, alert: Alert) -> None:
        if self._client is None:
            raise RuntimeError(f"webhook {self.name} used before start()")
        body = encode(alert)
        headers = {"Content-Type": "application/json", "Idempotency-Key": alert.id,
                   "X-IOC-Alert-Id": alert.alert_id, "X-IOC-Alert-Status": alert.status.value}
        if self.secret is not None:
            headers["X-IOC-Signature"] = signature(self.secret, body)
        try:
            status, answer = post(self._client, self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timed out after {self.timeout_s} s: {exc}") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return
        retry = status >= 500 or status in RETRYABLE_STATUS
        raise DeliveryError(f"{self.url} answered {status}: {answer[:200]}", retry=retry)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
