"""Vietnamese licence plates (Circular 79/2024/TT-BCA): normalise, validate, correct, format.

Pure standard library, shared by the simulators, the edge plate reader, the stream's
watchlist matching and the cloud. Plates are handled in their *normalised* form
(upper case, no spaces, dots or hyphens: ``75A12345``); the layout (car one line,
car two lines, motorbike two lines) travels beside it because the normalised form
alone is ambiguous (``75A12345`` is car ``75A-123.45`` or motorbike ``75-A1 2345``).
"""

from __future__ import annotations

import enum
import random
import re
from dataclasses import dataclass

__all__ = [
    "CONFUSION_CLASSES",
    "LETTERS",
    "Plate",
    "PlateColour",
    "PlateLayout",
    "VehicleKind",
    "are_confusable",
    "confusion_distance",
    "correct",
    "format_lines",
    "format_plate",
    "is_valid",
    "kinds_for",
    "normalise",
    "one_confusion_apart",
    "random_plate",
    "split",
]

#: Letters in use on plates: never I, J, O, Q, W (R only for trailers).
LETTERS = "ABCDEFGHKLMNPSTUVXYZ"
_L = "[A-HK-NPS-VX-Z]"
CAR_RE = re.compile(rf"^[0-9]{{2}}({_L}{{1,2}}|R)[0-9]{{4,5}}$")
MOTORBIKE_RE = re.compile(rf"^[0-9]{{2}}({_L}[1-9]|{_L}{{2}}|MĐ[1-9]?)[0-9]{{4,5}}$")

# OCR confusions corrected by position (vietnam.md §1).
_TO_DIGIT = dict(zip("OQDUILJZSGTBA", "0000111256784", strict=True))
_TO_LETTER = dict(zip("08256417OQIJW", "DBZSGALTDDLLV", strict=True))

#: Characters an OCR engine confuses with each other; a watchlist tolerates a swap
#: inside one class more readily than an arbitrary one.
CONFUSION_CLASSES: tuple[frozenset[str], ...] = (
    frozenset("0ODQU"),
    frozenset("1ILJT7"),
    frozenset("2Z"),
    frozenset("5S"),
    frozenset("6G"),
    frozenset("8B3"),
    frozenset("4A"),
    frozenset("VY"),
    frozenset("MN"),
    frozenset("CG"),
    frozenset("EF"),
    frozenset("HK"),
    frozenset("PR"),
    frozenset("DĐ"),
)
_SEPARATORS = re.compile(r"[\s.\-_·/]+")


class VehicleKind(enum.StrEnum):
    """What a plate is fitted to; decides which pattern it must match."""

    CAR = "car"
    MOTORBIKE = "motorbike"


class PlateLayout(enum.StrEnum):
    """How the characters sit on the plate."""

    ONE_LINE = "one_line"
    TWO_LINE = "two_line"


class PlateColour(enum.StrEnum):
    """Background colour: white private, yellow commercial transport, blue state bodies."""

    WHITE = "white"
    YELLOW = "yellow"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Plate:
    """One plate: normalised text plus what the text alone cannot say."""

    text: str
    kind: VehicleKind
    layout: PlateLayout
    colour: PlateColour = PlateColour.WHITE

    def display(self) -> str:
        """Human form on one line, e.g. ``75A-123.45`` or ``75-B1 123.45``."""
        return format_plate(self.text, self.kind)

    def lines(self) -> tuple[str, ...]:
        """The text lines as printed on the plate (one or two)."""
        return format_lines(self.text, self.kind, self.layout)


def normalise(text: str) -> str:
    """Upper-case and drop spaces, dots and hyphens: ``"75a-123.45"`` → ``"75A12345"``."""
    return _SEPARATORS.sub("", text.strip().upper().replace("đ", "Đ"))


def kinds_for(plate: str) -> tuple[VehicleKind, ...]:
    """Vehicle kinds whose pattern the (normalised) plate matches, car first."""
    p = normalise(plate)
    out: list[VehicleKind] = []
    if CAR_RE.match(p):
        out.append(VehicleKind.CAR)
    if MOTORBIKE_RE.match(p):
        out.append(VehicleKind.MOTORBIKE)
    return tuple(out)


def is_valid(plate: str, kind: VehicleKind | str | None = None) -> bool:
    """True when the plate matches the pattern of ``kind`` (or of any kind when None)."""
    kinds = kinds_for(plate)
    if kind is None:
        return bool(kinds)
    return VehicleKind(kind) in kinds


def _series_len(p: str, kind: VehicleKind) -> int:
    """Length of the series (the characters between area code and serial number)."""
    if kind is VehicleKind.MOTORBIKE:
        if p[2:4] == "MĐ":
            # MĐ + digit + 4-5 digits, or MĐ + 4-5 digits; 5 trailing digits read as serial.
            return 3 if len(p) - 4 == 6 else 2
        return 2
    return 2 if p[3].isalpha() else 1


def split(plate: str, kind: VehicleKind | str) -> tuple[str, str, str]:
    """Split a valid plate into (area code, series, serial number).

    Raises ValueError when the plate is not valid for ``kind``.
    """
    k = VehicleKind(kind)
    p = normalise(plate)
    if not is_valid(p, k):
        raise ValueError(f"{plate!r} is not a valid {k.value} plate")
    n = _series_len(p, k)
    return p[:2], p[2 : 2 + n], p[2 + n :]


def _serial_display(serial: str) -> str:
    return f"{serial[:3]}.{serial[3:]}" if len(serial) == 5 else serial


def format_lines(
    plate: str, kind: VehicleKind | str, layout: PlateLayout | str | None = None
) -> tuple[str, ...]:
    """Lines as printed: car one line ``("75A-123.45",)``, two lines ``("75A", "123.45")``,
    motorbike ``("75-B1", "123.45")``. Motorbikes are always two lines."""
    k = VehicleKind(kind)
    lay = PlateLayout(layout) if layout is not None else None
    area, series, serial = split(plate, k)
    if k is VehicleKind.MOTORBIKE:
        return f"{area}-{series}", _serial_display(serial)
    if lay is PlateLayout.TWO_LINE:
        return f"{area}{series}", _serial_display(serial)
    return (f"{area}{series}-{_serial_display(serial)}",)


def format_plate(plate: str, kind: VehicleKind | str) -> str:
    """Display form on one line: ``75A-123.45`` (car), ``75-B1 123.45`` (motorbike)."""
    return " ".join(format_lines(plate, kind, PlateLayout.ONE_LINE))


# --- position-based correction -------------------------------------------------------

# Templates per kind: D digit, L letter, N digit 1-9, R literal R.
_TEMPLATES: dict[VehicleKind, tuple[str, ...]] = {
    VehicleKind.CAR: ("DDLDDDDD", "DDLDDDD", "DDLLDDDDD", "DDLLDDDD", "DDRDDDDD", "DDRDDDD"),
    VehicleKind.MOTORBIKE: ("DDLNDDDDD", "DDLNDDDD", "DDLLDDDDD", "DDLLDDDD"),
}


def _fit(text: str, template: str) -> tuple[str, int] | None:
    """Coerce ``text`` onto ``template``; return (corrected, substitutions) or None."""
    if len(text) != len(template):
        return None
    out: list[str] = []
    subs = 0
    for ch, slot in zip(text, template, strict=True):
        if slot in "DN":
            c = ch if ch in "0123456789" else _TO_DIGIT.get(ch)  # ASCII only
            if c is None or (slot == "N" and c == "0"):
                return None
        elif slot == "R":
            c = "R" if ch in "RPK" else None
            if c is None:
                return None
        else:
            c = ch if ch in LETTERS else _TO_LETTER.get(ch)
            if c is None:
                return None
        subs += c != ch
        out.append(c)
    return "".join(out), subs


def correct(text: str, kind: VehicleKind | str | None = None) -> tuple[str, int]:
    """Correct OCR confusions by position (letters vs digits).

    Returns ``(plate, substitutions)``: the normalised plate after the fewest
    position-based substitutions that make it valid for ``kind`` (any kind when
    None), or the normalised input and -1 when no template fits.
    """
    p = normalise(text)
    kinds = (VehicleKind(kind),) if kind is not None else tuple(VehicleKind)
    if any(is_valid(p, k) for k in kinds):
        return p, 0
    best: tuple[str, int] | None = None
    for k in kinds:
        for template in _TEMPLATES[k]:
            fitted = _fit(p, template)
            if fitted and is_valid(fitted[0], k) and (best is None or fitted[1] < best[1]):
                best = fitted
    return best if best is not None else (p, -1)


# --- watchlist tolerance ------------------------------------------------------------


def are_confusable(a: str, b: str) -> bool:
    """True when single characters ``a`` and ``b`` share a confusion class (or are equal)."""
    return a == b or any(a in cls and b in cls for cls in CONFUSION_CLASSES)


def confusion_distance(a: str, b: str, *, confusable_only: bool = True) -> int | None:
    """Substitutions between two plates of equal length, or None when not comparable.

    With ``confusable_only`` every differing position must be an OCR confusion
    (``75A12345`` vs ``75A1234S``); otherwise any substitution counts (Hamming).
    """
    pa, pb = normalise(a), normalise(b)
    if len(pa) != len(pb):
        return None
    dist = 0
    for ca, cb in zip(pa, pb, strict=True):
        if ca == cb:
            continue
        if confusable_only and not are_confusable(ca, cb):
            return None
        dist += 1
    return dist


def one_confusion_apart(a: str, b: str) -> bool:
    """True when the plates differ by exactly one substitution inside a confusion class."""
    return confusion_distance(a, b) == 1


def confusion_variants(plate: str) -> set[str]:
    """Every plate one OCR confusion away from ``plate`` (normalised; ``plate`` excluded).

    A watchlist indexes these so that a read with one confused character finds its
    entry by a dictionary lookup instead of a scan."""
    p = normalise(plate)
    out: set[str] = set()
    for i, ch in enumerate(p):
        for cls in CONFUSION_CLASSES:
            if ch in cls:
                out.update(p[:i] + other + p[i + 1:] for other in cls if other != ch)
    return out


# --- generation for simulators ---------------------------------------------------------


def random_plate(
    rng: random.Random,
    kind: VehicleKind | str,
    *,
    area: str | None = None,
    layout: PlateLayout | str | None = None,
    colour: PlateColour | str | None = None,
) -> Plate:
    """A random valid plate from ``rng`` (so a seeded simulator is reproducible).

    Cars get one letter (90 %) or two, five digits (90 %) or four; one or two
    lines at random unless ``layout`` is given. Motorbikes get letter+digit or two
    letters and are always two lines. Colour is mostly white, some yellow or blue.
    """
    k = VehicleKind(kind)
    code = area if area is not None else rng.choice(["75", "75", "75", f"{rng.randint(11, 99)}"])
    n_digits = 5 if rng.random() < 0.9 else 4
    serial = "".join(str(rng.randint(0, 9)) for _ in range(n_digits))
    if k is VehicleKind.CAR:
        series = rng.choice(LETTERS) + (rng.choice(LETTERS) if rng.random() < 0.1 else "")
        lay = PlateLayout(layout) if layout else rng.choice(list(PlateLayout))
    else:
        second = str(rng.randint(1, 9)) if rng.random() < 0.7 else rng.choice(LETTERS)
        series = rng.choice(LETTERS) + second
        lay = PlateLayout.TWO_LINE
    if colour is None:
        r = rng.random()
        col = PlateColour.WHITE if r < 0.75 else PlateColour.YELLOW if r < 0.9 else PlateColour.BLUE
    else:
        col = PlateColour(colour)
    text = f"{code}{series}{serial}"
    assert is_valid(text, k), text  # generator invariant
    return Plate(text=text, kind=k, layout=lay, colour=col)
