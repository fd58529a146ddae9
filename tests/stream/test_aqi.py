"""VN_AQI maths: every worked example of vietnam.md §2, tables, NowCast branches, bands."""

from __future__ import annotations

import pytest

from stream.aqi import (
    BANDS,
    BREAKPOINTS,
    AqiUnavailableError,
    BeyondTableError,
    band_of,
    daily_aqi,
    hourly_aqi,
    nowcast,
    round_half_up,
    sub_index,
)

# PM2.5 hourly means 09:00 → 20:00, newest last in the document; c1 = newest.
PM25_DAY = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]


@pytest.mark.parametrize(
    ("pollutant", "conc", "averaging", "accepted"),
    [
        ("o3", 136.1, "1h", {43}),
        ("no2", 118.7, "1h", {59, 60}),  # exact 59.35; the decision prints 60
        ("o3", 89.3, "8h", {45}),
        ("o3", 114.6, "1h", {36}),
        ("no2", 130.8, "1h", {65}),
        ("pm25", 55.7, "24h", {110}),  # exactly 109.5: half up
        ("pm25", 35.0, "24h", {70}),  # US EPA 2024 would say 99
        ("pm25", 42.4951171875, "nowcast", {85}),
        ("pm25", 20.3, "nowcast", {41}),
    ],
)
def test_worked_examples_of_the_decision(pollutant: str, conc: float, averaging: str,
                                         accepted: set[int]) -> None:
    assert sub_index(pollutant, conc, averaging).aqi in accepted


def test_no2_example_exact_value() -> None:
    assert sub_index("no2", 118.7, "1h").exact == pytest.approx(59.35)


@pytest.mark.parametrize(("key", "column"), [
    (("o3", "1h"), (0, 160, 200, 300, 400, 800, 1000, 1200)),
    (("o3", "8h"), (0, 100, 120, 170, 210, 400)),
    (("co", "1h"), (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000)),
    (("so2", "1h"), (0, 125, 350, 550, 800, 1600, 2100, 2630)),
    (("no2", "1h"), (0, 100, 200, 700, 1200, 2350, 3100, 3850)),
    (("pm10", "24h"), (0, 50, 150, 250, 350, 420, 500, 600)),
    (("pm25", "24h"), (0, 25, 50, 80, 150, 250, 350, 500)),
])
def test_every_breakpoint_maps_to_its_index(key: tuple[str, str], column: tuple[int, ...]
                                            ) -> None:
    assert BREAKPOINTS[key] == column  # type: ignore[index]
    for bp, index in zip(column, (0, 50, 100, 150, 200, 300, 400, 500), strict=False):
        assert sub_index(key[0], bp, key[1]).exact == pytest.approx(index)


@pytest.mark.parametrize(("pollutant", "conc", "averaging"), [
    ("pm25", 501.0, "24h"), ("pm10", 2500.0, "nowcast"), ("o3", 1300.0, "1h"),
    ("co", 150001.0, "1h"), ("so2", 9000.0, "1h"), ("no2", 4000.0, "1h"),
])
def test_above_the_top_breakpoint_is_capped_and_flagged(pollutant: str, conc: float,
                                                         averaging: str) -> None:
    s = sub_index(pollutant, conc, averaging)
    assert (s.aqi, s.capped) == (500, True)


def test_top_breakpoint_itself_is_not_capped() -> None:
    s = sub_index("pm25", 500.0, "24h")
    assert (s.aqi, s.capped) == (500, False)


def test_o3_8h_has_no_index_above_400() -> None:
    assert sub_index("o3", 400.0, "8h").aqi == 300
    with pytest.raises(BeyondTableError, match="no 8h index above it: use the 1h o3 index"):
        sub_index("o3", 400.1, "8h")


@pytest.mark.parametrize(("pollutant", "conc", "averaging", "message"), [
    ("pm25", -0.1, "24h", "must be a finite number >= 0"),
    ("no2", float("nan"), "1h", "must be a finite number >= 0"),
    ("co", float("inf"), "1h", "must be a finite number >= 0"),
    ("pm25", 10.0, "1h", "24h mean or its hourly NowCast"),
    ("no2", 10.0, "8h", "no VN_AQI breakpoints for 'no2' over '8h'"),
    ("benzene", 1.0, "1h", "no VN_AQI breakpoints for 'benzene'"),
])
def test_bad_sub_index_input_is_an_error(pollutant: str, conc: float, averaging: str,
                                         message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sub_index(pollutant, conc, averaging)


def test_nowcast_example_of_the_decision() -> None:
    nc = nowcast(list(reversed(PM25_DAY)))
    assert nc is not None
    assert nc.weight == pytest.approx(0.613, abs=1e-3)
    assert nc.value == pytest.approx(20.3, abs=0.05)
    assert hourly_aqi(pm25_nowcast=nc.value).aqi == 41


def test_nowcast_half_weight_branch() -> None:
    nc = nowcast([60, 30] + [20] * 10)
    assert nc is not None
    assert nc.weight == 0.5
    assert nc.value == pytest.approx(42.5, abs=0.01)
    assert hourly_aqi(pm25_nowcast=nc.value).aqi == 85


@pytest.mark.parametrize(("hours", "expected"), [
    ([10.0, None, 10.0], 10.0),  # c1 and c3: two of c1..c3 present
    ([None, 10.0, 10.0], 10.0),
    ([10.0, None, None, 10.0], None),  # only one of c1..c3
    ([None, None, 10.0] + [10.0] * 9, None),
    ([], None),
    ([0.0, 0.0], 0.0),  # all zero: no division by zero
    ([40.0, 20.0], 0.5 * 40 + 0.25 * 20),  # w* = 0.5 exactly: the 0.5 branch, not normalised
    ([40.0, 30.0], (40 + 0.75 * 30) / 1.75),  # w = 0.75: weighted mean
])
def test_nowcast_completeness_and_missing_hours(hours: list[float | None],
                                                expected: float | None) -> None:
    nc = nowcast(hours)
    if expected is None:
        assert nc is None
    else:
        assert nc is not None
        assert nc.value == pytest.approx(expected)


def test_missing_hour_has_weight_zero_in_the_weighted_branch() -> None:
    full = nowcast([20.0, 18.0, 16.0])
    gap = nowcast([20.0, None, 16.0])
    assert full is not None
    assert gap is not None
    w = 16.0 / 20.0
    assert gap.value == pytest.approx((20 + w * w * 16) / (1 + w * w))
    assert gap.hours == 2
    assert full.value != gap.value


@pytest.mark.parametrize("hours", [[1.0] * 13, [1.0, -1.0, 2.0], [1.0, float("nan"), 1.0]])
def test_nowcast_refuses_bad_input(hours: list[float]) -> None:
    with pytest.raises(ValueError, match="NowCast"):
        nowcast(hours)


def test_daily_example_of_the_decision() -> None:
    res = daily_aqi(pm25_24h=55.7, o3_max_1h=114.6, o3_max_8h=89.3, no2_max_1h=130.8)
    assert res.aqi == 110
    assert res.dominant == "pm25"
    assert res.subs["o3"].aqi == 45  # the larger of 8 h (45) and 1 h (36)
    assert res.subs["o3"].averaging == "8h"
    assert res.subs["no2"].aqi == 65
    assert res.band.key == "poor"


def test_daily_o3_8h_above_table_falls_back_to_1h_with_a_note() -> None:
    res = daily_aqi(pm25_24h=10.0, o3_max_1h=900.0, o3_max_8h=450.0)
    assert res.subs["o3"].averaging == "1h"
    assert res.aqi == 350
    assert any("use the 1h o3 index" in n for n in res.notes)


def test_hourly_takes_the_max_and_names_the_dominant_pollutant() -> None:
    res = hourly_aqi(pm25_nowcast=20.3, o3_1h=136.1, no2_1h=118.7)
    assert (res.aqi, res.dominant) == (59, "no2")  # NO2 59.35 > O3 42.5 > PM2.5 40.6
    assert set(res.subs) == {"pm25", "o3", "no2"}


def test_tie_prefers_pm() -> None:
    res = hourly_aqi(pm25_nowcast=25.0, pm10_nowcast=50.0, no2_1h=100.0)
    assert (res.aqi, res.dominant) == (50, "pm25")


def test_capped_index_is_flagged_in_the_result() -> None:
    res = hourly_aqi(pm10_nowcast=700.0)
    assert (res.aqi, res.capped) == (500, True)
    assert "capped at 500" in res.notes[0]


@pytest.mark.parametrize("kwargs", [{"o3_1h": 100.0, "no2_1h": 50.0}, {}])
def test_no_pm_no_hourly_index(kwargs: dict[str, float]) -> None:
    with pytest.raises(AqiUnavailableError, match=r"no PM2\.5 or PM10"):
        hourly_aqi(**kwargs)


def test_no_pm_no_daily_index() -> None:
    with pytest.raises(AqiUnavailableError, match=r"no PM2\.5 or PM10"):
        daily_aqi(o3_max_1h=100.0)


@pytest.mark.parametrize(("aqi", "key", "vi", "rgb"), [
    (0, "good", "Tốt", (0, 228, 0)),
    (50, "good", "Tốt", (0, 228, 0)),
    (51, "moderate", "Trung bình", (255, 255, 0)),
    (100, "moderate", "Trung bình", (255, 255, 0)),
    (101, "poor", "Kém", (255, 126, 0)),
    (150, "poor", "Kém", (255, 126, 0)),
    (151, "bad", "Xấu", (255, 0, 0)),
    (200, "bad", "Xấu", (255, 0, 0)),
    (201, "very_bad", "Rất xấu", (143, 63, 151)),
    (300, "very_bad", "Rất xấu", (143, 63, 151)),
    (301, "hazardous", "Nguy hại", (126, 0, 35)),
    (500, "hazardous", "Nguy hại", (126, 0, 35)),
])
def test_bands(aqi: int, key: str, vi: str, rgb: tuple[int, int, int]) -> None:
    band = band_of(aqi)
    assert (band.key, band.name_vi, band.rgb) == (key, vi, rgb)


def test_band_names_and_colour_hex() -> None:
    assert [b.name_en for b in BANDS] == ["Good", "Moderate", "Poor", "Bad", "Very bad",
                                          "Hazardous"]
    assert band_of(120).hex == "#ff7e00"


@pytest.mark.parametrize("aqi", [-1, 501])
def test_band_outside_the_scale_is_an_error(aqi: int) -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.500"):
        band_of(aqi)


@pytest.mark.parametrize(("x", "expected"), [
    (109.5, 110), (108.5, 109), (59.35, 59), (65.4, 65), (84.99, 85), (0.49999999999, 1),
    (42.0, 42),
])
def test_round_half_up(x: float, expected: int) -> None:
    assert round_half_up(x) == expected
