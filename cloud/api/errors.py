"""Every refusal is a JSON body that says what was wrong and where; bad input is never a 500.

Shape of every error answer::

    {"error": "invalid_request", "message": "query.until: since ... is not before until ...",
     "problems": [{"where": "query.until", "message": "..."}]}

``where`` names the part of the request: ``query.<param>``, ``path.<param>``,
``body.<field>``, ``header.<name>``. :class:`BodyGuard` refuses oversized bodies
(413) and bodies that are not JSON (415) before the app reads them.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud.stores.db import DatabaseError
from cloud.stores.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "body_too_large",
          415: "unsupported_media_type", 422: "invalid_request", 503: "unavailable"}


class ApiError(Exception):
    """A refusal with its status, a message for a person, and where in the request."""

    def __init__(self, status: int, message: str, where: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.where = where
        self.headers = headers


def invalid(where: str, exc: Exception | str) -> ApiError:
    """A 422 for one bad value (``where`` as in the module doc)."""
    return ApiError(422, str(exc), where)


def problem(status: int, message: str, problems: Sequence[dict[str, str]] = (),
            headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error answer."""
    body: dict[str, Any] = {"error": _CODES.get(status, "error"), "message": message}
    if problems:
        body["problems"] = list(problems)
    return JSONResponse(body, status_code=status, headers=headers)


def _where(err: dict[str, Any]) -> str:
    loc = err.get("loc", ())
    if err.get("type") == "json_invalid":  # loc is ("body", character offset)
        return "body"
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body" and len(parts) > 1 and not parts[1]:
        parts = parts[:1]
    return ".".join(parts) or "request"


def _message(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err.get("type") == "json_invalid":
        ctx = err.get("ctx") or {}
        loc = err.get("loc", ())
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        msg = f"body is not valid JSON{at}: {ctx.get('error', msg)}"
    elif err.get("type") == "extra_forbidden":
        msg = "unknown field (a typo?)"
    return msg


def install_handlers(app: FastAPI) -> None:
    """Turn every exception into the JSON error shape."""

    @app.exception_handler(ApiError)
    async def _api(_r: Request, exc: ApiError) -> JSONResponse:
        problems = [{"where": exc.where, "message": exc.message}] if exc.where else []
        message = f"{exc.where}: {exc.message}" if exc.where else exc.message
        return problem(exc.status, message, problems, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": _where(e), "message": _message(e)}
                    for e in exc.errors()]
        first = problems[0] if problems else {"where": "request", "message": "invalid"}
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return problem(422, f"{first['where']}: {first['message']}{more}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = (f"no such endpoint: {request.method} {request.url.path}"
                   if exc.status_code == 404 else
                   f"{request.method} is not allowed on {request.url.path}"
                   if exc.status_code == 405 else str(exc.detail))
        return problem(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(NotFoundError)
    async def _missing(_r: Request, exc: NotFoundError) -> JSONResponse:
        return problem(404, str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(_r: Request, exc: ConflictError) -> JSONResponse:
        return problem(409, str(exc))

    @app.exception_handler(DatabaseError)
    async def _database(_r: Request, exc: DatabaseError) -> JSONResponse:
        logger.error("store unavailable: %s", exc)
        return problem(503, f"store unavailable: {exc}")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        logger.error("internal error %s on %s %s", ref, request.method, request.url.path,
                     exc_info=exc)
        return problem(500, f"internal error (reference {ref}); the server log has the details")


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: a JSON ``\u0000`` escape: its backslash is not itself escaped (``\\u0000`` is text)
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
#: deeper JSON than this is refused before the parser recurses into it
MAX_JSON_DEPTH = 32


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (strings skipped; not validated)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


class BodyGuard:
    """ASGI middleware: a request body larger than ``max_bytes`` gets 413, one that is not
    ``application/json`` gets 415, before the app reads a byte of it; a NUL character in
    the path, query or body gets 422 (PostgreSQL cannot store it), and so does JSON nested
    deeper than :data:`MAX_JSON_DEPTH` (the parser's recursion limit gave a 400 without a
    reason)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # PostgreSQL refuses NUL in text: say so here rather than fail deep in a query
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            where = "path" if "\x00" in scope.get("path", "") else "query"
            await self._refuse(scope, send, 422, "NUL characters are not allowed", where)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        declared = headers.get("content-length")
        if declared is not None and (not re.fullmatch(r"[0-9]{1,19}", declared)
                                     or int(declared) > self.max_bytes):
            await self._refuse(scope, send, 413, f"body of {declared} bytes is larger than"
                               f" {self.max_bytes} bytes", "header.Content-Length")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, 413, f"body is larger than {self.max_bytes}"
                                   " bytes", "body")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\x00" in body or _NUL_ESCAPE.search(body):
            await self._refuse(scope, send, 422, "NUL characters are not allowed", "body")
            return
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and ctype != "application/json":
            await self._refuse(scope, send, 415, f"body must be application/json, got"
                               f" {ctype or 'no Content-Type'}", "header.Content-Type")
            return
        if json_depth(body) > MAX_JSON_DEPTH:
            await self._refuse(scope, send, 422, f"JSON nests arrays and objects deeper than"
                               f" {MAX_JSON_DEPTH} levels", "body")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str, where: str) -> None:
        response = problem(status, f"{where}: {message}", [{"where": where, "message": message}])
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
