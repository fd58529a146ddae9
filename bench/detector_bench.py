"""Detector speed at 320 px on 2 CPU threads, against a baseline measured in the same process.

    .venv/bin/python bench/detector_bench.py [--model models/vehicles_192x320.onnx]

Baseline: the bare onnxruntime session on a ready-made input tensor (no
pre- or post-processing). Then the full ``Detector.detect`` (letterbox,
inference, decoding, NMS, class map) on simulator frames, with each backend,
and the two-stage pipeline (plus the 128 px plate detector on each vehicle crop).
The ratio to the baseline travels between machines better than milliseconds do.
Target (issue 4): <= 20 ms per frame at 320 px on 2 threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from models import SHIPPED_DETECTOR
from models.detector import Detector, DetectorConfig
from models.errors import ModelError
from models.two_stage import TwoStageConfig, TwoStageDetector
from simulators.camera import CameraSimulator, SceneConfig


def timed(fn: Callable[[], object], repeat: int, warmup: int = 5) -> tuple[float, float]:
    """Median and 90th percentile of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main() -> int:
    """Print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=SHIPPED_DETECTOR)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=100)
    args = p.parse_args()
    import onnxruntime as ort

    with CameraSimulator(SceneConfig(seed=4242)) as sim:
        frames = [f for _ in range(10) if (f := sim.read()[1]) is not None]

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(args.model), opts, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 320 for d in inp.shape]
    blob = np.random.default_rng(0).random(shape, dtype=np.float32)
    rows = [
        (
            "baseline: bare onnxruntime run",
            *timed(lambda: session.run(None, {inp.name: blob}), args.repeat),
        )
    ]

    skipped = []
    for backend in ("onnxruntime", "opencv"):
        try:
            det = Detector(
                DetectorConfig(
                    model=args.model,
                    backend=backend,
                    threads=args.threads,
                    imgsz=(shape[2], shape[3]),
                )
            ).load()
        except ModelError as exc:  # e.g. OpenCV cannot run YOLO26's end-to-end head
            skipped.append(f"Detector.detect ({backend}): not run: {exc}")
            continue
        i = iter(range(10**9))
        rows.append(
            (
                f"Detector.detect ({backend})",
                *timed(lambda d=det, i=i: d.detect(frames[next(i) % len(frames)]), args.repeat),
            )
        )

    two = TwoStageDetector(
        TwoStageConfig(vehicles=DetectorConfig(model=args.model, threads=args.threads))
    ).load()
    j = iter(range(10**9))
    rows.append(
        (
            "TwoStageDetector (+ plates/crop)",
            *timed(lambda: two.detect(frames[next(j) % len(frames)]), args.repeat),
        )
    )

    base = rows[0][1]
    print(f"model {args.model.name}, input {shape}, {args.threads} threads, {args.repeat} runs")
    print(f"{'':<34} {'median ms':>10} {'p90 ms':>8} {'x baseline':>11}")
    for name, med, p90 in rows:
        print(f"{name:<34} {med:>10.1f} {p90:>8.1f} {med / base:>11.2f}")
    for line in skipped:
        print(line)
    print("target: <= 20 ms per frame at 320 px on 2 threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
