"""The dispatcher: new alert changes in the store → one delivery per notifier → sent with back-off.

Every ``poll_s`` it reads the changes stored after each notifier's cursor (the
stored sequence number, so nothing is skipped or read twice), records a
delivery for each change the notifier wants, then sends the deliveries that are
due. A failure is retried after ``first_delay_s · factor^(attempts−1)`` (at most
``max_delay_s``) until ``max_attempts``; a failure the receiver calls final (a
4xx) is not retried. What was delivered is in the store, so a restart or a
replayed change never delivers the same change twice.

A new notifier starts at the newest change ("from now"): turning on a webhook does
not send it the history.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence

from cloud.config import RetryConfig
from cloud.notify.base import DeliveryError, Notifier
from cloud.notify.deliveries import DeliveryLog
from cloud.stores.db import Database
from ioc.contract import Alert, decode_any

logger = logging.getLogger(__name__)


class Dispatcher:
    """Delivers alert changes from one database to its notifiers."""

    def __init__(self, db: Database, notifiers: Sequence[Notifier], retry: RetryConfig, *,
                 poll_s: float = 1.0, lease_s: float = 60.0,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        names = [n.name for n in notifiers]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique: {names}")
        self.db = db
        self.log = DeliveryLog(db)
        self.notifiers = list(notifiers)
        self.retry = retry
        self.poll_s = poll_s
        self.lease_ns = int(lease_s * 1e9)
        self._clock = clock_ns
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def delay_s(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1, 2, ...)."""
        r = self.retry
        steps = max(failures - 1, 0)
        # in logarithms: factor ** steps overflowed a float after a few hundred failures,
        # and the delivery then stayed 'sending' for ever
        if r.factor > 1 and steps * math.log(r.factor) >= math.log(r.max_delay_s / r.first_delay_s):
            return float(r.max_delay_s)
        return float(min(r.max_delay_s, r.first_delay_s * r.factor ** steps))

    def prime(self) -> None:
        """Start every notifier without a cursor at the newest stored change."""
        latest = int(self.db.query("SELECT coalesce(max(stored_seq), 0) FROM alert_changes")[0][0])
        for n in self.notifiers:
            self.log.cursor(n.name, start_at=latest)

    def start(self) -> None:
        """Start the notifiers and a polling thread for each: a receiver that hangs or
        answers slowly holds only its own deliveries (one thread for all had every
        notifier wait up to timeout_s per read of the slow one)."""
        for n in self.notifiers:
            n.start()
        self.prime()
        self._stop.clear()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True,
                                          name=f"ioc-notify-{n.name}") for n in self.notifiers]
        for thread in self._threads:
            thread.start()
        logger.info("notifications: %s", ", ".join(n.name for n in self.notifiers) or "none")

    def stop(self) -> None:
        """Stop polling (after the delivery in progress), then the notifiers."""
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._threads = []
        for n in self.notifiers:
            try:
                n.stop()
            except Exception:
                logger.exception("notifier %s did not stop cleanly", n.name)

    def _run(self, n: Notifier) -> None:
        while not self._stop.is_set():
            try:
                self._enqueue(n)
                self._deliver(n)
            except Exception:  # a store hiccup must not end notifications for good
                logger.exception("%s: notification round failed; trying again in %.1f s",
                                 n.name, self.poll_s)
            self._stop.wait(self.poll_s)
        self.db.close()  # this thread's connection

    def run_once(self) -> int:
        """One round: enqueue new changes, send what is due; return deliveries attempted."""
        for n in self.notifiers:
            self._enqueue(n)
        return sum(self._deliver(n) for n in self.notifiers)

    def _enqueue(self, n: Notifier) -> None:
        cursor = self.log.cursor(n.name, start_at=0)
        while True:
            rows = self.db.query("SELECT stored_seq, id, alert_id, body FROM alert_changes"
                                 " WHERE stored_seq > ? ORDER BY stored_seq LIMIT 500", (cursor,))
            if not rows:
                return
            wanted: list[tuple[str, str, int]] = []
            for seq, change_id, alert_id, body in rows:
                alert = decode_any("", bytes(body))
                if not isinstance(alert, Alert):
                    logger.error("stored alert change %s cannot be read: %s", change_id, alert)
                elif n.wants(alert):
                    wanted.append((change_id, alert_id, int(seq)))
            cursor = int(rows[-1][0])
            added = self.log.enqueue(n.name, wanted, cursor, self._clock())
            if added:
                logger.debug("%s: %d new deliveries up to change %d", n.name, added, cursor)

    def _deliver(self, n: Notifier) -> int:
        attempted = 0
        for change_id, attempts in self.log.due(n.name, self._clock()):
            if self._stop.is_set():
                break
            if not self.log.claim(n.name, change_id, self._clock(), self.lease_ns):
                continue
            attempted += 1
            rows = self.db.query("SELECT body FROM alert_changes WHERE id = ?", (change_id,))
            alert = decode_any("", bytes(rows[0][0])) if rows else None
            if not isinstance(alert, Alert):
                self.log.failed(n.name, change_id, "the alert change is no longer stored",
                                next_at_ns=self._clock(), final=True)
                continue
            try:
                n.send(alert)
            except DeliveryError as exc:
                self._failed(n, change_id, attempts + 1, str(exc), retry=exc.retry)
            except Exception as exc:  # a notifier bug: count it as a failed attempt
                logger.exception("notifier %s failed on change %s", n.name, change_id)
                self._failed(n, change_id, attempts + 1, repr(exc), retry=True)
            else:
                self.log.delivered(n.name, change_id, self._clock())
                logger.info("%s: delivered %s (%s %s) after %d attempt(s)", n.name, change_id,
                            alert.alert_id, alert.status.value, attempts + 1)
        return attempted

    def _failed(self, n: Notifier, change_id: str, failures: int, error: str, *,
                retry: bool) -> None:
        final = not retry or failures >= self.retry.max_attempts
        delay = self.delay_s(failures)
        self.log.failed(n.name, change_id, error, final=final,
                        next_at_ns=self._clock() + int(delay * 1e9))
        if final:
            logger.error("%s: giving up on %s after %d attempt(s): %s", n.name, change_id,
                         failures, error)
        else:
            logger.warning("%s: attempt %d for %s failed (%s); next in %.1f s", n.name, failures,
                           change_id, error, delay)
