"""Reading untrusted YAML: each value checked for type and range, each failure naming its path.

Every reader takes a value and its dotted path
(``corpus.campaigns[1].campaign.actors[0].rotation_count``) and returns the
checked value or raises `ScenarioError` as ``PATH: what is wrong``.
`load_yaml` turns every way PyYAML can fail into the same error. Booleans
are not integers here, and integers are not strings: YAML reads ``yes`` as
true and ``0123`` as 83, so a silent conversion would change the scenario.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import NoReturn, TypeVar

import yaml

from node.errors import ScenarioError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_KEY_SHOWN = 60
_T = TypeVar("_T")


def load_yaml(document: str) -> object:
    """``yaml.safe_load``, with every way it can fail turned into a `ScenarioError`."""
    try:
        return yaml.safe_load(document)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = _one_line(exc.problem or exc.context or "malformed")
        raise ScenarioError(f"(top level): not valid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"(top level): not valid YAML: {_one_line(str(exc))}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a constructor on a bad scalar
        raise ScenarioError(f"(top level): unusable YAML value: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ScenarioError("(top level): nested too deeply") from None


def mapping(value: object, path: str, known: tuple[str, ...],
            required: tuple[str, ...] = ()) -> Mapping[str, object]:
    """A mapping whose keys are all ``known`` and include every ``required`` one."""
    if not isinstance(value, dict):
        fail(path, f"must be a mapping (keys: {', '.join(known)})")
    for key in value:
        if not isinstance(key, str) or key not in known:
            fail(join(path, key), f"unknown key (known here: {', '.join(known)})")
    for key in required:
        if key not in value:
            fail(join(path, key), "required")
    return value


def items(value: object, path: str, minimum: int, maximum: int, *,
          what: str = "a list") -> list[object]:
    """A list of ``minimum``..``maximum`` items (not yet checked themselves)."""
    if not isinstance(value, list):
        fail(path, f"must be {what}")
    if minimum == maximum and len(value) != minimum:
        fail(path, f"must be {what}")
    if len(value) < minimum:
        fail(path, f"must have at least {minimum} item{'s' if minimum > 1 else ''}")
    if len(value) > maximum:
        fail(path, f"must have at most {maximum} items")
    return value


def text(value: object, path: str, limit: int, *, allow_empty: bool = False,
         what: str = "a string") -> str:
    """A string of at most ``limit`` characters, none of them a control character."""
    if not isinstance(value, str):
        fail(path, f"must be {what}")
    if not value and not allow_empty:
        fail(path, "must not be empty")
    if len(value) > limit:
        fail(path, f"must be at most {limit} characters")
    if _CONTROL.search(value):
        fail(path, "must not contain control characters")
    return value


def integer(value: object, path: str, minimum: int, maximum: int, *,
            what: str = "an integer") -> int:
    """An integer (not a boolean) in ``minimum``..``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(path, f"must be {what}")
    if value < minimum:
        fail(path, f"must be >= {minimum}")
    if value > maximum:
        fail(path, f"must be <= {maximum}")
    return value


def number(value: object, path: str, minimum: float, maximum: float, *,
           exclusive_minimum: bool = False) -> float:
    """A finite integer or float in range, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(path, "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        fail(path, "must be a finite number")
    # Compared before float(): a huge integer must not overflow.
    if exclusive_minimum and value <= minimum:
        fail(path, f"must be > {minimum:g}")
    if value < minimum:
        fail(path, f"must be >= {minimum:g}")
    if value > maximum:
        fail(path, f"must be <= {maximum:g}")
    return float(value)


def choice(value: object, path: str, choices: Iterable[str]) -> str:
    """One of ``choices``."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        fail(path, f"must be one of: {', '.join(options)}")
    return value


def optional(raw: Mapping[str, object], key: str, path: str,
             check: Callable[[object, str], _T]) -> _T | None:
    """A field whose absence (or null) means "none"."""
    value = raw.get(key)
    return None if value is None else check(value, join(path, key))


def unique(values: Iterable[str], paths: Iterable[str], what: str) -> None:
    """Fail at the path of the first value seen before."""
    seen: set[str] = set()
    for value, path in zip(values, paths, strict=True):
        if value in seen:
            fail(path, f"duplicate {what} {value!r} (each must be unique in the scenario)")
        seen.add(value)


def join(path: str, key: object) -> str:
    """``path.key``; a key that is not a printable string is shown as its repr, cut short."""
    name = key if isinstance(key, str) and key.isprintable() else repr(key)
    if len(name) > _MAX_KEY_SHOWN:
        name = name[:_MAX_KEY_SHOWN] + "…"
    return f"{path}.{name}" if path else name


def fail(path: str, message: str) -> NoReturn:
    raise ScenarioError(f"{path or '(top level)'}: {message}")


def _one_line(message: str) -> str:
    return " ".join(message.split())[:200]
