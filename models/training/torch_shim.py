"""Make PyPI's CUDA-built torchvision import beside the CPU build of torch.

torchvision's compiled ops fail to load against the CPU torch wheel, and its
Python side then refuses to import because ``torchvision::nms`` is not defined
("operator torchvision::nms does not exist"). Ultralytics only needs ``nms``,
so this module defines ``torchvision::nms`` (and ``qnms``) with a plain torch
CPU implementation *before* torchvision is imported. Training code only.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger(__name__)

_LIBS: list[object] = []  # keep the Library objects alive, or the ops are unregistered


def _nms_cpu(dets, scores, iou_threshold: float):  # type: ignore[no-untyped-def]
    """Greedy IoU suppression; returns kept indices sorted by descending score."""
    import torch

    if dets.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=dets.device)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    order = scores.argsort(descending=True)
    keep: list[int] = []
    suppressed = torch.zeros(dets.shape[0], dtype=torch.bool)
    xx1, yy1, xx2, yy2 = x1.tolist(), y1.tolist(), x2.tolist(), y2.tolist()
    ar = areas.tolist()
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        ix1 = torch.maximum(x1, torch.tensor(xx1[i]))
        iy1 = torch.maximum(y1, torch.tensor(yy1[i]))
        ix2 = torch.minimum(x2, torch.tensor(xx2[i]))
        iy2 = torch.minimum(y2, torch.tensor(yy2[i]))
        inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
        iou = inter / (ar[i] + areas - inter + 1e-9)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def install() -> None:
    """Define ``torchvision::nms`` on CPU when torchvision's own ops cannot load."""
    if "torchvision" in sys.modules:
        return
    import torch

    if torch.version.cuda is not None:  # a CUDA build: torchvision's own ops load
        return

    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        impl = torch.library.Library("torchvision", "IMPL", "CPU")
        impl.impl("nms", _nms_cpu)
        impl.impl("qnms", _nms_cpu)
        _LIBS.extend([lib, impl])
    except RuntimeError as exc:  # torchvision's own ops are already there
        logger.debug("torchvision ops present: %s", exc)
        return
    import torchvision.extension

    # torchvision.ops.nms asserts that the compiled ops loaded; ours are enough.
    torchvision.extension._has_ops = lambda: True
    logger.info("registered a CPU torchvision::nms")
