"""The page, its files and the city endpoint over real HTTP (SQLite and PostgreSQL), the
roles of every route this part adds, and the city file's validation."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from cloud.api.app import route_roles
from cloud.api.server import CloudServer
from cloud.web.city import DEFAULT_CITY, build_city
from ioc.config import ConfigError

ALL = {"police", "flood_operator", "traffic_officer", "technician", "admin"}
STATIC = Path(DEFAULT_CITY).with_name("static")

# (method, route, concrete URL, roles admitted; None = no token needed)
ROUTES = [
    ("GET", "/api/v1/city", "/api/v1/city", ALL),
    ("GET", "/api/v1/kpi", "/api/v1/kpi", ALL),
    ("GET", "/ngsi-ld/v1/entities", "/ngsi-ld/v1/entities?type=Alert", None),
]


@pytest.mark.parametrize(("method", "template", "url", "roles"), ROUTES,
                         ids=[f"{m} {t}" for m, t, *_ in ROUTES])
def test_roles(server: CloudServer, client: httpx.Client, as_role, method: str, template: str,
               url: str, roles: set[str] | None) -> None:
    assert server.app is not None
    enforced = route_roles(server.app)[(method, template)]
    assert (set(enforced) if enforced else None) == roles
    for role in sorted(ALL):
        status = client.request(method, url, headers=as_role.headers(role)).status_code
        assert status == 200, (role, status)
    anonymous = client.request(method, url).status_code
    assert anonymous == (200 if roles is None else 401)


def test_the_page_is_served_with_a_policy_that_allows_only_this_origin(
        client: httpx.Client) -> None:
    root = client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/ioc")
    page = client.get("/ioc")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "script-src 'self'" in csp
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert src.startswith(("/web/", "data:")), src
        if src.startswith("/web/"):
            assert client.get(src).status_code == 200, src


@pytest.mark.parametrize("path", sorted(p.name for p in STATIC.iterdir()))
def test_static_files_name_no_outside_address(path: str) -> None:
    text = (STATIC / path).read_text(encoding="utf-8")
    urls = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'`)]*", text)
    # the SVG namespace is a name, never fetched
    assert [u for u in urls if u != "http://www.w3.org/2000/svg"] == []


def test_static_files_cover_every_module_the_page_imports(client: httpx.Client) -> None:
    for path in STATIC.glob("*.js"):
        for name in re.findall(r'from "\./([a-z0-9]+\.js)"', path.read_text()):
            assert (STATIC / name).exists(), (path.name, name)
            assert client.get(f"/web/{name}").headers["content-type"].startswith(
                ("text/javascript", "application/javascript"))


def test_city_has_stations_levels_cameras_and_bands(client: httpx.Client, as_role) -> None:
    city = client.get("/api/v1/city", headers=as_role.headers("flood_operator")).json()
    kimlong = next(s for s in city["stations"] if s["id"] == "kimlong")
    assert [(lv["name"], lv["threshold"]) for lv in kimlong["levels"]] == [
        ("I", 1.0), ("II", 2.0), ("III", 3.5)]
    assert kimlong["device"] == "kimlong-01"
    assert {c["camera"] for c in city["cameras"]} == {"hungvuong-e", "lequydon-n",
                                                      "lethanhton-w", "trangtien-s"}
    assert [b["color"] for b in city["aqi_bands"]] == [
        "#00e400", "#ffff00", "#ff7e00", "#ff0000", "#8f3f97", "#7e0023"]
    assert city["bounds"]["min_lat"] < 16.3 < city["bounds"]["max_lat"]


def test_every_label_has_both_languages() -> None:
    text = (STATIC / "i18n.js").read_text(encoding="utf-8")
    vi = text[text.index("vi: {"):text.index("en: {")]
    en = text[text.index("en: {"):text.index("let lang")]

    def names(block: str) -> set[str]:
        return set(re.findall(r"(?:^|[\s,{])([a-z][a-z_]*): [\"`]", block))

    assert len(names(en)) > 100
    assert names(vi) == names(en)
    used = set()
    for path in STATIC.glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_]+)"', path.read_text()))
    used |= set(re.findall(r'data-i18n="([a-z_]+)"', (STATIC / "index.html").read_text()))
    assert used <= names(en), used - names(en)


@pytest.mark.parametrize(("text", "problem"), [
    ("site: hue\nname: Hue\nname_vi: Huế\nstation_devices: {nowhere: gw-1}\n",
     "station_devices: nowhere: not a station of the stream config"),
    ("site: hue\nname: Hue\nname_vi: Huế\ncameras:\n  - {camera: kimlong, device: d,"
     " name: n, lat: 1, lon: 2}\n", "cameras.0.camera: kimlong: named twice"),
    ("site: hue\nname: Hue\nname_vi: Huế\ncameras:\n  - {camera: c1, device: d, name: n,"
     " lat: 91, lon: 2}\n", "cameras.0.lat"),
    ("site: hue\nname: Hue\nname_vi: Huế\ncolour: red\n", "colour"),
])
def test_city_file_problems_name_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        build_city(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)
