"""Remote configuration of a camera gateway over its config topic.

A full camera config (YAML, or JSON which is YAML too) published on
``Topics.config(site, device)`` is validated exactly like the file, checked
against what may change without a restart, and handed to the agent, which
applies it between two frames. A config that fails leaves the running one in
place and is answered with an error event naming every problem; one that is
applied is acknowledged by its version in the retained status and heartbeats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from edge.camera.config import CameraGatewayConfig, load_camera_config
from ioc.config import ConfigError
from ioc.contract import MAX_PAYLOAD_BYTES, DeadLetter, now_utc, stable_id

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


def refusal_event(cfg: CameraGatewayConfig, topic: str, payload: bytes,
                  reason: str) -> DeadLetter:
    """The error event answering a refused config (the contract has no config-error event
    yet; a dead letter names the step, the reason, the topic and the payload)."""
    return DeadLetter(
        id=stable_id("config-refused", cfg.device, topic, payload),
        site=cfg.site, device=cfg.device, ts=now_utc(), step="edge-config",
        code="config", reason=reason[:2000], topic=topic[:512],
        payload=payload[:1024].decode("utf-8", "replace")[:4096], payload_size=len(payload))
