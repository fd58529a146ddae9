"""onnxruntime backend (CPU by default; GPU providers where the gateway has them)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.errors import ModelFileNotFound, ModelFormatError

if TYPE_CHECKING:
    import onnxruntime as ort

logger = logging.getLogger(__name__)


def session_options(threads: int = 2) -> ort.SessionOptions:
    """onnxruntime session options for one of several models sharing a few cores.

    ``threads`` intra-op threads, one inter-op thread, and no spinning: by default a
    session's pool threads spin for a while after each run, waiting for more work. A
    camera gateway runs three sessions one after another on every frame (vehicles,
    plates, plate characters), often next to other cameras' processes, so each
    session's spinning threads take the cores from the session running next: two 2-thread
    sessions run in turn took 38-40 ms a run spinning against 18.7 ms not (15-17 ms
    alone) on this project's 2-core machines. A session run alone loses nothing
    measurable (16.2-16.6 ms back to back either way)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts


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
        opts = session_options(threads)
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
