"""The FastAPI application: routers, error handlers, body guard, roles in the OpenAPI document."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from cloud.api.auth import RoleCheck
from cloud.api.context import ApiContext
from cloud.api.errors import BodyGuard, install_handlers
from cloud.api.routes import (
    admin,
    alerts,
    devices,
    kpi,
    opendata,
    police,
    stations,
    traffic,
    web,
)
from ioc import __version__

DESCRIPTION = """\
The cloud side of the Hue IOC: what the stream stored, for the people who act on it.

Send `Authorization: Bearer <token>` (tokens are in the server's config, by
reference). Each endpoint lists the roles it admits; plate data is shown to
police and admin only, and every plate query is in the audit log. Errors are
JSON: `{"error", "message", "problems": [{"where", "message"}]}`.
"""


def _roles(dependant: Dependant) -> tuple[str, ...] | None:
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleCheck):
            return dep.call.roles
        found = _roles(dep)
        if found is not None:
            return found
    return None


def route_roles(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...] | None]:
    """``(method, path) -> roles admitted`` of every documented route (None: no token needed),
    read back from the OpenAPI document the app serves."""
    out: dict[tuple[str, str], tuple[str, ...] | None] = {}
    for path, operations in app.openapi()["paths"].items():
        for method, op in operations.items():
            roles = op.get("x-roles") or None
            out[(method.upper(), path)] = tuple(roles) if roles else None
    return out


def create_app(ctx: ApiContext) -> FastAPI:
    """The API over ``ctx``'s stores and tokens."""
    app = FastAPI(title="Hue IOC cloud API", version=__version__, description=DESCRIPTION)
    app.state.ctx = ctx
    install_handlers(app)
    for module in (police, alerts, stations, traffic, devices, admin, kpi, opendata, web):
        for route in module.router.routes:
            if isinstance(route, APIRoute) and "x-roles" not in (route.openapi_extra or {}):
                roles = _roles(route.dependant)
                note = f"Roles: {', '.join(roles)}." if roles else "No token needed."
                route.description = f"{route.description}\n\n{note}".strip()
                route.openapi_extra = {**(route.openapi_extra or {}),
                                       "x-roles": list(roles or [])}
        app.include_router(module.router)
    app.mount("/web", StaticFiles(directory=web.STATIC_DIR), name="web")
    app.add_middleware(BodyGuard, max_bytes=ctx.config.limits.max_body_bytes)
    return app
