"""Technicians: the device registry (last seen, health, config version)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from cloud.api.auth import TechnicianUser
from cloud.api.context import get_ctx
from cloud.api.errors import ApiError
from cloud.api.models import DeviceOut, DevicePage

router = APIRouter(prefix="/api/v1/devices", tags=["technicians"])

Slug = r"^[a-z0-9][a-z0-9_-]{0,62}$"


@router.get("", response_model=DevicePage, summary="Every gateway with its health")
def list_devices(
    request: Request, who: TechnicianUser,
    site: Annotated[str | None, Query(pattern=Slug)] = None,
    health: Annotated[Literal["ok", "stale", "offline", "unknown"] | None, Query(
        description="ok; stale: nothing received for limits.device_stale_after_s;"
                    " offline: said so (or its last will did)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> DevicePage:
    devices = get_ctx(request).stores.devices.list(site=site, health=health, limit=limit)
    return DevicePage(count=len(devices), items=[DeviceOut.model_validate(d) for d in devices])


@router.get("/{site}/{device}", response_model=DeviceOut, summary="One gateway")
def get_device(request: Request, who: TechnicianUser,
               site: Annotated[str, Path(pattern=Slug)],
               device: Annotated[str, Path(pattern=Slug)]) -> DeviceOut:
    record = get_ctx(request).stores.devices.get(site, device)
    if record is None:
        raise ApiError(404, f"no device {site}/{device} has been heard from", "path.device")
    return DeviceOut.model_validate(record)
