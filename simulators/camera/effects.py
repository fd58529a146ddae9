"""Image conditions: time of day, lights, rain, blur, sensor noise, JPEG artefacts."""

from __future__ import annotations

import cv2
import numpy as np

from simulators.camera.config import SceneConfig, TimeOfDay

# brightness gain and BGR tint by time of day
_LIGHTING: dict[TimeOfDay, tuple[float, tuple[float, float, float]]] = {
    TimeOfDay.DAY: (1.0, (1.0, 1.0, 1.0)),
    TimeOfDay.DUSK: (0.62, (0.85, 0.95, 1.15)),
    TimeOfDay.NIGHT: (0.28, (1.2, 1.0, 0.9)),
}


def plate_gain(tod: TimeOfDay) -> float:
    """Plates are retro-reflective and lit at night: they darken less than the scene."""
    return {TimeOfDay.DAY: 1.0, TimeOfDay.DUSK: 0.8, TimeOfDay.NIGHT: 0.65}[tod]


def apply_lighting(img: np.ndarray, tod: TimeOfDay) -> np.ndarray:
    """Darken and tint the whole frame for the time of day."""
    gain, tint = _LIGHTING[tod]
    if gain == 1.0:
        return img
    out = img.astype(np.float32) * (gain * np.array(tint, dtype=np.float32))
    return np.clip(out, 0, 255).astype(np.uint8)


def draw_lights(
    img: np.ndarray, lights: list[tuple[int, int, int, tuple[int, int, int]]], tod: TimeOfDay
) -> np.ndarray:
    """Head and tail lights; at dusk and night they glow."""
    for u, v, r, c in lights:
        cv2.circle(img, (u, v), r, c, -1, cv2.LINE_AA)
    if tod is TimeOfDay.DAY or not lights:
        return img
    glow = np.zeros_like(img)
    for u, v, r, c in lights:
        cv2.circle(glow, (u, v), r * 3, c, -1, cv2.LINE_AA)
    glow = cv2.GaussianBlur(glow, (0, 0), sigmaX=4)
    return cv2.add(img, glow)


def apply_rain(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey it, and draw slanted streaks."""
    out = cv2.addWeighted(img, 0.85, np.full_like(img, 140), 0.15, 0)
    h, w = img.shape[:2]
    streaks = np.zeros_like(img)
    n = (h * w) // 900
    xs = rng.integers(0, w, n)
    ys = rng.integers(0, h, n)
    lengths = rng.integers(6, 16, n)
    for x, y, length in zip(xs.tolist(), ys.tolist(), lengths.tolist(), strict=True):
        cv2.line(streaks, (x, y), (x + length // 4, y + length), (200, 200, 200), 1)
    return cv2.addWeighted(out, 1.0, streaks, 0.35, 0)


def apply_blur(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Small motion or defocus blur, size drawn per frame up to ``strength``."""
    k = round(rng.uniform(0, strength) * 3)
    if k < 1:
        return img
    size = 2 * k + 1
    if rng.random() < 0.5:
        return cv2.GaussianBlur(img, (size, size), 0)
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1.0 / size
    return cv2.filter2D(img, -1, kernel)


def apply_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian sensor noise."""
    if sigma <= 0:
        return img
    noise = rng.normal(0.0, sigma, img.shape).astype(np.float32)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def apply_jpeg(img: np.ndarray, quality: int | None) -> np.ndarray:
    """Round-trip through JPEG, as a camera stream would."""
    if quality is None:
        return img
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def finish(img: np.ndarray, cfg: SceneConfig, rain: bool, rng: np.random.Generator,
           tod: TimeOfDay) -> np.ndarray:  # fmt: skip
    """Everything after drawing: rain, blur, noise, JPEG."""
    if rain:
        img = apply_rain(img, rng)
    img = apply_blur(img, cfg.blur + (0.3 if rain else 0.0), rng)
    img = apply_noise(img, cfg.noise * (2.0 if tod is TimeOfDay.NIGHT else 1.0), rng)
    return apply_jpeg(img, cfg.jpeg_quality)
