"""Give an exported detector a dynamic batch dimension, so several images run at once.

    .venv-train/bin/python -m models.training.dynamic_batch models/plates_128.onnx [OUT]

Ultralytics exports with a fixed batch of 1 (``dynamic=False``: fixed shapes let
onnxslim fold the graph), which writes that 1 into the head's ``Reshape`` targets,
e.g. ``[1, 64, -1]``. In an ONNX ``Reshape`` a 0 copies the input's dimension, so
replacing each leading 1 by 0, naming the input's and output's first dimension and
dropping the intermediate shapes the export inferred (batch 1 each; onnxruntime
infers them again) makes the same graph take any batch. Nothing else changes: the
weights and every node stay as exported. The result is checked before it is written: N images
run as one batch give exactly what N single runs give.

The camera's second stage reads a vehicle's best crops together, one model run for
all of them (``models.detector.Detector.detect_many``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def make_dynamic(src: Path, dst: Path, check_batch: int = 4) -> list[str]:
    """Write ``src`` with a dynamic batch to ``dst``; returns the Reshape nodes changed.
    Raises ValueError for a graph this cannot make batch-free (a shape used elsewhere)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users: dict[str, set[str]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, set()).add(node.op_type)
    changed: list[str] = []
    targets: set[str] = set()  # shape constants rewritten (several nodes may share one)
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        name = node.input[1]
        if name not in inits:
            raise ValueError(f"{src}: {node.name}: shape {name!r} is computed, not a constant")
        if users[name] != {"Reshape"}:
            raise ValueError(f"{src}: {node.name}: shape {name!r} is also used by {users[name]}")
        shape = numpy_helper.to_array(inits[name]).copy()
        if name not in targets and shape.size and shape[0] == 1:
            shape[0] = 0  # copy the batch from the input
            inits[name].CopyFrom(numpy_helper.from_array(shape, name))
            targets.add(name)
        if name in targets:
            changed.append(node.name)
    for value in (*graph.input[:1], *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]  # the intermediate shapes the export inferred, batch 1 in each
    onnx.checker.check_model(model)
    tmp = dst.with_suffix(".tmp.onnx")
    onnx.save(model, str(tmp))
    try:
        _check(src, tmp, check_batch)
    except Exception:
        tmp.unlink()
        raise
    tmp.replace(dst)
    return changed


def _check(src: Path, dst: Path, n: int) -> None:
    import onnxruntime as ort

    a = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    inp = a.get_inputs()[0]
    x = np.random.default_rng(0).random((n, *inp.shape[1:]), dtype=np.float32)
    single = np.concatenate([a.run(None, {inp.name: x[i : i + 1]})[0] for i in range(n)])
    batch = b.run(None, {inp.name: x})[0]
    if batch.shape != single.shape or not np.allclose(batch, single, rtol=1e-4, atol=1e-4):
        raise ValueError(f"{dst}: a batch of {n} differs from {n} single runs")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("out", type=Path, nargs="?", help="default: overwrite MODEL")
    a = ap.parse_args(argv)
    try:
        changed = make_dynamic(a.model, a.out or a.model)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{a.out or a.model}: dynamic batch ({len(changed)} Reshape nodes now copy it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
