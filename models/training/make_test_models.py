"""Write the tiny ONNX files the run-time tests use (needs the ``onnx`` package).

    .venv-train/bin/python -m models.training.make_test_models tests/models/data

- ``bad_output.onnx``: a valid ONNX model whose output is (1, 3), not a detector head;
- ``fake_coco.onnx``: a "detector" with 80 COCO classes in its ultralytics-style
  metadata that always outputs the same three boxes (a car, a motorcycle, a person),
  so the class-map path is tested end to end without a real COCO model.
- ``fake_end2end.onnx``: an NMS-free "detector" (YOLO26 exported with ``nms=False``) at a
  rectangular 64x96 input: (1, 300, 6) rows of x1, y1, x2, y2, score, class, COCO names;
- ``bad_end2end.onnx``: says end2end in its metadata but outputs (1, 300, 5).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from models.class_map import COCO_NAMES


def _save(model: object, path: Path) -> None:
    import onnx

    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def bad_output(path: Path) -> None:
    """Input (1,3,64,64) → GlobalAveragePool → Flatten → (1,3)."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["p"]),
        helper.make_node("Flatten", ["p"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "bad",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3])],
    )
    _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _constant_model(
    name: str, out: np.ndarray, input_hw: tuple[int, int], props: dict[str, str]
) -> object:
    """A graph whose output is ``out`` plus 0 x mean(input), with metadata ``props``."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["const", "z"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))],
        initializer=[
            numpy_helper.from_array(out, "const"),
            numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(model, props)
    return model


_COCO_NAMES = "{" + ", ".join(f"{i}: '{n}'" for i, n in enumerate(COCO_NAMES)) + "}"


def fake_coco(path: Path) -> None:
    """Constant (1, 84, 3) output plus 0 x mean(input), at a 64x64 input."""
    out = np.zeros((1, 84, 3), np.float32)
    # cx, cy, w, h in input pixels, then class scores
    for a, (box, cls) in enumerate(
        (((16, 16, 8, 8), 2), ((40, 40, 6, 12), 3), ((50, 10, 4, 4), 0))
    ):
        out[0, :4, a] = box
        out[0, 4 + cls, a] = 0.9
    model = _constant_model(
        "fake_coco", out, (64, 64), {"names": _COCO_NAMES, "imgsz": "[64, 64]", "task": "detect"}
    )
    _save(model, path)


def fake_end2end(path: Path, width: int = 6) -> None:
    """Constant (1, 300, ``width``) output plus 0 x mean(input), at a 64x96 (h x w) input."""
    out = np.zeros((1, 300, width), np.float32)
    # x1, y1, x2, y2 in input pixels, score, class; the rest of the 300 rows score 0
    rows = ((10, 20, 30, 40, 0.9, 2), (50, 16, 60, 30, 0.8, 3), (0, 0, 5, 5, 0.1, 0))
    for i, row in enumerate(rows):
        out[0, i, :width] = row[:width]
    props = {"names": _COCO_NAMES, "imgsz": "[64, 96]", "task": "detect", "end2end": "True"}
    model = _constant_model("fake_end2end", out, (64, 96), props)
    _save(model, path)


def main() -> int:
    """Write the fixtures into the folder given as the only argument."""
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    bad_output(out / "bad_output.onnx")
    fake_coco(out / "fake_coco.onnx")
    fake_end2end(out / "fake_end2end.onnx")
    fake_end2end(out / "bad_end2end.onnx", width=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
