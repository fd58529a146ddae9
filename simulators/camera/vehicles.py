"""Drawing vehicles (rear view when receding, front view when oncoming) and their plates.

Each vehicle is drawn as a few projected boxes: its near face, roof and visible
side. The same polygons are written into an id buffer so the simulator knows what
is occluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ioc.plates import VehicleKind
from simulators.camera.config import VehicleClass
from simulators.camera.geometry import Projector
from simulators.camera.plate_render import plate_size_m
from simulators.camera.traffic import Agent

Colour = tuple[int, int, int]
_DARK: Colour = (25, 25, 28)
_GLASS: Colour = (70, 60, 55)
_RED: Colour = (30, 30, 210)
_HEAD: Colour = (200, 240, 250)


@dataclass(slots=True)
class Drawn:
    """What drawing one vehicle produced: its box, plate box and light positions."""

    box: tuple[float, float, float, float]
    plate_box: tuple[int, int, int, int] | None
    lights: list[tuple[int, int, int, Colour]]  # u, v, radius, colour


def _shade(c: Colour, k: float) -> Colour:
    return (min(255, int(c[0] * k)), min(255, int(c[1] * k)), min(255, int(c[2] * k)))


class VehiclePainter:
    """Draws one agent into a frame and its id into an id buffer."""

    def __init__(self, proj: Projector, plate_scale: float) -> None:
        self.proj = proj
        self.plate_scale = plate_scale

    def _face_rect(
        self, a: Agent, x1: float, x2: float, z1: float, z2: float
    ) -> tuple[int, int, int, int]:
        """Pixel rect of the world rect [x1, x2] x [z1, z2] on the vehicle's near face."""
        u1, v2 = self.proj.uv(a.x + x1, a.d, z1)
        u2, v1 = self.proj.uv(a.x + x2, a.d, z2)
        return round(u1), round(v1), round(u2), round(v2)

    def _rect(
        self, img: np.ndarray, a: Agent, x1: float, x2: float, z1: float, z2: float, c: Colour
    ) -> None:
        r = self._face_rect(a, x1, x2, z1, z2)
        cv2.rectangle(img, (r[0], r[1]), (r[2] - 1, r[3] - 1), c, -1)

    def draw(self, img: np.ndarray, ids: np.ndarray, a: Agent) -> Drawn:
        """Draw ``a``; return its box (unclipped), plate box and lights."""
        p = self.proj
        w2, h, far = a.width / 2, a.height, a.d + a.length
        body = a.colour
        polys: list[np.ndarray] = []
        if a.cls is not VehicleClass.MOTORBIKE:
            roof_z = h
            roof = p.poly([(a.x - w2, a.d, roof_z), (a.x + w2, a.d, roof_z),
                           (a.x + w2, far, roof_z), (a.x - w2, far, roof_z)])  # fmt: skip
            side_x = a.x + w2 if a.x + w2 < p.cam.x_cam else a.x - w2
            side = p.poly([(side_x, a.d, 0.0), (side_x, far, 0.0),
                           (side_x, far, h), (side_x, a.d, h)])  # fmt: skip
            cv2.fillPoly(img, [side], _shade(body, 0.7))
            cv2.fillPoly(img, [roof], _shade(body, 1.1))
            polys += [side, roof]
        face = self._face_rect(a, -w2, w2, 0.0, h)
        if a.cls is VehicleClass.MOTORBIKE:
            face = self._face_rect(a, -0.3, 0.3, 0.0, h)
        x1, y1, x2, y2 = face
        polys.append(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.int32))
        lights = self._draw_face(img, a)
        for poly in polys:
            cv2.fillPoly(ids, [poly], a.track_id)
        allpts = np.concatenate(polys)
        box = (float(allpts[:, 0].min()), float(allpts[:, 1].min()),
               float(allpts[:, 0].max()), float(allpts[:, 1].max()))  # fmt: skip
        return Drawn(box=box, plate_box=self._plate_box(a), lights=lights)

    def _plate_box(self, a: Agent) -> tuple[int, int, int, int] | None:
        if a.oncoming and a.plate.kind is VehicleKind.MOTORBIKE:
            return None  # motorbikes carry no front plate
        pw, ph = plate_size_m(a.plate, self.plate_scale)
        z0 = {VehicleClass.CAR: 0.25, VehicleClass.MOTORBIKE: 0.5,
              VehicleClass.BUS: 0.45, VehicleClass.TRUCK: 0.35}[a.cls]  # fmt: skip
        return self._face_rect(a, -pw / 2, pw / 2, z0, z0 + ph)

    def _draw_face(self, img: np.ndarray, a: Agent) -> list[tuple[int, int, int, Colour]]:
        h, w2, body = a.height, a.width / 2, a.colour
        s = self.proj.scale(a.d)
        lights: list[tuple[int, int, int, Colour]] = []

        def light(x: float, z: float, c: Colour, r: float = 0.12) -> None:
            u, v = self.proj.uv(a.x + x, a.d, z)
            lights.append((round(u), round(v), max(1, round(r * s)), c))

        if a.cls is VehicleClass.MOTORBIKE:
            self._rect(img, a, -0.06, 0.06, 0.0, 0.62, _DARK)  # wheel
            self._rect(img, a, -0.25, 0.25, 0.55, 0.95, _shade(body, 0.8))  # body and seat
            shirt = (body[2], body[0], body[1])
            self._rect(img, a, -0.24, 0.24, 0.95, 1.42, shirt)  # rider
            u, v = self.proj.uv(a.x, a.d, 1.53)
            cv2.circle(img, (round(u), round(v)), max(1, round(0.13 * s)), _shade(body, 0.5), -1)
            light(0.0, 0.9, _HEAD if a.oncoming else _RED, 0.06)
            return lights
        k = {VehicleClass.CAR: 0.55, VehicleClass.BUS: 0.35, VehicleClass.TRUCK: 0.25}[a.cls]
        self._rect(img, a, -w2, w2, 0.1, h, body)
        self._rect(img, a, -w2 * 0.95, -w2 * 0.65, 0.0, 0.2, _DARK)  # wheels
        self._rect(img, a, w2 * 0.65, w2 * 0.95, 0.0, 0.2, _DARK)
        if a.cls is VehicleClass.TRUCK and not a.oncoming:
            self._rect(img, a, -w2, w2, 0.3, 0.42, _DARK)  # bumper
            self._rect(img, a, -0.02, 0.02, 0.5, h - 0.1, _shade(body, 0.6))  # door seam
        else:
            glass = (0.95, 0.6) if a.oncoming else (0.85, 0.7)
            self._rect(img, a, -w2 * glass[0], w2 * glass[0], h * k + 0.1, h * 0.93, _GLASS)
        if a.oncoming:
            light(-w2 * 0.75, 0.55, _HEAD, 0.13)
            light(w2 * 0.75, 0.55, _HEAD, 0.13)
            self._rect(img, a, -w2 * 0.4, w2 * 0.4, 0.45, 0.62, _DARK)  # grille
        else:
            for sx in (-1.0, 1.0):
                self._rect(img, a, sx * w2 * 0.97, sx * w2 * 0.75, h * k - 0.05, h * k + 0.1, _RED)
                light(sx * w2 * 0.86, h * k + 0.02, _RED, 0.1)
        return lights
