"""Network input sizes: a square side or (height, width), as configs and CLIs write them.

No numpy or OpenCV here: the CLI parses sizes before any model is loaded.
"""

from __future__ import annotations

import argparse


def input_size(imgsz: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) from a square side or a pair."""
    return (imgsz, imgsz) if isinstance(imgsz, int) else (int(imgsz[0]), int(imgsz[1]))


def parse_input_size(text: str) -> int | tuple[int, int]:
    """``320`` (square) or ``192x320`` (height x width); sides are multiples of 32."""
    h, sep, w = text.strip().lower().partition("x")
    try:
        size = (int(h), int(w)) if sep else (int(h), int(h))
    except ValueError:
        msg = f"image size {text!r}: expected 320 or HEIGHTxWIDTH such as 192x320"
        raise ValueError(msg) from None
    if any(v <= 0 or v % 32 for v in size):
        raise ValueError(f"image size {text!r}: sides must be positive multiples of 32")
    return size if sep else size[0]


def input_size_arg(text: str) -> int | tuple[int, int]:
    """argparse ``type=`` for image sizes: ``parse_input_size`` with argparse's error."""
    try:
        return parse_input_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
