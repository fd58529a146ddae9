"""Loading YAML config into typed models, with errors that name file, line, key and value.

Every component's config is a pydantic model with ``extra="forbid"`` (see
:class:`StrictModel`): a typo in a key is an error, not a silently ignored setting.
:func:`load_yaml_model` parses the file keeping the line of every key, validates,
and turns each validation problem into one line such as::

    firmware_configs/hue/kimlong-01.yaml:12: stations.kimlong.levels: [2.0, 1.0]:
        alarm levels must increase
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


def _line_index(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            out[path] = key.start_mark.line + 1
            _line_index(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            out[path] = item.start_mark.line + 1
            _line_index(item, path, out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(
    exc: ValidationError, name: str, lines: dict[tuple[str, ...], int]
) -> Iterator[ConfigProblem]:
    for err in exc.errors(include_url=False):
        loc = tuple(str(p) for p in err["loc"])
        line = None
        for n in range(len(loc), -1, -1):  # the deepest key that exists in the file
            if loc[:n] in lines:
                line = lines[loc[:n]]
                break
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        value = "" if err["type"] == "missing" else _short(err.get("input"))
        yield ConfigProblem(name, line, ".".join(loc), value, message)


def validate_data(model: type[M], data: Any, name: str, lines: dict[tuple[str, ...], int]) -> M:
    """Validate already-parsed data; problems name ``name`` and the lines given."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(list(_problems(exc, name, lines))) from None


def load_yaml_model(model: type[M], path: Path | str, *, text: str | None = None) -> M:
    """Parse and validate a YAML file into ``model``; raise :class:`ConfigError` naming the
    file, line, key path and bad value of every problem."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([ConfigProblem(name, None, "", "", f"cannot read: {exc}")]) from None
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
    if node is not None:
        _line_index(node, (), lines)
    return validate_data(model, data if data is not None else {}, name, lines)
