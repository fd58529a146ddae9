"""``ioc models eval`` end to end on a tiny model (the real one is measured in the model card)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.cli import main

DATA = Path(__file__).parent / "data"


def test_models_eval_prints_the_metrics_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "models", "eval", "--model", str(DATA / "fake_coco.onnx"), "--coco",
            "--skip-plates", "--seeds", "9993", "--frames", "1",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    for word in ("class", "mAP50", "mAP50-95", "car", "motorbike", "plate", "all", "ms/frame"):
        assert word in out


def test_models_eval_reports_a_missing_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rc = main(["models", "eval", "--model", str(tmp_path / "none.onnx"), "--skip-plates"])
    assert rc == 1
    assert "model file not found" in caplog.text
