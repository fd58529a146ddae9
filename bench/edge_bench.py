"""Speed of the camera edge pipeline against baselines measured in the same run.

    nice -n 10 .venv/bin/python bench/edge_bench.py [--frames 150] [--no-ultralytics]

All figures come from the same pre-rendered simulator frames (1280x720, the shipped
junction camera's geometry), decoded once into memory, so no pipeline pays for
rendering or decoding:

1. baseline: the bare onnxruntime session (2 threads, the pipeline's own session
   options: ``models.backends.ort_backend.session_options``) on ready-made input
   tensors;
2. the whole camera pipeline, one camera (letterbox, inference, decoding, NMS,
   tracking, rules, plate reading on best frames, evidence JPEGs) and the same
   without plate reading; overhead = pipeline / baseline - 1. Twice: as the agent
   runs it (each frame's detection started in a worker thread while the frame
   before is tracked and judged: ``edge.camera.lookahead``), in blocks over all
   frames between blocks of bare runs; and one frame after the other, each frame
   interleaved with a bare run (a frame's latency). The whole pipeline
   runs two more models on some frames (plate detector on a vehicle's best crops,
   plate-line recogniser), so it is also set against the bare runs of every input
   its sessions ran, recorded and run again right after each frame: what is left
   is the pipeline's own work (rapidocr's fallback, when an unsure plate calls it,
   counts as the pipeline's);
3. four cameras at once, each pipeline in its own process (1 onnxruntime thread
   each) on the same 2 cores, as the agent runs it: frames per second per camera and in total;
4. ultralytics' own ``YOLO(<the same .onnx>).track(frame, persist=True)`` on the
   same frames (ByteTrack, same size and thresholds), in a subprocess of the
   training environment ``.venv-train`` (the edge never imports ultralytics): three
   rounds, a fresh tracker each, between blocks of bare runs.

Targets (issue 6): 4 cameras x 10 FPS together; overhead <= 25 %; >= 2x
ultralytics' tracking pipeline. The simulator's own rendering cost is printed
separately: a real camera renders for free.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from models import SHIPPED_DETECTOR  # noqa: E402

CONFIG = ROOT / "firmware_configs" / "hue" / "cam-lequydon-01.yaml"
TRAIN_PY = ROOT / ".venv-train" / "bin" / "python"

_ULTRA = r"""
import json, sys, time, glob
sys.path.insert(0, sys.argv[1])
from models.training.train import prepare_offline
prepare_offline(2)
import cv2, torch
torch.set_num_threads(2)
from ultralytics import YOLO
frames = [cv2.imread(p) for p in sorted(glob.glob(sys.argv[2] + "/*.png"))]
import onnxruntime as ort
shape = ort.InferenceSession(sys.argv[3]).get_inputs()[0].shape
size = (shape[2], shape[3])  # the model's own (height, width)
model = YOLO(sys.argv[3], task="detect")
for f in frames[:5]:  # warm-up, then a fresh tracker
    model.track(f, persist=True, imgsz=size, conf=0.1, iou=0.5, verbose=False)
import numpy as np, onnxruntime as ort
from models.backends.ort_backend import session_options
sess = ort.InferenceSession(sys.argv[3], session_options(2), providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
from models.postprocess import letterbox
blobs = [letterbox(f, size)[0] for f in frames]
for b in blobs[:5]:
    sess.run(None, {name: b})
# The bare runs come in blocks before and after the tracking, not frame by frame:
# ultralytics' own session keeps its threads spinning after each run (onnxruntime's
# default), which would slow a bare run right after it (30 ms instead of 18 here).
def bare_block():
    out = []
    for b in blobs:
        t0 = time.perf_counter()
        sess.run(None, {name: b})
        out.append(time.perf_counter() - t0)
    return out
# three rounds, each a fresh tracker, between bare blocks: one slow bare block (this
# machine is shared) moved the ratio by 20 % when there was one round
times, bare, ids, rounds = [], bare_block(), set(), []
for _ in range(3):
    model = YOLO(sys.argv[3], task="detect")
    model.track(frames[0], persist=True, imgsz=size, conf=0.1, iou=0.5, verbose=False)
    ms, ids = [], set()
    for f in frames:
        t0 = time.perf_counter()
        r = model.track(f, persist=True, imgsz=size, conf=0.1, iou=0.5, verbose=False,
                        tracker="bytetrack.yaml")
        ms.append(time.perf_counter() - t0)
        if r[0].boxes.id is not None:
            ids.update(int(i) for i in r[0].boxes.id)
    time.sleep(0.5)  # let its threads stop spinning
    before = sum(bare[-len(blobs):]) / len(blobs)
    bare += bare_block()
    after = sum(bare[-len(blobs):]) / len(blobs)
    rounds.append(sum(ms) / len(ms) / ((before + after) / 2))
    times += ms
print(json.dumps({"ms": [t * 1000 for t in times], "bare": [t * 1000 for t in bare],
                  "tracks": len(ids), "rounds": rounds}))
"""


def render(seed: int, n: int) -> tuple[list[np.ndarray], list[str | None], float]:
    """``n`` frames of the shipped junction camera's scene with another seed, and the
    simulator's rendering time per frame (ms)."""
    from edge.camera.config import load_camera_config
    from edge.camera.source import SimulatorFrames

    cfg = load_camera_config(CONFIG)
    src_cfg = cfg.source.model_copy(update={"seed": seed, "realtime": False,  # type: ignore[union-attr]
                                            "max_frames": n + 1})
    src = SimulatorFrames(src_cfg)  # type: ignore[arg-type]
    src.open()
    frames, signals = [], []
    t0 = time.perf_counter()
    while len(frames) < n and (f := src.read()) is not None:
        frames.append(f.image)
        signals.append(f.signal)
    ms = (time.perf_counter() - t0) * 1000 / max(len(frames), 1)
    src.close()
    return frames, signals, ms


def bare_session(threads: int) -> Callable[[np.ndarray], object]:
    """A bare onnxruntime session on the shipped model: blob in, raw output out."""
    import onnxruntime as ort

    from models.backends.ort_backend import session_options

    # the pipeline's own session options, so the baseline differs only in what it skips
    s = ort.InferenceSession(str(SHIPPED_DETECTOR), session_options(threads),
                             providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return lambda blob: s.run(None, {name: blob})


OCR_FALLBACK = True
OCR_BELOW: float | None = None  # plates.full_ocr_below (None: the shipped config's)


class _Recorder:
    """Records every input the pipeline's onnxruntime sessions run (vehicle detector,
    plate detector, plate-line recogniser) and runs them again through bare sessions
    of the same models: what the pipeline's inference alone costs, with everything
    else it does left out."""

    def __init__(self, pipe: object, threads: int) -> None:
        import onnxruntime as ort

        from models.backends.ort_backend import OrtBackend, session_options

        self.todo: list[tuple[str, np.ndarray]] = []
        self.bare: dict[str, tuple[object, str]] = {}
        backends = [getattr(pipe.detector, "_backend", None)]  # type: ignore[attr-defined]
        plates = getattr(pipe, "plates", None)
        if plates is not None:
            backends += [getattr(plates.detector, "_backend", None),
                         getattr(getattr(plates.reader, "_rec", None), "_backend", None)]
        for be in backends:
            if not isinstance(be, OrtBackend):
                continue
            key = str(be.path)
            sess = ort.InferenceSession(key, session_options(threads),
                                        providers=["CPUExecutionProvider"])
            self.bare[key] = (sess, sess.get_inputs()[0].name)
            real = be.infer

            def infer(blob: np.ndarray, real=real, key=key) -> np.ndarray:  # type: ignore[no-untyped-def]
                self.todo.append((key, blob))
                return real(blob)

            be.infer = infer  # type: ignore[method-assign]

    def replay(self) -> float:
        """Run what was recorded since the last call through the bare sessions (ms)."""
        start = time.perf_counter()
        for key, blob in self.todo:
            sess, name = self.bare[key]
            sess.run(None, {name: blob})  # type: ignore[attr-defined]
        self.todo.clear()
        return (time.perf_counter() - start) * 1000


def _pipeline(threads: int, plates: bool, evidence_dir: str) -> Any:
    """The shipped junction camera's pipeline, as ``ioc edge run`` builds it."""
    from edge.camera.build import build_pipeline
    from edge.camera.config import load_camera_config

    cfg = load_camera_config(CONFIG)
    cfg = cfg.model_copy(update={
        "detector": cfg.detector.model_copy(update={"threads": threads}),
        "plates": cfg.plates.model_copy(update={
            "enabled": plates, "threads": threads, "full_ocr_fallback": OCR_FALLBACK,
            "full_ocr_below": cfg.plates.full_ocr_below if OCR_BELOW is None else OCR_BELOW})})
    return build_pipeline(cfg, source=str(CONFIG), base=ROOT, evidence_dir=Path(evidence_dir))


def _frame(i: int, img: np.ndarray, sig: str | None) -> Any:
    from datetime import UTC, datetime, timedelta

    from edge.camera.source import Frame

    return Frame(i, img, datetime(2025, 11, 3, 1, tzinfo=UTC) + timedelta(seconds=i / 10),
                 i / 10, sig)


def _count(kinds: dict[str, int], events: list[object]) -> None:
    for e in events:
        kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1


def pipeline_run(frames: list[np.ndarray], signals: list[str | None], *, threads: int,
                 plates: bool, evidence_dir: str, paired: bool = True,
                 all_models: list[float] | None = None
                 ) -> tuple[list[float], list[float], dict[str, int]]:
    """The whole camera pipeline over the frames, one frame after the other, each frame
    interleaved with a bare onnxruntime run on the same frame (so a change of machine
    load hits both alike): (pipeline ms, bare ms, events produced). With ``all_models``
    (a list to fill), each frame's pipeline run is also followed by bare runs of every
    model input it ran (plate crops and plate lines too): their ms per frame go there."""
    from models.postprocess import letterbox

    pipe = _pipeline(threads, plates, evidence_dir)
    rec = _Recorder(pipe, threads) if all_models is not None else None
    bare = bare_session(threads)
    blobs = [letterbox(f, pipe.detector.input_size)[0] for f in frames] if paired else []
    for img, blob in zip(frames[:5], blobs[:5] or frames[:5], strict=False):  # warm-up
        pipe.detector.detect(img)
        if paired:
            bare(blob)
        if rec is not None:
            rec.replay()
    times: list[float] = []
    bare_ms: list[float] = []
    kinds: dict[str, int] = {}
    for i, (img, sig) in enumerate(zip(frames, signals, strict=True)):
        if paired and i % 2:
            start = time.perf_counter()
            bare(blobs[i])
            bare_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        _count(kinds, pipe.process(_frame(i, img, sig), sig))
        times.append((time.perf_counter() - start) * 1000)
        if rec is not None and all_models is not None:
            all_models.append(rec.replay())
        if paired and not i % 2:
            start = time.perf_counter()
            bare(blobs[i])
            bare_ms.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    _count(kinds, pipe.finish())
    times[-1] += (time.perf_counter() - start) * 1000  # the last passes' plate reads
    if rec is not None and all_models is not None:
        all_models[-1] += rec.replay()
    return times, bare_ms, kinds


def _ahead_block(frames: list[np.ndarray], signals: list[str | None], *, threads: int,
                 plates: bool, evidence_dir: str) -> tuple[float, dict[str, int]]:
    """All frames through a fresh pipeline as the camera agent feeds it (each frame's
    detection started while the frame before is processed): (ms per frame, events)."""
    from edge.camera.lookahead import Lookahead

    pipe = _pipeline(threads, plates, evidence_dir)
    for img in frames[:5]:  # warm-up
        pipe.detector.detect(img)
    ahead, kinds = Lookahead(), {}
    start = time.perf_counter()
    for i, (img, sig) in enumerate(zip(frames, signals, strict=True)):
        _count(kinds, ahead.push(pipe, _frame(i, img, sig), sig))
    _count(kinds, ahead.flush())
    _count(kinds, pipe.finish())
    ms = (time.perf_counter() - start) * 1000 / len(frames)
    ahead.close()
    return ms, kinds


def agent_run(frames: list[np.ndarray], signals: list[str | None], *, plates: bool,
              evidence_dir: str, rounds: int = 3) -> tuple[list[float], list[float],
                                                         dict[str, int]]:
    """The pipeline as the agent runs it, in ``rounds`` blocks over all frames, each
    between two blocks of bare onnxruntime runs on the same frames (the overlap cannot
    be interleaved frame by frame): (ms per frame per block, bare ms per frame per
    block, events of one block)."""
    from models.postprocess import letterbox

    bare = bare_session(2)
    blobs = [letterbox(f, (192, 320))[0] for f in frames]
    for b in blobs[:5]:
        bare(b)

    def bare_block() -> float:
        start = time.perf_counter()
        for b in blobs:
            bare(b)
        return (time.perf_counter() - start) * 1000 / len(blobs)

    ms, bare_ms, kinds = [], [bare_block()], {}
    for r in range(rounds):
        m, kinds = _ahead_block(frames, signals, threads=2, plates=plates,
                                evidence_dir=f"{evidence_dir}/ahead{int(plates)}{r}")
        ms.append(m)
        bare_ms.append(bare_block())
    # each block against the mean of the bare blocks on either side of it
    return ms, [(a + b) / 2 for a, b in itertools.pairwise(bare_ms)], kinds


def _camera_worker(seed: int, n: int, start: mp.Barrier, out: mp.Queue,  # type: ignore[type-arg]
                   ocr: tuple[bool, float | None]) -> None:
    global OCR_FALLBACK, OCR_BELOW
    OCR_FALLBACK, OCR_BELOW = ocr  # a spawned process starts from the module's defaults
    os.environ["OMP_NUM_THREADS"] = "1"
    frames, signals, _ = render(seed, n)
    with tempfile.TemporaryDirectory() as tmp:
        start.wait()
        t0 = time.perf_counter()
        ms, _ = _ahead_block(frames, signals, threads=1, plates=True, evidence_dir=tmp)
        out.put((seed, len(frames), time.perf_counter() - t0, ms))


def four_cameras(n: int, seeds: tuple[int, ...] = (9110, 9111, 9112, 9113)) -> list[tuple]:  # type: ignore[type-arg]
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(seeds))
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_camera_worker,
                         args=(s, n, barrier, out, (OCR_FALLBACK, OCR_BELOW))) for s in seeds]
    for p in procs:
        p.start()
    results = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    return sorted(results)


def ultralytics_run(frames: list[np.ndarray]) -> dict[str, object] | str:
    if not TRAIN_PY.exists():
        return f"{TRAIN_PY} not found (see models/MODEL_CARD.md to create it)"
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(frames):
            cv2.imwrite(f"{tmp}/{i:05d}.png", f)
        proc = subprocess.run(
            [str(TRAIN_PY), "-c", _ULTRA, str(ROOT), tmp,
             str(SHIPPED_DETECTOR)],
            capture_output=True, text=True, timeout=3600, check=False, cwd=ROOT)
    if proc.returncode != 0:
        return "ultralytics failed: " + proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--seed", type=int, default=9105)
    ap.add_argument("--no-ultralytics", action="store_true")
    ap.add_argument("--no-multi", action="store_true")
    ap.add_argument("--no-ocr-fallback", action="store_true",
                    help="plates.full_ocr_fallback: false (line-by-line recognition only)")
    ap.add_argument("--full-ocr-below", type=float, default=None,
                    help="plates.full_ocr_below (default: the shipped config's)")
    args = ap.parse_args()
    global OCR_FALLBACK, OCR_BELOW
    OCR_FALLBACK = not args.no_ocr_fallback
    OCR_BELOW = args.full_ocr_below
    frames, signals, render_ms = render(args.seed, args.frames)
    print(f"{len(frames)} frames 1280x720 (simulator seed {args.seed}); simulator rendering "
          f"{render_ms:.1f} ms/frame (not counted below); {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.2f}; plates.full_ocr_fallback {OCR_FALLBACK}, full_ocr_below "
          f"{'shipped' if OCR_BELOW is None else OCR_BELOW}")
    mean = statistics.fmean
    with tempfile.TemporaryDirectory() as tmp:
        models_ms: list[float] = []
        full, bare_f, kinds = pipeline_run(frames, signals, threads=2, plates=True,
                                           evidence_dir=tmp, all_models=models_ms)
        noplate, bare_n, _ = pipeline_run(frames, signals, threads=2, plates=False,
                                          evidence_dir=tmp)
        a_full, a_bare_f, a_kinds = agent_run(frames, signals, plates=True, evidence_dir=tmp)
        a_noplate, a_bare_n, _ = agent_run(frames, signals, plates=False, evidence_dir=tmp)
    rows = [("as the agent runs it, whole (plate reads and evidence included)", a_full,
             a_bare_f),
            ("as the agent runs it, without plate reading", a_noplate, a_bare_n),
            ("one frame after the other, whole", full, bare_f),
            ("one frame after the other, without plate reading", noplate, bare_n)]
    ultra = None if args.no_ultralytics else ultralytics_run(frames)
    if isinstance(ultra, dict):
        rows.append(("ultralytics YOLO(same .onnx).track(), ByteTrack", ultra["ms"],  # type: ignore[arg-type]
                     ultra["bare"]))  # type: ignore[arg-type]
    print("\ncamera pipeline: 'as the agent runs it' = each frame's detection started while"
          " the frame before is processed (edge/camera/lookahead.py), 3 blocks over all"
          " frames, each between blocks of bare onnxruntime runs (2 threads) on the same"
          " frames; 'one frame after the other' = interleaved frame by frame with a bare run"
          " on the same frame (a frame's latency); ultralytics between two blocks of bare"
          " runs; ratio = pipeline / bare (mean ms)")
    print(f"{'pipeline':<66} {'ms/frame':>9} {'FPS':>6} {'bare ms':>8} {'ratio':>6}")
    for name, ms, bare in rows:
        print(f"{name:<66} {mean(ms):>9.1f} {1000 / mean(ms):>6.1f} {mean(bare):>8.1f} "
              f"{mean(ms) / mean(bare):>6.2f}")
    print("  blocks as the agent runs it, ratio each: whole "
          + " / ".join(f"{m / b:.2f}" for m, b in zip(a_full, a_bare_f, strict=True))
          + ", without plate reading "
          + " / ".join(f"{m / b:.2f}" for m, b in zip(a_noplate, a_bare_n, strict=True)))
    if isinstance(ultra, dict):
        print("  ultralytics rounds (a fresh tracker each, between bare blocks), ratio each: "
              + " / ".join(f"{r:.2f}" for r in ultra.get("rounds", [])))  # type: ignore[attr-defined]
    print(f"  median frame one after the other, whole: {statistics.median(full):.1f} ms "
          f"(bare {statistics.median(bare_f):.1f})")
    print(f"\nevents from {len(frames)} frames: {kinds}"
          + ("" if a_kinds == kinds else f"; as the agent runs it: {a_kinds} (DIFFERENT)"))
    agent_ratio = mean(a_noplate) / mean(a_bare_n)
    print(f"overhead of the pipeline over bare onnxruntime as the agent runs it: "
          f"{agent_ratio - 1:+.0%} without plate reading (target <= 25 %), "
          f"{mean(a_full) / mean(a_bare_f) - 1:+.0%} whole; one frame after the other "
          f"{mean(noplate) / mean(bare_n) - 1:+.0%} and {mean(full) / mean(bare_f) - 1:+.0%}")
    print(f"the same frames' every model input (vehicle frames, plate crops, plate lines) "
          f"through bare onnxruntime sessions, each frame right after the pipeline's: "
          f"{mean(models_ms):.1f} ms/frame; the whole pipeline one frame after the other "
          f"costs {mean(full) / mean(models_ms):.2f}x its own inference, "
          f"{mean(full) / mean(models_ms) - 1:+.0%} for everything that is not a model run")
    if isinstance(ultra, dict):
        u = mean(ultra["ms"]) / mean(ultra["bare"])  # type: ignore[arg-type]
        print(f"ultralytics' tracking pipeline costs {u:.2f}x bare onnxruntime: ours as the"
              f" agent runs it is {u / agent_ratio:.2f}x as fast without plate reading (the"
              f" work ultralytics does; target 2x), "
              f"{u / (mean(a_full) / mean(a_bare_f)):.2f}x as fast with it; one frame after"
              f" the other {u / (mean(noplate) / mean(bare_n)):.2f}x and"
              f" {u / (mean(full) / mean(bare_f)):.2f}x ({ultra['tracks']} ultralytics track"
              f" ids); in plain ms/frame as the agent runs it"
              f" {mean(ultra['ms']) / mean(a_noplate):.2f}x and "  # type: ignore[arg-type]
              f"{mean(ultra['ms']) / mean(a_full):.2f}x")  # type: ignore[arg-type]
    elif ultra is not None:
        print(ultra)
    if not args.no_multi:
        res = four_cameras(args.frames)
        wall = max(r[2] for r in res)
        total = sum(r[1] for r in res)
        for seed, n, secs, frame_ms in res:
            print(f"camera seed {seed}: {n / secs:.1f} FPS ({frame_ms:.0f} ms a frame once"
                  " its models are loaded)")
        print(f"4 cameras together on {os.cpu_count()} cores: {total / wall:.1f} frames/s "
              f"= {total / wall / 4:.1f} FPS per camera (target 4 x 10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
