"""Errors the stores raise for the API to turn into 404 and 409 answers."""

from __future__ import annotations


class NotFoundError(LookupError):
    """No such record (an unknown id); the message names what was looked for."""


class ConflictError(RuntimeError):
    """The record exists but is in a state that refuses the change; the message says which."""
