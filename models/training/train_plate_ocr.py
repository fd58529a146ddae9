"""Train the project's own plate-line recogniser (CTC) and export it to ONNX.

Training only (torch): never imported by the run-time package. Fully offline.

    .venv-train/bin/python -m models.training.train_plate_ocr \\
        --seeds 1000-1239 --val-seeds 8000-8019 --epochs 10 --lr 3e-3 --synthetic 6000 \\
        --onnx models/plate_ocr.onnx

Data: plates in simulator frames (640 and 1280 pixels wide, so plate widths span
about 16 to 200 px), cut as the reader cuts them at run time: the ground-truth
plate box jittered like a detector's box, ``crop_plate`` with the reader's margin,
``rectify``, the ground-truth layout's lines (``split_lines``) and ``line_input``.
``--synthetic N`` adds N plates rendered outside any scene (every letter and colour,
sharp to blurred, 28-220 px wide). Labels are the printed lines without
separators. The best epoch's weights are also saved as ``.pt`` beside the ONNX.
Seeds never overlap
``ioc models eval``'s (9000-9039) or the camera evaluation's (9100-9115).
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / "models" / "training" / "data_plate_ocr"
DEFAULT_ONNX = ROOT / "models" / "plate_ocr.onnx"


def line_labels(lines: Sequence[str]) -> list[str]:
    """Printed lines → labels: only the characters the model reads (no ``-``, ``.``)."""
    from models.plate_ocr import CHARS

    keep = set(CHARS[1:])
    return ["".join(c for c in ln.upper() if c in keep) for ln in lines]


def build_dataset(
    seeds: Iterable[int],
    *,
    widths: Sequence[int] = (640, 1280),
    frames: int = 4,
    stride: int = 15,
    min_plate_px: int = 16,
    jitter: float = 0.06,
    copies: int = 2,
    rng_seed: int = 0,
    jobs: int = 1,
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Line images (N, 32, 160) uint8, their labels, and each line's plate width in px.

    Each seed has its own random jitter (from ``rng_seed`` and the seed), so ``jobs``
    processes build the same dataset as one.
    """
    from simulators.camera.export import map_jobs

    seeds = list(seeds)
    params = (tuple(widths), frames, stride, min_plate_px, jitter, copies, rng_seed)
    tasks = [(seed, params) for seed in seeds]
    images: list[np.ndarray] = []
    labels: list[str] = []
    plate_px: list[int] = []
    for k, (imgs, texts, px) in enumerate(map_jobs(_seed_lines, tasks, jobs)):
        images.extend(imgs)
        labels.extend(texts)
        plate_px.extend(px)
        if (k + 1) % 10 == 0 or k + 1 == len(seeds):
            logger.info("seed %d/%d: %d lines", k + 1, len(seeds), len(images))
    arr = np.stack(images) if images else np.zeros((0, 32, 160), np.uint8)
    return arr, labels, np.array(plate_px, np.int32)


def _seed_lines(
    task: tuple[int, tuple[tuple[int, ...], int, int, int, float, int, int]],
) -> tuple[list[np.ndarray], list[str], list[int]]:
    """The line images, labels and plate widths of one scene seed."""
    from models.plate_ocr import line_input, split_lines
    from models.plate_reader import PlateReaderConfig, crop_plate, rectify
    from simulators.camera import CameraGeometry
    from simulators.camera.export import sample_frames, scene_for_seed

    seed, (widths, frames, stride, min_plate_px, jitter, copies, rng_seed) = task
    rng = random.Random(rng_seed * 1_000_003 + seed)
    margin = PlateReaderConfig().margin
    images: list[np.ndarray] = []
    labels: list[str] = []
    plate_px: list[int] = []
    for width in widths:
        s = width / 640
        cam = CameraGeometry(width=width, height=round(360 * s), focal=720 * s, horizon=10 * s)
        for _, frame, truth in sample_frames(scene_for_seed(seed, camera=cam), frames, stride):
            for v in truth.vehicles:
                if v.plate_box is None:
                    continue
                x1, y1, x2, y2 = v.plate_box
                bw, bh = x2 - x1, y2 - y1
                if bw < min_plate_px:
                    continue
                texts = line_labels(v.plate.lines())
                for c in range(copies):
                    j = jitter if c else jitter / 3
                    box = (
                        x1 + rng.gauss(0, j) * bw,
                        y1 + rng.gauss(0, j) * bh,
                        x2 + rng.gauss(0, j) * bw,
                        y2 + rng.gauss(0, j) * bh,
                    )
                    try:
                        plate = rectify(crop_plate(frame, box, margin))
                        parts = split_lines(plate, v.plate.layout)
                        inputs = [line_input(p) for p in parts]
                    except ValueError:
                        continue
                    for img, text in zip(inputs, texts, strict=True):
                        images.append(img)
                        labels.append(text)
                        plate_px.append(int(bw))
    return images, labels, plate_px


def build_synthetic(
    count: int, *, rng_seed: int = 7, jitter: float = 0.06, jobs: int = 1
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Rendered plates outside any scene: every letter and colour often, sharp to
    blurred, 28 to 220 px wide, on a random background, slightly rotated; then cut
    exactly like the frame data. Fills the gaps of the scenes (few large, sharp or
    blue plates). Rendered in chunks of 1,000 with their own random seeds, so
    ``jobs`` processes build the same set as one."""
    from simulators.camera.export import map_jobs

    chunks = [
        (min(1000, count - start), rng_seed * 1_000_003 + k, jitter)
        for k, start in enumerate(range(0, count, 1000))
    ]
    parts = list(map_jobs(_synthetic_chunk, chunks, jobs))
    images = [img for p in parts for img in p[0]]
    return (
        np.stack(images),
        [t for p in parts for t in p[1]],
        np.array([w for p in parts for w in p[2]], np.int32),
    )


def _synthetic_chunk(
    task: tuple[int, int, float],
) -> tuple[list[np.ndarray], list[str], list[int]]:
    """``count`` rendered plates from one random seed (see ``build_synthetic``)."""
    count, rng_seed, jitter = task
    import cv2

    from ioc.plates import PlateLayout, VehicleKind, random_plate
    from models.plate_ocr import line_input, split_lines
    from models.plate_reader import PlateReaderConfig, crop_plate, rectify
    from simulators.camera.plate_render import render_plate

    rng = random.Random(rng_seed)
    nrng = np.random.default_rng(rng_seed)
    margin = PlateReaderConfig().margin
    images: list[np.ndarray] = []
    labels: list[str] = []
    widths: list[int] = []
    for _ in range(count):
        kind = VehicleKind.MOTORBIKE if rng.random() < 0.5 else VehicleKind.CAR
        colour = rng.choice(["white", "white", "yellow", "blue"])
        plate = random_plate(rng, kind, colour=colour)
        img = render_plate(plate)
        w = rng.randint(28, 220)
        h = max(6, round(img.shape[0] * w / img.shape[1]))
        small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = w // 2 + 4, h // 2 + 4
        bg = nrng.integers(20, 230, 3)
        canvas = np.empty((h + 2 * pad_y, w + 2 * pad_x, 3), np.uint8)
        canvas[:] = bg
        canvas[pad_y : pad_y + h, pad_x : pad_x + w] = small
        angle = rng.uniform(-4, 4)
        m = cv2.getRotationMatrix2D((canvas.shape[1] / 2, canvas.shape[0] / 2), angle, 1.0)
        canvas = cv2.warpAffine(
            canvas, m, (canvas.shape[1], canvas.shape[0]), borderMode=cv2.BORDER_REPLICATE
        )
        sigma = rng.uniform(0, 1.2) * max(1.0, w / 80)
        if sigma > 0.3:
            canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
        noisy = canvas + nrng.normal(0, rng.uniform(0, 6), canvas.shape)
        canvas = np.clip(noisy * rng.uniform(0.6, 1.2), 0, 255).astype(np.uint8)
        _ok, enc = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(40, 95)])
        canvas = cv2.imdecode(enc, cv2.IMREAD_COLOR)
        box = (
            pad_x + rng.gauss(0, jitter) * w,
            pad_y + rng.gauss(0, jitter) * h,
            pad_x + w + rng.gauss(0, jitter) * w,
            pad_y + h + rng.gauss(0, jitter) * h,
        )
        try:
            rect = rectify(crop_plate(canvas, box, margin))
            layout = plate.layout if kind is VehicleKind.CAR else PlateLayout.TWO_LINE
            inputs = [line_input(part) for part in split_lines(rect, layout)]
        except ValueError:
            continue
        for img_line, text in zip(inputs, line_labels(plate.lines()), strict=True):
            images.append(img_line)
            labels.append(text)
            widths.append(w)
    return images, labels, widths


Lines = tuple[np.ndarray, list[str], np.ndarray]


def cached(path: Path, build: Callable[[], Lines]) -> Lines:
    """Line images, labels and plate widths cached at ``path`` (.npz), built first if missing."""
    if path.exists():
        data = np.load(path)
        return data["images"], [str(s) for s in data["labels"]], data["plate_px"]
    images, labels, px = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=images, labels=np.array(labels), plate_px=px)
    return images, labels, px


def load_or_build(path: Path, seeds: str, **kw: object) -> Lines:
    """The scene dataset of ``seeds`` cached at ``path`` (.npz), built first if missing."""
    from simulators.camera.export import parse_seeds

    return cached(path, lambda: build_dataset(parse_seeds(seeds), **kw))  # type: ignore[arg-type]


#: Channels along the line at scale 1.
WIDTH = 96


def make_model(n_classes: int, scale: float = 1.0) -> object:
    """A small CNN over the line (height pooled away) and 1-D convolutions along it:
    (N, 1, 32, 160) → (N, 40, n_classes) log-probabilities. At ``scale`` 1 about
    0.1 M parameters and 26 M multiply-adds a line; channels grow with ``scale``
    (work with its square)."""
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]

    def ch(n: int) -> int:
        return round(n * scale)

    width = ch(WIDTH)

    class LineNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cnn = nn.Sequential(
                *block(1, ch(16)),
                nn.MaxPool2d(2),  # 16 x 80
                *block(ch(16), ch(32)),
                nn.MaxPool2d(2),  # 8 x 40
                *block(ch(32), ch(48)),
                *block(ch(48), ch(48)),
                nn.MaxPool2d((2, 1)),  # 4 x 40
                *block(ch(48), ch(64)),
                nn.MaxPool2d((2, 1)),  # 2 x 40
                nn.Conv2d(ch(64), width, (2, 1), bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(True),
            )
            self.seq = nn.Sequential(
                nn.Conv1d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(True),
                nn.Conv1d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(True),
                nn.Dropout(0.1),
            )
            self.head = nn.Conv1d(width, n_classes, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.cnn(x).squeeze(2)  # (N, width, 40)
            return torch.log_softmax(self.head(self.seq(f)).permute(0, 2, 1), dim=-1)

    return LineNet()


def augment(batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Light photometric noise on top of the simulator's own: contrast, inversion-free
    brightness, Gaussian noise. ``batch``: (N, 32, 160) uint8 on any device; returns
    (N, 1, 32, 160) float in 0..1 on the same device."""
    import torch

    x = batch.float()
    n, dev = len(x), x.device

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(shape, generator=gen, device=dev)

    gain, bias = uniform(0.7, 1.3, n, 1, 1), uniform(-30, 30, n, 1, 1)
    sigma = uniform(0, 8, n, 1, 1)
    noise = torch.randn(x.shape, generator=gen, device=dev) * sigma
    x = (x - 128) * gain + 128 + bias + noise
    return (x.clamp(0, 255) / 255.0)[:, None]


def one_cycle_lr(peak: float, done: float) -> float:
    """Learning rate at ``done`` (0..1) of training: a cosine warm-up over the first
    30 % from peak/25, then a cosine decay to peak/10,000 (``OneCycleLR``'s shape).
    ``done`` is the larger of steps and wall-clock time spent, so a time budget
    anneals as fully as an epoch count."""
    done = min(max(done, 0.0), 1.0)
    start, end = peak / 25, peak / 1e4
    if done < 0.3:
        return start + (peak - start) * (1 - math.cos(math.pi * done / 0.3)) / 2
    return end + (peak - end) * (1 + math.cos(math.pi * (done - 0.3) / 0.7)) / 2


def exact_accuracy(
    model: object, images: np.ndarray, labels: list[str], device: str = "cpu"
) -> float:
    """Share of lines whose greedy CTC decoding equals the label."""
    import torch

    from models.plate_ocr import CHARS, greedy_decode

    model.eval()  # type: ignore[attr-defined]
    ok = 0
    with torch.no_grad():
        for i in range(0, len(images), 256):
            x = torch.from_numpy(images[i : i + 256, None].astype(np.float32) / 255.0)
            best = model(x.to(device)).argmax(-1).cpu().numpy()  # type: ignore[operator]
            for row, label in zip(best, labels[i : i + 256], strict=True):
                ok += greedy_decode(row, CHARS) == label
    return ok / max(len(labels), 1)


def train(args: argparse.Namespace) -> Path:
    """Train, keep the best validation accuracy, export ONNX."""
    import torch

    from models.plate_ocr import CHARS, INPUT_H, INPUT_W

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    build = {"jobs": args.jobs, "widths": args.widths}
    tr_x, tr_y, tr_px = load_or_build(args.data / "train.npz", args.seeds, **build)
    keep = tr_px >= args.min_px  # the smallest plates are unreadable: noise for training
    tr_x, tr_y = tr_x[keep], [y for y, k in zip(tr_y, keep, strict=True) if k]
    if args.synthetic:
        sx, sy, _ = cached(
            args.data / f"synthetic-{args.synthetic}.npz",
            lambda: build_synthetic(args.synthetic, jobs=args.jobs),
        )
        tr_x, tr_y = np.concatenate([tr_x, sx]), tr_y + sy
    va_x, va_y, va_px = load_or_build(args.data / "val.npz", args.val_seeds, copies=1, **build)
    logger.info("train %d lines, val %d lines", len(tr_x), len(va_x))
    index = {c: i for i, c in enumerate(CHARS)}
    model = make_model(len(CHARS), args.scale)
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu"))  # type: ignore[attr-defined]
    model.to(args.device)  # type: ignore[attr-defined]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)  # type: ignore[attr-defined]
    steps = args.epochs * ((len(tr_x) + args.batch - 1) // args.batch)
    budget = args.hours * 3600 if args.hours else None
    started, step = time.monotonic(), 0
    for group in opt.param_groups:
        group["lr"] = one_cycle_lr(args.lr, 0.0)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    rng = np.random.default_rng(0)
    gen = torch.Generator(device=args.device).manual_seed(0)
    images = torch.from_numpy(tr_x).to(args.device)  # uint8 on the device: 0.5 GB for 100k lines
    coded = [torch.tensor([index[c] for c in y], dtype=torch.long) for y in tr_y]
    best_acc, best_state = -1.0, None
    readable = va_px >= 40
    for epoch in range(args.epochs):
        if budget is not None and time.monotonic() - started >= budget:
            break
        model.train()  # type: ignore[attr-defined]
        order = rng.permutation(len(tr_x))
        t0, total = time.monotonic(), 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            x = augment(images[torch.from_numpy(idx).to(args.device)], gen)
            targets = [coded[j] for j in idx]
            flat = torch.cat(targets).to(args.device)
            lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
            out = model(x)  # type: ignore[operator]
            in_len = torch.full((len(idx),), out.shape[1], dtype=torch.long)
            loss = ctc(out.permute(1, 0, 2), flat, in_len, lengths)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            done = step / steps
            if budget is not None:
                done = max(done, (time.monotonic() - started) / budget)
            for group in opt.param_groups:
                group["lr"] = one_cycle_lr(args.lr, done)
            total += float(loss.detach()) * len(idx)
            if done >= 1:
                break
        acc = exact_accuracy(model, va_x, va_y, args.device)
        acc40 = exact_accuracy(
            model,
            va_x[readable],
            [y for y, r in zip(va_y, readable, strict=True) if r],
            args.device,
        )
        logger.info(
            "epoch %d/%d loss %.4f val exact %.4f (plates >= 40 px %.4f) %.0f s",
            epoch + 1,
            args.epochs,
            total / len(tr_x),
            acc,
            acc40,
            time.monotonic() - t0,
        )
        if acc > best_acc:
            best_acc = acc
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}  # type: ignore[attr-defined]
    model.to("cpu")  # type: ignore[attr-defined]
    model.load_state_dict(best_state)  # type: ignore[attr-defined]
    model.eval()  # type: ignore[attr-defined]
    torch.save(best_state, args.onnx.with_suffix(".pt"))  # to continue training from
    args.onnx.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        torch.zeros(1, 1, INPUT_H, INPUT_W),
        str(args.onnx),
        input_names=["lines"],
        output_names=["logprobs"],
        dynamic_axes={"lines": {0: "n"}, "logprobs": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    logger.info(
        "best val exact %.4f; exported %s (%.2f MB)",
        best_acc,
        args.onnx,
        args.onnx.stat().st_size / 1e6,
    )
    return args.onnx


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments."""
    p = argparse.ArgumentParser(prog="python -m models.training.train_plate_ocr")
    p.add_argument("--seeds", default="1000-1119", help="training scene seeds")
    p.add_argument("--val-seeds", default="8000-8019")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="dataset cache folder")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--hours", type=float, default=None, help="wall-clock budget; stops before --epochs"
    )
    p.add_argument("--min-px", type=int, default=20, help="train on plates at least this wide")
    p.add_argument(
        "--synthetic", type=int, default=6000, help="rendered plates added to the scene data"
    )
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--jobs", type=int, default=1, help="processes building the dataset")
    p.add_argument(
        "--widths",
        type=lambda t: tuple(int(w) for w in t.split(",")),
        default=(640, 1280),
        help="camera frame widths the scene plates are cut from, e.g. 640,960,1280",
    )
    p.add_argument("--scale", type=float, default=1.0, help="channel multiplier of the model")
    p.add_argument("--init", type=Path, default=None, help="start from these weights (.pt)")
    p.add_argument("--onnx", type=Path, default=DEFAULT_ONNX)
    p.add_argument("--build-only", action="store_true", help="write the dataset and stop")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Build the dataset (cached), train, export."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.build_only:
        build = {"jobs": args.jobs, "widths": args.widths}
        load_or_build(args.data / "train.npz", args.seeds, **build)
        load_or_build(args.data / "val.npz", args.val_seeds, copies=1, **build)
        return 0
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
