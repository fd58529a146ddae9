"""The city the IOC page draws: stations with their alarm levels, cameras, map lines.

One source per fact: station names, kinds and coordinates come from the stream
config, alarm levels from the alert rules (``stream/rules.yaml``), VN_AQI bands and
their official colours from :data:`stream.aqi.BANDS`; ``cloud/web/city.yaml`` adds
only what the stream does not know (which gateway reports for a station, where each
camera stands, river lines for orientation). Loading validates everything and names
the file, line and key of each problem (:class:`ioc.config.ConfigError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from ioc.config import ConfigError, ConfigProblem, StrictModel, load_yaml_model
from stream.aqi import BANDS
from stream.config import load_config
from stream.rules_config import load_rules

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
LatLon = tuple[Annotated[float, Field(ge=-90, le=90)], Annotated[float, Field(ge=-180, le=180)]]
DEFAULT_CITY = Path(__file__).with_name("city.yaml")
#: quantities whose rules give a station's alarm levels on the page
LEVEL_MEASURES = ("water_level",)


class CameraSite(StrictModel):
    """One camera: its id (as in its events), its gateway, a name and where it stands."""

    camera: Slug
    device: Slug
    name: str = Field(min_length=1, max_length=120)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class MapLine(StrictModel):
    """A line drawn for orientation (a river), as [lat, lon] points."""

    name: str = Field(min_length=1, max_length=120)
    kind: Literal["river", "road", "boundary"] = "river"
    points: list[LatLon] = Field(min_length=2, max_length=2000)


class CityFile(StrictModel):
    """``cloud/web/city.yaml``."""

    site: Slug = "hue"
    name: str = Field(min_length=1, max_length=80)
    name_vi: str = Field(min_length=1, max_length=80)
    stream_config: Path | None = None
    rules: Path | None = None
    station_devices: dict[Slug, Slug] = Field(default_factory=dict)
    cameras: list[CameraSite] = Field(default_factory=list)
    lines: list[MapLine] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class City:
    """What ``GET /api/v1/city`` answers, built once."""

    site: str
    doc: dict[str, Any]


def _problem(path: Path, key: str, value: object, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(str(path), None, key, str(value), message)])


def build_city(path: Path = DEFAULT_CITY) -> City:
    """Load the city file and the stream's stations and rules it points to."""
    spec = load_yaml_model(CityFile, path)
    base = path.parent
    stream = load_config(base / spec.stream_config if spec.stream_config else None)
    rules = load_rules(base / spec.rules if spec.rules else None)
    if stream.site != spec.site:
        raise _problem(path, "site", spec.site,
                       f"the stream config is for site {stream.site!r}")
    unknown = sorted(set(spec.station_devices) - set(stream.stations))
    if unknown:
        raise _problem(path, "station_devices", ", ".join(unknown),
                       "not a station of the stream config")
    seen: set[str] = set()
    for i, cam in enumerate(spec.cameras):
        if cam.camera in seen or cam.camera in stream.stations:
            raise _problem(path, f"cameras.{i}.camera", cam.camera, "named twice")
        seen.add(cam.camera)
    stations = []
    for sid, st in stream.stations.items():
        levels = []
        for measure in LEVEL_MEASURES:
            for rule in rules.rules_for(measure, sid):
                levels.extend({"level": lv.number, "name": lv.name, "severity": lv.severity.value,
                               "threshold": lv.threshold, "unit": rule.unit}
                              for lv in rule.levels)
        stations.append({"id": sid, "name": st.name, "kind": st.kind, "river": st.river,
                         "lat": st.lat, "lon": st.lon,
                         "device": spec.station_devices.get(sid), "levels": levels})
    points = ([(s["lat"], s["lon"]) for s in stations if s["lat"] is not None]
              + [(c.lat, c.lon) for c in spec.cameras]
              + [p for line in spec.lines for p in line.points])
    bounds = ({"min_lat": min(p[0] for p in points), "max_lat": max(p[0] for p in points),
               "min_lon": min(p[1] for p in points), "max_lon": max(p[1] for p in points)}
              if points else None)
    doc = {
        "site": spec.site, "name": spec.name, "name_vi": spec.name_vi,
        "stations": stations,
        "cameras": [c.model_dump() for c in spec.cameras],
        "lines": [{"name": ln.name, "kind": ln.kind, "points": [list(p) for p in ln.points]}
                  for ln in spec.lines],
        "bounds": bounds,
        "aqi_bands": [{"key": b.key, "name_en": b.name_en, "name_vi": b.name_vi, "lo": b.lo,
                       "hi": b.hi, "color": b.hex} for b in BANDS],
    }
    return City(spec.site, doc)


@lru_cache(maxsize=4)
def city(path: Path = DEFAULT_CITY) -> City:
    """:func:`build_city`, once per file (the files do not change while serving)."""
    return build_city(path)


def locations(c: City) -> dict[str, tuple[float, float, str]]:
    """``station or camera id -> (lat, lon, name)`` for everything placed on the map."""
    out = {s["id"]: (s["lat"], s["lon"], s["name"]) for s in c.doc["stations"]
           if s["lat"] is not None and s["lon"] is not None}
    out.update({cam["camera"]: (cam["lat"], cam["lon"], cam["name"])
                for cam in c.doc["cameras"]})
    return out
