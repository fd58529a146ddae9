"""onnxruntime backend (CPU by default; GPU providers where the gateway has them)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from models.errors import ModelFileNotFound, ModelFormatError

logger = logging.getLogger(__name__)


def _dims(shape: list[object]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else -1 for d in shape)


class OrtBackend:
    """Runs an ONNX model with onnxruntime."""

    def __init__(self, session: object, path: Path) -> None:
        self._session = session
        self.path = path
        inp = session.get_inputs()[0]  # type: ignore[attr-defined]
        out = session.get_outputs()[0]  # type: ignore[attr-defined]
        self._input_name: str = inp.name
        self.input_shape = _dims(inp.shape)
        self.output_shape = _dims(out.shape)
        meta = session.get_modelmeta()  # type: ignore[attr-defined]
        self.metadata: dict[str, str] = dict(meta.custom_metadata_map)

    @classmethod
    def load(cls, path: Path, threads: int = 2, providers: list[str] | None = None) -> OrtBackend:
        """Open ``path``; clear errors for a missing file or one that is not ONNX."""
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ModelFileNotFound(f"model file not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(path), sess_options=opts, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors here
            raise ModelFormatError(f"{path} is not a loadable ONNX model: {exc}") from exc
        logger.info("loaded %s with onnxruntime (%s threads)", path, threads)
        return cls(session, path)

    def infer(self, blob: np.ndarray) -> np.ndarray:
        """Run one blob; returns the first output."""
        return self._session.run(None, {self._input_name: blob})[0]  # type: ignore[attr-defined]
