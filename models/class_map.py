"""Mapping a model's own classes onto the project's canonical classes.

The shipped detector already speaks the canonical classes. A user's own
ultralytics-exported model (e.g. COCO) enters through a class map in config:
model class name (or id) → canonical class name; unmapped classes are dropped.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from models.detections import Detections
from models.errors import ModelError

#: Canonical classes, in this order everywhere (same ids as the simulator's YOLO export).
CANONICAL: tuple[str, ...] = ("car", "motorbike", "bus", "truck", "plate")

_COCO_TEXT = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant"
    " stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe"
    " backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite"
    " baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork"
    " knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake"
    " chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard"
    " cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear"
    " hair_drier toothbrush"
)
#: The 80 COCO class names in order (for models that carry no names, e.g. under OpenCV).
COCO_NAMES: tuple[str, ...] = tuple(n.replace("_", " ") for n in _COCO_TEXT.split())

#: Class map for a COCO-trained model (e.g. an ultralytics yolov8n export).
COCO_CLASS_MAP: dict[str, str] = {
    "car": "car",
    "motorcycle": "motorbike",
    "bus": "bus",
    "truck": "truck",
}


def parse_names(metadata: Mapping[str, str]) -> dict[int, str] | None:
    """Class names from ultralytics ONNX metadata (``names`` = "{0: 'car', ...}")."""
    raw = metadata.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError) as exc:
        raise ModelError(f"cannot read class names from model metadata: {raw!r}") from exc
    if isinstance(names, list):
        names = dict(enumerate(names))
    return {int(k): str(v) for k, v in names.items()}


@dataclass(frozen=True, slots=True)
class ClassMap:
    """Model class id → canonical class id (index into ``CANONICAL``)."""

    table: dict[int, int]
    #: model class id -> canonical id, -1 where unmapped (made once: applied every frame)
    _lut: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lut = np.full(max(self.table, default=-1) + 1, -1, np.int64)
        for k, v in self.table.items():
            lut[k] = v
        object.__setattr__(self, "_lut", lut)

    @classmethod
    def build(cls, names: Mapping[int, str], mapping: Mapping[str | int, str] | None) -> ClassMap:
        """From the model's class names and a config mapping (None: identity on names).

        Raises ModelError naming the bad key or value.
        """
        by_name = {v: k for k, v in names.items()}
        if mapping is None:
            mapping = {n: n for n in names.values() if n in CANONICAL}
            if not mapping:
                raise ModelError(
                    f"model classes {sorted(names.values())} include none of {list(CANONICAL)}:"
                    " give a class_map (e.g. the COCO one)"
                )
        table: dict[int, int] = {}
        for key, target in mapping.items():
            if target not in CANONICAL:
                raise ModelError(f"class_map[{key!r}] = {target!r}: not one of {list(CANONICAL)}")
            model_id = key if isinstance(key, int) else by_name.get(key)
            if model_id is None or model_id not in names:
                raise ModelError(f"class_map key {key!r} is not a class of the model")
            table[model_id] = CANONICAL.index(target)
        return cls(table)

    def apply(self, det: Detections) -> Detections:
        """Keep mapped classes only and renumber them to canonical ids."""
        if not len(det):
            return det
        lut = self._lut
        if len(lut) <= int(det.class_id.max()):  # a class id beyond the table's: unmapped
            lut = np.concatenate([lut, np.full(int(det.class_id.max()) + 1 - len(lut), -1)])
        new = lut[det.class_id]
        keep = new >= 0
        return Detections(det.xyxy[keep], det.confidence[keep], new[keep], None)
