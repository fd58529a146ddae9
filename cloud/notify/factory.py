"""Notifiers built from the ``notify`` section of the cloud config (secrets resolved here)."""

from __future__ import annotations

from cloud.config import NotifyConfig, resolve_secret
from cloud.notify.base import AlertFilter, Notifier
from cloud.notify.mqtt import MqttNotifier
from cloud.notify.text import HttpTextGateway, TextNotifier
from cloud.notify.webhook import WebhookNotifier


def notifiers_from_config(cfg: NotifyConfig) -> list[Notifier]:
    """Every configured notifier; SecretError names one whose secret cannot be read."""
    out: list[Notifier] = []
    for w in cfg.webhooks:
        secret = (resolve_secret(w.secret_env, w.secret_file, f"notify.webhooks.{w.name}.secret")
                  if w.secret_env or w.secret_file else None)
        out.append(WebhookNotifier(w.name, w.url, filter=AlertFilter.from_config(w.filter),
                                   secret=secret.encode() if secret else None,
                                   timeout_s=w.timeout_s))
    for m in cfg.mqtt:
        password = (resolve_secret(m.password_env, m.password_file,
                                   f"notify.mqtt.{m.name}.password")
                    if m.password_env or m.password_file else None)
        out.append(MqttNotifier(m.name, m.host, m.port, filter=AlertFilter.from_config(m.filter),
                                username=m.username, password=password, timeout_s=m.timeout_s,
                                tls_ca_file=m.tls_ca_file))
    for t in cfg.text:
        token = (resolve_secret(t.token_env, t.token_file, f"notify.text.{t.name}.token")
                 if t.token_env or t.token_file else None)
        gateway = HttpTextGateway(t.url, token=token, timeout_s=t.timeout_s)
        out.append(TextNotifier(t.name, gateway, t.recipients,
                                filter=AlertFilter.from_config(t.filter)))
    return out
