"""Remote configuration of a camera gateway over its config topic.

A full camera config (YAML, or JSON which is YAML too) published on
``Topics.config(site, device)`` is validated exactly like the file, checked
against what may change without a restart, and handed to the agent, which
applies it between two frames. A config that fails leaves the running one in
place and is answered with a ``ConfigAck`` ``refused`` naming every problem; one that
is applied is acknowledged by a ``ConfigAck`` ``applied`` with its version, and the
version is in the retained status and heartbeats from then on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from edge.camera.config import CameraGatewayConfig, load_camera_config
from ioc.config import ConfigError
from ioc.contract import MAX_PAYLOAD_BYTES, ConfigAck, now_utc, stable_id

logger = logging.getLogger(__name__)

#: Parts of the config that only a restart can change (who the device is, where it talks).
RESTART_ONLY = ("site", "device", "camera", "broker", "queue")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a remote config was refused: every problem, one per line."""

    reason: str


def check_remote(current: CameraGatewayConfig, topic: str,
                 payload: bytes) -> CameraGatewayConfig | Refusal:
    """Validate a config received on ``topic``; the new config, or why it is refused."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Refusal(f"{topic}: config of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refusal(f"{topic}: config is not UTF-8: {exc}")
    try:
        new = load_camera_config(f"mqtt:{topic}", text=text)
    except ConfigError as exc:
        return Refusal(str(exc))
    changed = [k for k in RESTART_ONLY if getattr(new, k) != getattr(current, k)]
    if changed:
        return Refusal(f"mqtt:{topic}: {', '.join(changed)}: cannot change without a restart "
                       f"(edit the config file instead)")
    if new.version <= current.version:
        return Refusal(f"mqtt:{topic}: version: {new.version}: not newer than the running "
                       f"version {current.version}")
    return new


def _version_of(payload: bytes) -> str | None:
    """The ``version:`` a refused payload claims, when it can be read at all (for the ack)."""
    for line in payload[:MAX_PAYLOAD_BYTES].decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().strip('"') == "version" and not line.startswith((" ", "\t")):
            return value.strip().strip('",')[:64] or None
    return None


def config_ack(cfg: CameraGatewayConfig, topic: str, payload: bytes,
               refusal: Refusal | None = None) -> ConfigAck:
    """The device's answer to a config received on ``topic``: applied (``cfg`` is the new
    running config), or refused with every problem (``cfg`` is the config that stays)."""
    claimed = str(cfg.version) if refusal is None else _version_of(payload)
    problems = [] if refusal is None else [p[:2000] for p in refusal.reason.splitlines()[:50]]
    return ConfigAck(
        # the outcome and the running version are part of the identity: the same payload
        # pushed twice is applied, then refused as not newer: two answers, two ids
        id=stable_id("config-ack", cfg.device, topic, payload,
                     "applied" if refusal is None else "refused", cfg.version),
        site=cfg.site, device=cfg.device, ts=now_utc(), config_version=claimed,
        result="applied" if refusal is None else "refused",
        running_version=str(cfg.version), problems=problems)
