"""Who may publish and subscribe where: Mosquitto's ``acl_file`` built from the registry.

Rights, all spelled through :class:`ioc.contract.Topics`:

- a **device** writes only its own event topics (``ioc/v1/<site>/<device>/<kind>`` for
  the kinds its gateway produces: readings for a sensor gateway; vehicles, plates and
  violations for a camera; status, heartbeat and config acks for both) and reads only
  its own config topic (plus any ``extra_read`` topic, e.g. a signal controller's);
- the **stream** reads every device event kind of its sites (also through
  ``$share/<group>/...``) and writes alerts, aggregates and dead letters;
- the **cloud** reads alerts and the devices' status, heartbeats and config acks, and
  writes the config topic of each registered device (remote config);
- a **monitor** (``ioc devices``, a technician's laptop) reads status, heartbeats and
  config acks only.

Nothing is granted to anonymous clients, and a revoked account has no line at all.
"""

from __future__ import annotations

from ioc.contract import Topics
from ioc.provision.registry import Account, Registry

SENSOR_KINDS = ("reading", "status", "heartbeat", "config_ack")
CAMERA_KINDS = ("vehicle", "plate", "violation", "status", "heartbeat", "config_ack")
HEALTH_KINDS = ("status", "heartbeat", "config_ack")
DEVICE_EVENT_KINDS = ("reading", "vehicle", "plate", "violation", "status", "heartbeat",
                      "config_ack")


def rights(name: str, account: Account, registry: Registry) -> list[tuple[str, str]]:
    """(access, topic filter) pairs of one account; access is ``read`` or ``write``."""
    out: list[tuple[str, str]] = []
    if account.role == "device":
        site = account.sites[0]
        kinds = CAMERA_KINDS if account.gateway == "camera" else SENSOR_KINDS
        out += [("write", Topics.device(site, name, kind)) for kind in kinds]
        out.append(("read", Topics.config(site, name)))
    for site in account.sites if account.role != "device" else []:
        if account.role == "stream":
            out += [("read", Topics.device_filter(kind, site)) for kind in DEVICE_EVENT_KINDS]
            out += [("write", Topics.alerts(site)), ("write", Topics.aggregates(site)),
                    ("write", Topics.deadletter(site))]
        elif account.role == "cloud":
            out += [("read", Topics.device_filter(kind, site)) for kind in HEALTH_KINDS]
            out.append(("read", Topics.alerts(site)))
            out += [("write", Topics.config(site, device))
                    for device in registry.devices(site)]
        elif account.role == "monitor":
            out += [("read", Topics.device_filter(kind, site)) for kind in HEALTH_KINDS]
    out += [("read", topic) for topic in account.extra_read]
    return out


def render_acl(registry: Registry) -> str:
    """The text of Mosquitto's ``acl_file`` for every active account."""
    lines = ["# Mosquitto ACL: written by `ioc provision` from its registry; do not edit.",
             "# Anonymous clients get nothing; revoked accounts are absent.", ""]
    for name, account in registry.active().items():
        lines.append(f"# {account.role}" + (f" ({account.gateway} gateway)"
                                             if account.gateway else "")
                     + f", sites {', '.join(account.sites)}")
        lines.append(f"user {name}")
        lines += [f"topic {access} {topic}" for access, topic in rights(name, account, registry)]
        lines.append("")
    return "\n".join(lines)


def render_passwords(registry: Registry) -> str:
    """The text of Mosquitto's ``password_file``: one ``user:$7$...`` line per active account."""
    return "".join(f"{name}:{account.password_hash}\n"
                   for name, account in registry.active().items())
