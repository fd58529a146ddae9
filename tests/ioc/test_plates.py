"""Table-driven tests of Vietnamese plate normalisation, validation, correction, formatting."""

from __future__ import annotations

import random

import pytest

from ioc import plates as P
from ioc.plates import PlateLayout, VehicleKind

CAR, MOTO = VehicleKind.CAR, VehicleKind.MOTORBIKE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("75a-123.45", "75A12345"),
        (" 29-HA 002.33 ", "29HA00233"),
        ("75-B1 123.45", "75B112345"),
        ("99-h7 7060", "99H77060"),
        ("29-mđ1 234.56", "29MĐ123456"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert P.normalise(raw) == expected


@pytest.mark.parametrize(
    ("plate", "car", "moto"),
    [
        ("75A-123.45", True, True),  # the ambiguity vietnam.md warns about
        ("75A-1234", True, False),
        ("51LD-123.45", True, True),
        ("75R-123.45", True, False),
        ("75-B1 123.45", False, True),
        ("29-HA 002.33", True, True),
        ("99-H7 7060", True, True),  # also reads as car 99H-770.60
        ("29-MĐ1 234.56", False, True),
        ("75I-123.45", False, False),  # I never used
        ("75O-123.45", False, False),  # O never used
        ("75W12345", False, False),  # W never used
        ("75Q12345", False, False),
        ("7A12345", False, False),  # one-digit area
        ("75A123", False, False),  # too few digits
        ("75A1234567", False, False),  # too many digits
        ("75-B0 123.45", False, False),  # series digit 0 not used
        ("75ABC12345", False, False),  # three letters
        ("", False, False),
    ],
)
def test_validate(plate: str, car: bool, moto: bool) -> None:
    assert P.is_valid(plate, CAR) is car
    assert P.is_valid(plate, MOTO) is moto
    assert P.is_valid(plate) is (car or moto)


@pytest.mark.parametrize(
    ("plate", "kind", "parts"),
    [
        ("75A12345", CAR, ("75", "A", "12345")),
        ("51LD12345", CAR, ("51", "LD", "12345")),
        ("75B112345", MOTO, ("75", "B1", "12345")),
        ("99H77060", MOTO, ("99", "H7", "7060")),
        ("29HA00233", MOTO, ("29", "HA", "00233")),
    ],
)
def test_split(plate: str, kind: VehicleKind, parts: tuple[str, str, str]) -> None:
    assert P.split(plate, kind) == parts


def test_split_refuses_invalid() -> None:
    with pytest.raises(ValueError, match="not a valid car plate"):
        P.split("75-B1 123.45", CAR)


@pytest.mark.parametrize(
    ("plate", "kind", "layout", "lines"),
    [
        ("75A12345", CAR, PlateLayout.ONE_LINE, ("75A-123.45",)),
        ("75A12345", CAR, PlateLayout.TWO_LINE, ("75A", "123.45")),
        ("75A1234", CAR, PlateLayout.ONE_LINE, ("75A-1234",)),
        ("75B112345", MOTO, PlateLayout.TWO_LINE, ("75-B1", "123.45")),
        ("99H77060", MOTO, PlateLayout.TWO_LINE, ("99-H7", "7060")),
        ("29HA00233", MOTO, PlateLayout.TWO_LINE, ("29-HA", "002.33")),
    ],
)
def test_format_lines(
    plate: str, kind: VehicleKind, layout: PlateLayout, lines: tuple[str, ...]
) -> None:
    assert P.format_lines(plate, kind, layout) == lines


def test_format_plate_one_line_display() -> None:
    assert P.format_plate("75A12345", CAR) == "75A-123.45"
    assert P.format_plate("75B112345", MOTO) == "75-B1 123.45"


@pytest.mark.parametrize(
    ("ocr", "kind", "expected", "subs"),
    [
        ("75A12345", CAR, "75A12345", 0),
        ("7SA12345", CAR, "75A12345", 1),  # S→5 in the area code
        ("75A-I23.4S", CAR, "75A12345", 2),  # I→1, S→5 in the serial
        ("758-123.45", CAR, "75B12345", 1),  # 8→B in the series
        ("750-123.45", CAR, "75D12345", 1),  # 0→D in the series
        ("75AO2345", CAR, "75A02345", 1),  # O→0 in the serial
        ("75-B1 I23.4S", MOTO, "75B112345", 2),
        ("75-8I 123.45", MOTO, "75B112345", 2),  # 8→B letter slot, I→1 digit slot
        ("99-H7 7O6O", MOTO, "99H77060", 2),
    ],
)
def test_correct(ocr: str, kind: VehicleKind, expected: str, subs: int) -> None:
    assert P.correct(ocr, kind) == (expected, subs)


# the last two: a full-width 5 and Arabic-Indic digits are digits to str.isdigit(), not on a plate
@pytest.mark.parametrize("ocr", ["75A12", "ABCDEFGH", "75A12345678", "7#A12345", "75A1234\uff15",
                                 "\u0667\u0665A\u0661\u0662\u0663\u0664\u0665"])
def test_correct_gives_up_on_hopeless_reads(ocr: str) -> None:
    fixed, subs = P.correct(ocr)
    assert subs == -1
    assert fixed == P.normalise(ocr)
    assert not P.is_valid(ocr)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("75A12345", "75A12345", 0),
        ("75A12345", "75A1234S", 1),
        ("75A12345", "75A12845", 1),  # 3 and 8 are confused
        ("75A12345", "75A12346", None),  # 5 vs 6 not confusable
        ("75A12345", "75A1234", None),  # lengths differ
        ("75D12345", "75012345", 1),
        ("75A12345", "7SA1234S", 2),
    ],
)
def test_confusion_distance(a: str, b: str, distance: int | None) -> None:
    assert P.confusion_distance(a, b) == distance


def test_one_confusion_apart() -> None:
    assert P.one_confusion_apart("75A12345", "75A1Z345")
    assert not P.one_confusion_apart("75A12345", "75A12345")
    assert not P.one_confusion_apart("75A12345", "75A12349")
    assert P.confusion_distance("75A12345", "75A12349", confusable_only=False) == 1


@pytest.mark.parametrize("kind", [CAR, MOTO])
def test_random_plates_are_valid_and_seeded(kind: VehicleKind) -> None:
    first = [P.random_plate(random.Random(7), kind) for _ in range(3)]
    again = [P.random_plate(random.Random(7), kind) for _ in range(3)]
    assert first == again
    rng = random.Random(1)
    plates = [P.random_plate(rng, kind) for _ in range(300)]
    assert all(P.is_valid(p.text, kind) for p in plates)
    assert len({p.text for p in plates}) > 250
    assert {p.colour for p in plates} == set(P.PlateColour)
    if kind is MOTO:
        assert {p.layout for p in plates} == {PlateLayout.TWO_LINE}
    else:
        assert {p.layout for p in plates} == set(PlateLayout)
    for p in plates[:50]:
        assert P.normalise(" ".join(p.lines())) == p.text
