"""Errors of the run-time models, each saying which file and what was expected."""

from __future__ import annotations


class ModelError(Exception):
    """Base class: a model could not be loaded or used."""


class ModelFileNotFound(ModelError, FileNotFoundError):
    """The model file does not exist."""


class ModelFormatError(ModelError):
    """The file exists but is not a model the backend can load (e.g. not ONNX)."""


class ModelOutputError(ModelError):
    """The model loads but its output does not have the expected shape."""
