"""YOLO dataset export and video writing of the camera simulator."""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from simulators.camera import CLASS_NAMES, SceneConfig
from simulators.camera.export import export_yolo, parse_seeds, write_video


def test_parse_seeds() -> None:
    assert parse_seeds("0-3,7,10-11") == [0, 1, 2, 3, 7, 10, 11]


def test_export_yolo(tmp_path: Path) -> None:
    counts = export_yolo(tmp_path, {"train": [1, 2], "val": [9000]}, frames=2, stride=5)
    assert counts == {"train": 4, "val": 2}
    yaml = (tmp_path / "data.yaml").read_text()
    for i, name in enumerate(CLASS_NAMES):
        assert f"{i}: {name}" in yaml
    labels = sorted((tmp_path / "labels" / "train").glob("*.txt"))
    assert len(labels) == 4
    classes: set[int] = set()
    for lbl in labels:
        img = cv2.imread(str(tmp_path / "images" / "train" / f"{lbl.stem}.jpg"))
        assert img is not None
        assert img.shape == (360, 640, 3)
        truth = json.loads((tmp_path / "truth" / "train" / f"{lbl.stem}.json").read_text())
        n_plates = sum(v["plate_box"] is not None for v in truth["vehicles"])
        rows = [line.split() for line in lbl.read_text().splitlines() if line]
        assert len(rows) == len(truth["vehicles"]) + n_plates
        for row in rows:
            cls, *xywh = row
            classes.add(int(cls))
            assert 0 <= int(cls) < len(CLASS_NAMES)
            assert all(0.0 <= float(v) <= 1.0 for v in xywh)
    assert 1 in classes


def test_write_video(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    assert write_video(SceneConfig(seed=3), path, frames=12) == 12
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 12


def test_export_yolo_in_processes_writes_what_one_process_writes(tmp_path: Path) -> None:
    splits = {"train": [1, 2, 3], "val": [9000]}
    one = export_yolo(tmp_path / "one", splits, frames=2, stride=5)
    two = export_yolo(tmp_path / "two", splits, frames=2, stride=5, jobs=2)
    assert one == two == {"train": 6, "val": 2}
    for kind in ("labels", "truth"):
        a = sorted((tmp_path / "one" / kind).rglob("*.*"))
        b = sorted((tmp_path / "two" / kind).rglob("*.*"))
        assert [p.relative_to(tmp_path / "one") for p in a] == [
            p.relative_to(tmp_path / "two") for p in b
        ]
        assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
