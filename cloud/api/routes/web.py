"""The IOC web page: one HTML document, its scripts and styles, and the city it draws.

The page needs no build step and loads nothing from outside the server: plain ES
modules and CSS under ``cloud/web/static`` (mounted at ``/web``), the map drawn as SVG
from the site's own coordinates (``GET /api/v1/city``), charts drawn by hand. Its
Content-Security-Policy allows only this origin (and ``blob:`` images, which is how
evidence images fetched with the bearer token are shown), so a browser refuses any
outside address even if one slipped in. The page holds no data itself: everything
comes from the role-checked API with the token the user types in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from cloud.api.auth import AnyUser
from cloud.web.city import city

router = APIRouter(tags=["web"])

STATIC_DIR = Path(__file__).resolve().parents[2] / "web" / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:;"
       " connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none';"
       " frame-ancestors 'none'; form-action 'self'")


class CityOut(BaseModel):
    site: str
    name: str
    name_vi: str
    stations: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    bounds: dict[str, float] | None
    aqi_bands: list[dict[str, Any]]


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The page lives at ``/ioc``."""
    return RedirectResponse("/ioc", status_code=307)


@router.get("/ioc", include_in_schema=False)
def page() -> FileResponse:
    """The IOC page (static HTML; the data comes from the API with the user's token)."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "no-referrer"})


@router.get("/api/v1/city", response_model=CityOut,
            summary="The city the page draws: stations with alarm levels, cameras, map lines")
def get_city(request: Request, who: AnyUser) -> CityOut:
    return CityOut(**city().doc)
