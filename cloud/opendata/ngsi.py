"""NGSI-LD entities in the Smart Data Models shapes, built from the stores' records.

Form. Entities are built *normalized* (ETSI GS CIM 009): ``id`` is
``urn:ngsi-ld:<Type>:<site>:<...>``, ``type``, ``@context`` (the NGSI-LD core context
and the model's Smart Data Models context), and every attribute a ``Property`` (with
``observedAt``, the event time it describes, and ``unitCode`` where there is a unit),
a ``GeoProperty`` (``location``, a GeoJSON point in [lon, lat] order) or a
``Relationship``. :func:`key_values` gives the simplified form (NGSI-LD
``options=keyValues``); that is the form the Smart Data Models schemas describe, so
tests validate it against them, and the normalized form against the NGSI-LD shape.

What each entity holds, and what it leaves out on purpose:

- **Alert**: flood, rain, air-quality, congestion and no-data alerts (audiences
  operator and traffic). Watchlist hits (police) and device alerts (technicians) are
  never published: they name plates or reveal police interest.
- **AirQualityObserved**: one per air station and hour: hourly means of each
  pollutant (µg/m³), the hourly VN_AQI and its band.
- **TrafficFlowObserved**: one per camera, lane and minute: vehicles counted
  (``intensity``), mean speed and whether the lane was congested (congestion index at
  or above :data:`CONGESTED_AT`, the shipped rules' "congested" level).
- **TrafficViolation**: one per violation not rejected on review: type, time, camera,
  place. No plate (the model has no attribute for one, and none is added), no
  evidence images (``mediaURL`` is left out), no track id, no vehicle description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

CORE_CONTEXT: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
CONTEXTS: Final[dict[str, str]] = {
    "Alert": "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/"
             "context.jsonld",
    "AirQualityObserved": "https://raw.githubusercontent.com/smart-data-models/"
                          "dataModel.Environment/master/context.jsonld",
    "TrafficFlowObserved": "https://raw.githubusercontent.com/smart-data-models/"
                           "dataModel.Transportation/master/context.jsonld",
    "TrafficViolation": "https://raw.githubusercontent.com/smart-data-models/"
                        "dataModel.Transportation/master/context.jsonld",
}
TYPES: Final = tuple(CONTEXTS)
#: congestion index at which a lane counts as congested (stream/rules.yaml "congested")
CONGESTED_AT: Final = 0.7
#: UN/CEFACT common codes: µg/m³, km/h
MICROGRAM_PER_M3: Final = "GQ"
KM_PER_HOUR: Final = "KMH"
#: the project's alert subcategories in the Alert model's subCategory vocabulary
SUBCATEGORIES: Final[dict[str, str]] = {
    "flood": "flood", "rising_water": "floodRisk", "heavy_rain": "rainfall",
    "air_quality": "airPollution", "congestion": "trafficJam",
}
#: audiences whose alerts are published
PUBLIC_AUDIENCES: Final = ("operator", "traffic")
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")

Location = tuple[float, float, str]  # lat, lon, name


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with ``Z`` (what NGSI-LD ``observedAt`` wants)."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()}")
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def urn(kind: str, *parts: str) -> str:
    """``urn:ngsi-ld:<kind>:<part>:<part>`` with characters outside ``[A-Za-z0-9_.-]``
    replaced by ``_``."""
    return ":".join(["urn:ngsi-ld", kind, *(_SAFE.sub("_", p) for p in parts)])


def prop(value: Any, at: datetime | None = None, unit: str | None = None) -> dict[str, Any]:
    """An NGSI-LD Property."""
    out: dict[str, Any] = {"type": "Property", "value": value}
    if at is not None:
        out["observedAt"] = iso(at)
    if unit is not None:
        out["unitCode"] = unit
    return out


def date_prop(ts: datetime) -> dict[str, Any]:
    """A Property holding a DateTime."""
    return {"type": "Property", "value": {"@type": "DateTime", "@value": iso(ts)}}


def geo(lat: float, lon: float) -> dict[str, Any]:
    """A GeoProperty holding a GeoJSON point ([lon, lat])."""
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def rel(target: str) -> dict[str, Any]:
    """A Relationship to another entity."""
    return {"type": "Relationship", "object": target}


def _entity(kind: str, ident: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": ident, "type": kind, **{k: v for k, v in attrs.items() if v is not None},
            "@context": [CONTEXTS[kind], CORE_CONTEXT]}


def key_values(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The simplified (keyValues) form of a normalized entity."""
    out: dict[str, Any] = {}
    for key, attr in entity.items():
        if key in ("id", "type", "@context") or not isinstance(attr, Mapping):
            out[key] = attr
        elif attr.get("type") == "Relationship":
            out[key] = attr["object"]
        else:
            value = attr.get("value")
            if isinstance(value, Mapping) and value.get("@type") == "DateTime":
                value = value["@value"]
            out[key] = value
    return out


def device_urn(site: str, device: str) -> str:
    """The entity id of a gateway (SDM Device)."""
    return urn("Device", site, device)


def alert(a: Any, where: Location | None) -> dict[str, Any]:
    """An Alert entity from a :class:`cloud.stores.alerts.AlertView`."""
    at = a.last_change_at
    sub = SUBCATEGORIES.get(a.subcategory)
    data = {"subcategory": a.subcategory, "status": a.status, "level": a.level,
            "state": a.state, "station": a.station}
    return _entity("Alert", urn("Alert", a.site, a.alert_id), {
        "category": prop(a.category, at),
        "subCategory": prop(sub, at) if sub else None,
        "severity": prop(a.severity, at),
        "description": prop(a.description, at),
        "dateIssued": date_prop(at),
        "validFrom": date_prop(a.since),
        "validTo": date_prop(at) if a.status == "cleared" else None,
        "alertSource": prop(device_urn(a.site, a.device), at),
        "name": prop(where[2], at) if where else None,
        "location": geo(where[0], where[1]) if where else None,
        "data": prop({k: v for k, v in data.items() if v is not None}, at),
    })


def air_quality(site: str, station: str, hour_end: datetime, aqi: int, band: str,
                means: Mapping[str, float], where: Location,
                device: str | None) -> dict[str, Any]:
    """An AirQualityObserved entity: one station, the hour ending at ``hour_end``."""
    attrs: dict[str, Any] = {
        "dateObserved": date_prop(hour_end),
        "location": geo(where[0], where[1]),
        "name": prop(where[2]),
        "airQualityIndex": prop(int(aqi), hour_end),
        "airQualityLevel": prop(band, hour_end),
        "typeofLocation": prop("outdoor"),
        "refDevice": rel(device_urn(site, device)) if device else None,
    }
    for pollutant in ("pm25", "pm10", "o3", "no2", "so2", "co"):
        if pollutant in means:
            attrs[pollutant] = prop(round(float(means[pollutant]), 3), hour_end,
                                    MICROGRAM_PER_M3)
    return _entity("AirQualityObserved",
                   urn("AirQualityObserved", site, station, hour_end.strftime("%Y%m%dT%H%MZ")),
                   attrs)


def traffic_flow(site: str, camera: str, lane: str, start: datetime, end: datetime,
                 count: int | None, speed_kmh: float | None, congestion: float | None,
                 where: Location, device: str | None) -> dict[str, Any]:
    """A TrafficFlowObserved entity: one camera's lane over ``[start, end)``."""
    number = re.search(r"(\d+)$", lane)
    return _entity("TrafficFlowObserved", urn("TrafficFlowObserved", site, camera, lane,
                                              end.strftime("%Y%m%dT%H%MZ")), {
        "dateObserved": prop(f"{iso(start)}/{iso(end)}"),
        "dateObservedFrom": date_prop(start),
        "dateObservedTo": date_prop(end),
        "location": geo(where[0], where[1]),
        "name": prop(f"{where[2]}: {lane}"),
        "laneId": prop(int(number.group(1)), end) if number and int(number.group(1)) else None,
        "intensity": prop(int(count), end) if count is not None else None,
        "averageVehicleSpeed": (prop(round(speed_kmh, 2), end, KM_PER_HOUR)
                                if speed_kmh is not None else None),
        "congested": prop(congestion >= CONGESTED_AT, end) if congestion is not None else None,
        "refDevice": rel(device_urn(site, device)) if device else None,
    })


def traffic_violation(v: Any, where: Location | None) -> dict[str, Any]:
    """A TrafficViolation entity from a :class:`cloud.stores.violations.ViolationRecord`
    (nothing personal: see the module doc)."""
    return _entity("TrafficViolation", urn("TrafficViolation", v.site, v.id), {
        "observationDateTime": date_prop(v.ts),
        "titleCode": prop(v.violation, v.ts),
        "equipmentId": prop(v.camera, v.ts),
        "equipmentType": prop("camera", v.ts),
        "reportId": prop(v.id, v.ts),
        "description": prop(f"{v.violation} ({v.review})", v.ts),
        "address": prop({"streetAddress": v.location, "addressCountry": "VN"}, v.ts),
        "location": geo(where[0], where[1]) if where else None,
    })
