"""Loading YAML config into typed models, with errors that name file, line, key and value.

Every component's config is a pydantic model with ``extra="forbid"`` (see
:class:`StrictModel`): a typo in a key is an error, not a silently ignored setting.
:func:`load_yaml_model` parses the file keeping the line of every key, validates,
and turns each validation problem into one line such as::

    firmware_configs/hue/kimlong-01.yaml:12: stations.kimlong.levels: [2.0, 1.0]:
        alarm levels must increase
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable, and a
    number is a finite number (YAML's ``.nan`` and ``.inf`` compare false or absurdly: a
    threshold of ``.nan`` was a level no reading reaches, a dead-band of ``.inf`` an alert
    that never clears)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong in a config file."""

    file: str
    line: int | None
    path: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        value = f" {self.value}:" if self.value else ""
        return f"{where}: {self.path or '<top>'}:{value} {self.message}"


class ConfigError(ValueError):
    """A config file that cannot be used, with every problem found in it."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


#: values a config may hold once its aliases are expanded (a 1 KB "billion laughs"
#: alias chain expanded to millions and held the agent that validated it for hours)
MAX_EXPANDED_VALUES = 100_000


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values ``node`` holds with every alias expanded (each node counted once)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise ValueError("an alias refers to a mapping or list that contains it")
    open_nodes.add(key)
    size = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, sizes, open_nodes) + _expanded_size(v, sizes, open_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, sizes, open_nodes)
    open_nodes.discard(key)
    sizes[key] = size = min(size, MAX_EXPANDED_VALUES + 1)
    return size


def _line_index(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int],
                duplicates: list[tuple[tuple[str, ...], int, int]] | None = None) -> None:
    """The line of every key path under ``node``; a key given twice in one mapping (YAML
    keeps the last silently) is added to ``duplicates`` as (path, first line, line).
    Call :func:`_expanded_size` first: aliases are walked once per place they are used."""
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            path = (*prefix, str(key.value))
            line = key.start_mark.line + 1
            if key.value in first and key.value != "<<" and duplicates is not None:
                duplicates.append((path, first[key.value], line))
            first.setdefault(key.value, line)
            out[path] = line
            _line_index(value, path, out, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            out[path] = item.start_mark.line + 1
            _line_index(item, path, out, duplicates)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unwrap(tp: Any) -> Any:
    """``tp`` without ``Annotated[...]`` and without ``| None``."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if _is_union(tp):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _tags(member: Any) -> set[str]:
    """Names pydantic uses for a union member in an error location: its discriminator
    values (``Literal`` fields) and its class name."""
    member = _unwrap(member)
    names = {getattr(member, "__name__", str(member))}
    if isinstance(member, type) and issubclass(member, BaseModel):
        for field in member.model_fields.values():
            if typing.get_origin(_unwrap(field.annotation)) is Literal:
                names |= {str(v) for v in typing.get_args(_unwrap(field.annotation))}
    return names


def resolve_location(model: type[BaseModel], loc: tuple[str, ...]) -> tuple[tuple[str, ...], Any]:
    """The key path of a pydantic error location as it is written in the file (without the
    union tags pydantic inserts, e.g. ``driver.modbus.host`` → ``driver.host``), and the
    type expected at the last key's parent (to list the keys allowed there)."""
    tp: Any = model
    out: list[str] = []
    parent: Any = None
    for part in loc:
        if part == "[key]":  # a bad dict key: the key itself is the last part already
            continue
        tp = _unwrap(tp)
        if _is_union(tp):
            match = [m for m in typing.get_args(tp) if part in _tags(m)]
            if match:
                tp = match[0]
                continue
            tp = None
        parent = tp
        out.append(part)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part)
            tp = field.annotation if field is not None else None
        elif origin in (list, set, frozenset):
            tp = typing.get_args(tp)[0]
        elif origin is tuple:
            args = typing.get_args(tp)
            tp = args[0] if len(args) == 2 and args[1] is Ellipsis else (
                args[int(part)] if part.isdigit() and int(part) < len(args) else None)
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            tp = None
    return tuple(out), parent


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _did_you_mean(value: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _message(err: Any, parent: Any, key: str) -> tuple[str, str | None]:
    """What is wrong and what is allowed (with a "did you mean" for a near miss), and, for a
    bad or missing union tag, the key that holds the tag."""
    kind, msg, ctx = err["type"], err["msg"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = (sorted(parent.model_fields) if isinstance(parent, type)
                   and issubclass(parent, BaseModel) else [])
        listing = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key (a typo?){_did_you_mean(key, allowed)}{listing}", None
    if kind == "union_tag_invalid":
        tags = _quoted(str(ctx.get("expected_tags", "")))
        disc = (_quoted(str(ctx.get("discriminator", ""))) or ["type"])[0]
        tag = str(ctx.get("tag"))
        return (f"unknown {disc}{_did_you_mean(tag, tags)} (allowed: {', '.join(tags)})",
                disc)
    if kind == "union_tag_not_found":
        disc = (_quoted(str(ctx.get("discriminator", ""))) or ["type"])[0]
        return f"missing key {disc!r}: it says which kind of entry this is", disc
    if kind in ("literal_error", "enum"):
        allowed = _quoted(str(ctx.get("expected", "")))
        return f"{msg}{_did_you_mean(str(err.get('input')), allowed)}", None
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):], None
    return msg, None


def _problems(
    exc: ValidationError, name: str, lines: dict[tuple[str, ...], int],
    model: type[BaseModel] | None = None,
) -> Iterator[ConfigProblem]:
    for err in exc.errors(include_url=False):
        raw = tuple(str(p) for p in err["loc"])
        loc, parent = resolve_location(model, raw) if model is not None else (raw, None)
        message, tag_key = _message(err, parent, loc[-1] if loc else "")
        value = "" if err["type"] == "missing" else _short(err.get("input"))
        if tag_key is not None:  # the bad or missing tag itself, not the whole mapping
            data = err.get("input")
            loc = (*loc, tag_key)
            value = _short(data.get(tag_key)) if isinstance(data, dict) and tag_key in data else ""
        line = None
        for n in range(len(loc), -1, -1):  # the deepest key that exists in the file
            if loc[:n] in lines:
                line = lines[loc[:n]]
                break
        yield ConfigProblem(name, line, ".".join(loc), value, message)


def fail_at(problems: list[tuple[tuple[str | int, ...], Any, str]], title: str) -> None:
    """Raise one validation error per problem at its own key path, from a model
    validator (so the loader reports the line of the offending key, not of the model)."""
    if problems:
        raise ValidationError.from_exception_data(title, [
            InitErrorDetails(type=PydanticCustomError("config", msg), loc=loc, input=value)
            for loc, value, msg in problems
        ])


def validate_data(model: type[M], data: Any, name: str, lines: dict[tuple[str, ...], int],
                  context: dict[str, Any] | None = None) -> M:
    """Validate already-parsed data; problems name ``name`` and the lines given.
    ``context`` reaches the model's validators (what the file is checked against)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(list(_problems(exc, name, lines, model))) from None


def load_yaml_model(model: type[M], path: Path | str, *, text: str | None = None,
                    context: dict[str, Any] | None = None) -> M:
    """Parse and validate a YAML file into ``model``; raise :class:`ConfigError` naming the
    file, line, key path and bad value of every problem (``context``: see
    :func:`validate_data`)."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([ConfigProblem(name, None, "", "", f"cannot read: {exc}")]) from None
        except UnicodeDecodeError as exc:
            line = text_line(Path(path).read_bytes(), exc.start)
            raise ConfigError([ConfigProblem(
                name, line, "", "", f"not UTF-8 text: byte {exc.object[exc.start]:#04x} at"
                f" offset {exc.start}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        problems = [ConfigProblem(name, line, "", "", f"not valid YAML: {problem}")]
        raise ConfigError(problems) from None
    lines: dict[tuple[str, ...], int] = {}
    duplicates: list[tuple[tuple[str, ...], int, int]] = []
    if node is not None:
        try:
            if _expanded_size(node, {}, set()) > MAX_EXPANDED_VALUES:
                raise ValueError(f"its aliases expand to more than {MAX_EXPANDED_VALUES:,}"
                                 " values")
        except ValueError as exc:
            raise ConfigError([ConfigProblem(name, None, "", "", str(exc))]) from None
        _line_index(node, (), lines, duplicates)
    if duplicates:
        raise ConfigError([ConfigProblem(name, line, ".".join(path), "",
                                         f"key given twice (first at line {first}): remove one")
                           for path, first, line in duplicates])
    return validate_data(model, data if data is not None else {}, name, lines, context)


def text_line(data: bytes, offset: int) -> int:
    """The 1-based line of a byte offset."""
    return data.count(b"\n", 0, offset) + 1


def read_secret_file(path: Path, key: str) -> str:
    """The first line of a secret file that only its owner may read (mode 0600 or 0400)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{key}: {path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{key}: {path}: not UTF-8 text (a password file holds one line"
                         " of text)") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"{key}: {path}: mode {stat.S_IMODE(mode):04o} lets other users "
                         f"read the secret; chmod 600 {path}")
    secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise ValueError(f"{key}: {path}: the file is empty")
    return secret


def secret_by_reference(env: str | None, file: Path | None, *, env_key: str,
                        file_key: str) -> str | None:
    """A secret named by an environment variable or by a file only its owner can read
    (None when neither is given); a reference that cannot be resolved is a ValueError
    naming the config key (``env_key``/``file_key``) it came from."""
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise ValueError(f"{env_key}: environment variable {env} is not set")
        return value
    if file is not None:
        return read_secret_file(file, file_key)
    return None
