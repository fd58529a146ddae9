"""MQTT: each alert change published on the contract's alert topic of another broker.

For a city system that listens on its own broker (a dispatch centre, a siren
controller). The topic is :meth:`ioc.contract.Topics.for_event` of the alert
(``ioc/v1/{site}/alerts/{category}``), QoS 1, never retained; a send counts as
delivered when the broker acknowledged it (PUBACK). The client reconnects by
itself; while it is disconnected a send fails and the dispatcher retries later.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from cloud.notify.base import AlertFilter, DeliveryError
from ioc.contract import Alert, Topics, encode

logger = logging.getLogger(__name__)


class MqttNotifier:
    """Publish alert changes to one broker."""

    def __init__(self, name: str, host: str, port: int = 1883, *,
                 filter: AlertFilter | None = None, username: str | None = None,
                 password: str | None = None, timeout_s: float = 5.0,
                 tls_ca_file: Path | None = None) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.filter = filter or AlertFilter()
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        self.tls_ca_file = tls_ca_file
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()

    def wants(self, alert: Alert) -> bool:
        return self.filter(alert)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("notifier %s: broker %s:%d refused: %s", self.name, self.host,
                           self.port, reason)
            return
        logger.info("notifier %s: connected to %s:%d", self.name, self.host, self.port)
        self._connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        logger.warning("notifier %s: disconnected from %s:%d (%s); reconnecting", self.name,
                       self.host, self.port, reason)

    def start(self) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"ioc-cloud-notify-{self.name}")
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls_ca_file is not None:
            try:
                client.tls_set(ca_certs=str(self.tls_ca_file))
            except (OSError, ValueError) as exc:
                raise ValueError(f"notifier {self.name}: tls_ca_file {self.tls_ca_file}: "
                                 f"{exc}") from exc
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self._client = client

    def send(self, alert: Alert) -> None:
        if self._client is None:
            raise RuntimeError(f"MQTT notifier {self.name} used before start()")
        if not self._connected.wait(self.timeout_s):
            raise DeliveryError(f"not connected to {self.host}:{self.port}")
        info = self._client.publish(Topics.for_event(alert), encode(alert), qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise DeliveryError(f"publish refused: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(self.timeout_s)
        except RuntimeError as exc:
            raise DeliveryError(f"publish failed: {exc}") from None
        if not info.is_published():
            raise DeliveryError(f"no PUBACK from {self.host}:{self.port} in {self.timeout_s} s")

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
