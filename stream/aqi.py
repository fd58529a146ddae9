"""VN_AQI maths of Decision 1459/QĐ-TCMT (2019-11-12): sub-indices, NowCast, hourly and
daily index, and the six bands with their Vietnamese names and official colours.

Pure functions over numbers; :mod:`stream.air` feeds them from a station's readings.
The breakpoint tables are ``/work/shared/domain/vietnam.md`` §2 verbatim.

Rounding: every sub-index is computed exactly by linear interpolation and the index
(the maximum over pollutants) is rounded *half up* to an integer, after rounding away
binary noise below 1e-9. Half up is what the decision's own daily example needs
(PM2.5 24 h 55.7 µg/m³ gives exactly 109.5, printed as 110) and it reproduces every
other worked example (O3 136.1 → 43, NO2 130.8 → 65, NowCast 20.3 → 41) except one:
NO2 118.7 µg/m³ gives 59.35, which the decision prints as 60. No single rounding rule
gives both 60 there and 65 for NO2 130.8 (65.4), so we keep half up and read that 60 as
a typo. Python's ``round`` is not used: it rounds halves to even (108.5 → 108).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

Pollutant = Literal["pm25", "pm10", "o3", "no2", "so2", "co"]
Averaging = Literal["1h", "8h", "24h", "nowcast"]

#: Pollutants in the order used to break ties for the dominant pollutant.
POLLUTANTS: Final[tuple[Pollutant, ...]] = ("pm25", "pm10", "o3", "no2", "so2", "co")
PM: Final[tuple[Pollutant, ...]] = ("pm25", "pm10")
GASES: Final[tuple[Pollutant, ...]] = ("o3", "no2", "so2", "co")

_INDEX: Final = (0, 50, 100, 150, 200, 300, 400, 500)
#: Breakpoints in µg/m³ (Decision 1459, table 1). PM tables apply to the 24 h mean and to
#: the hourly NowCast; O3 8 h stops at index 300 (400 µg/m³).
BREAKPOINTS: Final[dict[tuple[Pollutant, str], tuple[float, ...]]] = {
    ("o3", "1h"): (0, 160, 200, 300, 400, 800, 1000, 1200),
    ("o3", "8h"): (0, 100, 120, 170, 210, 400),
    ("co", "1h"): (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    ("so2", "1h"): (0, 125, 350, 550, 800, 1600, 2100, 2630),
    ("no2", "1h"): (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    ("pm10", "24h"): (0, 50, 150, 250, 350, 420, 500, 600),
    ("pm25", "24h"): (0, 25, 50, 80, 150, 250, 350, 500),
}
AQI_MAX: Final = 500


class BeyondTableError(ValueError):
    """A concentration above a table that has no top band (O3 8 h above 400 µg/m³)."""


class AqiUnavailableError(ValueError):
    """The index cannot be computed from what is there (no PM, no NowCast, ...)."""


@dataclass(frozen=True, slots=True)
class Band:
    """One VN_AQI band: its key, names, index range and official RGB colour."""

    key: str
    name_en: str
    name_vi: str
    lo: int
    hi: int
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        """The colour as ``#rrggbb``."""
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


BANDS: Final[tuple[Band, ...]] = (
    Band("good", "Good", "Tốt", 0, 50, (0, 228, 0)),
    Band("moderate", "Moderate", "Trung bình", 51, 100, (255, 255, 0)),
    Band("poor", "Poor", "Kém", 101, 150, (255, 126, 0)),
    Band("bad", "Bad", "Xấu", 151, 200, (255, 0, 0)),
    Band("very_bad", "Very bad", "Rất xấu", 201, 300, (143, 63, 151)),
    Band("hazardous", "Hazardous", "Nguy hại", 301, 500, (126, 0, 35)),
)


def band_of(aqi: int) -> Band:
    """The band of an integer index (0..500)."""
    if not 0 <= aqi <= AQI_MAX:
        raise ValueError(f"VN_AQI {aqi} is outside 0..{AQI_MAX}")
    for band in BANDS:
        if aqi <= band.hi:
            return band
    raise AssertionError("unreachable: the last band ends at 500")


def round_half_up(x: float) -> int:
    """Round to an integer, halves up (see the module docstring for why)."""
    return math.floor(round(x, 9) + 0.5)


@dataclass(frozen=True, slots=True)
class SubIndex:
    """The index of one pollutant: exact value, rounded value and whether it was capped."""

    pollutant: Pollutant
    averaging: Averaging
    concentration: float
    exact: float
    capped: bool = False

    @property
    def aqi(self) -> int:
        return round_half_up(self.exact)


def _table(pollutant: str, averaging: str) -> tuple[float, ...]:
    if pollutant in PM:
        if averaging not in ("24h", "nowcast"):
            raise ValueError(f"{pollutant} is indexed by its 24h mean or its hourly NowCast,"
                             f" not by averaging {averaging!r}")
        return BREAKPOINTS[(pollutant, "24h")]  # type: ignore[index]
    table = BREAKPOINTS.get((pollutant, averaging))  # type: ignore[arg-type]
    if table is None:
        known = sorted(f"{p} {a}" for p, a in BREAKPOINTS)
        raise ValueError(f"no VN_AQI breakpoints for {pollutant!r} over {averaging!r}"
                         f" (known: {', '.join(known)}, and PM nowcast)")
    return table


def sub_index(pollutant: str, concentration: float, averaging: str) -> SubIndex:
    """The VN_AQI sub-index of one concentration (µg/m³).

    Above the top breakpoint the index is capped at 500 and ``capped`` is set. O3 8 h
    has no breakpoints above 400 µg/m³ (index 300): the decision gives no 8 h index
    there, so :class:`BeyondTableError` says so and the caller uses the 1 h O3 index.
    A negative or non-finite concentration is a :class:`ValueError`.
    """
    table = _table(pollutant, averaging)
    if not math.isfinite(concentration) or concentration < 0:
        raise ValueError(f"{pollutant} {averaging} concentration {concentration!r} µg/m³"
                         " must be a finite number >= 0")
    top = table[-1]
    if concentration > top:
        if len(table) < len(_INDEX):
            raise BeyondTableError(
                f"{pollutant} {averaging} {concentration} µg/m³ is above the top breakpoint"
                f" {top} µg/m³ (index {_INDEX[len(table) - 1]}); Decision 1459 gives no"
                f" {averaging} index above it: use the 1h {pollutant} index")
        return SubIndex(pollutant, averaging, concentration, float(AQI_MAX), True)  # type: ignore[arg-type]
    i = max(bisect.bisect_left(table, concentration) - 1, 0)
    bp_lo, bp_hi = table[i], table[i + 1]
    i_lo, i_hi = _INDEX[i], _INDEX[i + 1]
    exact = (i_hi - i_lo) / (bp_hi - bp_lo) * (concentration - bp_lo) + i_lo
    return SubIndex(pollutant, averaging, concentration, exact)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class NowCast:
    """A NowCast concentration with the weight used and how many hours it saw."""

    value: float
    weight: float
    hours: int


def nowcast(hourly: Sequence[float | None]) -> NowCast | None:
    """NowCast over the last 12 hourly means ``c1..c12`` (``c1`` newest, ``None`` missing).

    ``w* = Cmin/Cmax`` over the hours present, ``w = max(w*, 0.5)``; for ``w > 0.5``
    the weighted mean ``Σ w^(i-1)·c_i / Σ w^(i-1)``, for ``w = 0.5`` the sum
    ``Σ 0.5^i·c_i``. A missing hour has weight 0. None when fewer than two of c1..c3
    are present (the decision's completeness rule).
    """
    if len(hourly) > 12:
        raise ValueError(f"NowCast takes at most 12 hourly means, got {len(hourly)}")
    present = [(i, c) for i, c in enumerate(hourly) if c is not None]
    for _, c in present:
        if not math.isfinite(c) or c < 0:
            raise ValueError(f"NowCast hourly mean {c!r} must be a finite number >= 0")
    if sum(1 for i, _ in present if i < 3) < 2:
        return None
    cmax = max(c for _, c in present)
    cmin = min(c for _, c in present)
    w = max(cmin / cmax, 0.5) if cmax > 0 else 1.0
    if w > 0.5:
        num = math.fsum(w**i * c for i, c in present)
        den = math.fsum(w**i for i, _ in present)
        value = num / den
    else:
        value = math.fsum(0.5 ** (i + 1) * c for i, c in present)
    return NowCast(value, w, len(present))


@dataclass(frozen=True, slots=True)
class AqiResult:
    """An hourly or daily VN_AQI: the index, its dominant pollutant, band and sub-indices."""

    aqi: int
    dominant: Pollutant
    subs: Mapping[Pollutant, SubIndex]
    notes: tuple[str, ...] = ()

    @property
    def band(self) -> Band:
        return band_of(self.aqi)

    @property
    def capped(self) -> bool:
        return any(s.capped for s in self.subs.values())


def _combine(subs: dict[Pollutant, SubIndex], what: str, notes: list[str]) -> AqiResult:
    if not any(p in subs for p in PM):
        raise AqiUnavailableError(
            f"{what}: no PM2.5 or PM10 value; Decision 1459 computes VN_AQI only when one of"
            " them is present (gases alone: " + (", ".join(subs) or "none") + ")")
    dominant = max(POLLUTANTS, key=lambda p: (subs[p].exact, -POLLUTANTS.index(p))
                   if p in subs else (-1.0, 0))
    for s in subs.values():
        if s.capped:
            notes.append(f"{what}: {s.pollutant} {s.averaging} {s.concentration} µg/m³ is above"
                         " the top breakpoint; its index is capped at 500")
    return AqiResult(subs[dominant].aqi, dominant, subs, tuple(notes))


def hourly_aqi(*, pm25_nowcast: float | None = None, pm10_nowcast: float | None = None,
               o3_1h: float | None = None, no2_1h: float | None = None,
               so2_1h: float | None = None, co_1h: float | None = None) -> AqiResult:
    """Hourly VN_AQI: PM by NowCast, gases by their 1 h mean. Raises
    :class:`AqiUnavailableError` without PM."""
    subs: dict[Pollutant, SubIndex] = {}
    for p, c, avg in (("pm25", pm25_nowcast, "nowcast"), ("pm10", pm10_nowcast, "nowcast"),
                      ("o3", o3_1h, "1h"), ("no2", no2_1h, "1h"), ("so2", so2_1h, "1h"),
                      ("co", co_1h, "1h")):
        if c is not None:
            subs[p] = sub_index(p, c, avg)  # type: ignore[index]
    return _combine(subs, "hourly VN_AQI", [])


def daily_aqi(*, pm25_24h: float | None = None, pm10_24h: float | None = None,
              o3_max_1h: float | None = None, o3_max_8h: float | None = None,
              no2_max_1h: float | None = None, so2_max_1h: float | None = None,
              co_max_1h: float | None = None) -> AqiResult:
    """Daily VN_AQI: PM by 24 h mean, O3 by the larger index of the day's max 1 h and max
    8 h, other gases by the day's max 1 h. Raises :class:`AqiUnavailableError` without PM."""
    subs: dict[Pollutant, SubIndex] = {}
    notes: list[str] = []
    for p, c, avg in (("pm25", pm25_24h, "24h"), ("pm10", pm10_24h, "24h"),
                      ("no2", no2_max_1h, "1h"), ("so2", so2_max_1h, "1h"),
                      ("co", co_max_1h, "1h")):
        if c is not None:
            subs[p] = sub_index(p, c, avg)  # type: ignore[index]
    o3: list[SubIndex] = []
    if o3_max_1h is not None:
        o3.append(sub_index("o3", o3_max_1h, "1h"))
    if o3_max_8h is not None:
        try:
            o3.append(sub_index("o3", o3_max_8h, "8h"))
        except BeyondTableError as exc:
            notes.append(f"daily VN_AQI: {exc}")
    if o3:
        subs["o3"] = max(o3, key=lambda s: s.exact)
    return _combine(subs, "daily VN_AQI", notes)
