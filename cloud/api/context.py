"""What every endpoint reaches through ``request.app.state.ctx``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request

from cloud.api.auth import Principal, TokenTable
from cloud.api.errors import invalid
from cloud.config import CloudConfig
from cloud.stores.bundle import CloudStores
from cloud.stores.plates import time_range
from cloud.stores.retention import Retention


@dataclass
class ApiContext:
    """The config, the stores and the tokens of one running API."""

    config: CloudConfig
    stores: CloudStores
    tokens: TokenTable
    stopping: threading.Event = field(default_factory=threading.Event)

    def retention(self) -> Retention:
        """The purge with the configured periods."""
        cfg = self.config.retention
        return Retention(self.stores.db, self.stores.evidence,
                         plate_reads_days=cfg.plate_reads_days, evidence_days=cfg.evidence_days)

    def audit(self, who: Principal, action: str, target: dict[str, Any],
              count: int | None) -> None:
        """Append to the audit log (who, now, what, how many results)."""
        self.stores.audit.record(actor=who.name, role=who.role, action=action, target=target,
                                 result_count=count)


def get_ctx(request: Request) -> ApiContext:
    """The running API's context."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


def window(since: datetime | None, until: datetime | None) -> tuple[int | None, int | None]:
    """A query's ``[since, until)`` in nanoseconds; 422 naming the parameter when bad."""
    for name, value in (("since", since), ("until", until)):
        if value is None:
            continue
        if value.tzinfo is None:
            raise invalid(f"query.{name}", f"{value.isoformat()} has no timezone"
                          " (add Z or +07:00)")
        try:
            time_range(value, None)
        except ValueError as exc:
            raise invalid(f"query.{name}", exc) from None
    try:
        return time_range(since, until)
    except ValueError as exc:
        raise invalid("query.until", exc) from None
