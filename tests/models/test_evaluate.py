"""Plate-reading evaluation: both tables count the same reads; readable is by character height."""

from __future__ import annotations

import numpy as np

from ioc.plates import PlateLayout
from models.evaluate import (
    CHAR_BANDS,
    PLATE_BANDS,
    READABLE_CHAR_PX,
    evaluate_plates,
    format_plates,
)
from models.plate_reader import PlateRead


class _Reader:
    """Reads every plate as the same string and remembers the boxes it was given."""

    def __init__(self) -> None:
        self.boxes: list[tuple[float, float, float, float]] = []

    def read(self, frame: np.ndarray, box: tuple[float, float, float, float],
             kind: object = None) -> PlateRead:
        assert frame.shape[:2] == (720, 1280)
        self.boxes.append(box)
        return PlateRead("75A12345", "75A12345", PlateLayout.ONE_LINE, None, 1.0, True, 0)


def test_plate_report_counts_each_read_once_in_each_table() -> None:
    reader = _Reader()
    rep = evaluate_plates(reader, [9000, 9001], frames=2, width=1280)  # type: ignore[arg-type]
    n = len(reader.boxes)
    assert n > 10
    assert sum(c[1] for c in rep.bands.values()) == n
    assert sum(c[1] for c in rep.char_bands.values()) == n
    readable = sum(c[1] for (lo, _), c in rep.char_bands.items() if lo >= READABLE_CHAR_PX)
    assert rep.readable[1] == readable
    assert set(rep.bands) == set(PLATE_BANDS)
    assert set(rep.char_bands) == set(CHAR_BANDS)
    # a reader that always says the same string misses every readable plate but its own
    assert len(rep.failures) == rep.readable[1] - rep.readable[0]
    assert all(char_px >= READABLE_CHAR_PX for _, _, char_px, _ in rep.failures)
    text = format_plates(rep)
    assert f"readable (characters >= {READABLE_CHAR_PX} px high): " in text
    assert "plate width px" in text
    assert "char height px" in text
