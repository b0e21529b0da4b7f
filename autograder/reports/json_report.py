"""Machine-readable JSON of one student's result (``report.json``), and its reader.

Layout (schema 1)::

    {
      "schema": 1,
      "student": str, "messages": [str], "duration_s": float,
      "points": float, "max_points": float, "fraction": float,        # computed
      "isolation": {<every Isolation field>, "level": str},          # level computed
      "assignments": [{
          "assignment": str, "submitted": bool, "source": str | null, "messages": [str],
          "points": float, "max_points": float, "fraction": float,    # computed
          "tasks": [{
              "task": str, "max_points": float, "penalty": str | null,
              "points": float, "fraction": float,                     # computed
              "checks": [{<every CheckResult field>, "passed": bool}] # passed computed
          }]
      }]
    }

Enums are written as their values, tuples as lists. Every field of every dataclass is
written (instructors' ``detail`` included: this file is not for students). Computed
values are there for readers in other languages; ``student_from_json`` ignores them and
the model recomputes them. Output is deterministic: sorted keys, indent 2, ASCII only,
a trailing newline, nothing taken from the clock.
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from ..results import (
    AssignmentResult, CheckResult, Isolation, Lateness, Outcome, StudentResult, TaskResult, Visibility,
)

__all__ = ["SCHEMA", "student_to_json", "student_from_json", "plain", "assignment_to_plain",
           "assignment_from_plain", "isolation_from_plain"]

SCHEMA = 1


def _fraction(points: float, max_points: float) -> float:
    """Share of ``max_points`` earned; 0 when nothing could be earned."""
    return points / max_points if max_points > 0 else 0.0


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a model value: dataclasses by field, enums by value."""
    if is_dataclass(value) and not isinstance(value, type):
        # Fields are read generically so that a field added to the model is written
        # without touching this module (the round-trip test then flags the reader).
        encoded = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        encoded.update(_computed(value))
        return encoded
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


def _computed(value: Any) -> dict[str, Any]:
    """The derived values written next to a dataclass's fields."""
    if isinstance(value, CheckResult):
        return {"passed": value.passed}
    if isinstance(value, TaskResult):
        return {"points": value.points, "fraction": value.fraction}
    if isinstance(value, (AssignmentResult, StudentResult)):
        return {
            "points": value.points,
            "max_points": value.max_points,
            "fraction": _fraction(value.points, value.max_points),
            "final_points": value.final_points,
            "graded": value.graded,
        }
    if isinstance(value, Lateness):
        return {"late": value.late}
    if isinstance(value, Isolation):
        return {"level": value.level}
    return {}


def student_to_json(result: StudentResult, history: list[dict[str, Any]] | None = None) -> str:
    """The complete result of one student as JSON text (see the module docstring).

    ``history`` (from the course record): the earlier results of each assignment, written
    under ``"history"``; ``student_from_json`` ignores it. ``ValueError`` if a number is
    NaN or infinite: that is not JSON, and it would be a bug upstream rather than a grade.
    """
    document = {"schema": SCHEMA, **_plain(result)}
    if history is not None:
        document["history"] = history
    return json.dumps(document, sort_keys=True, indent=2, allow_nan=False) + "\n"


def plain(value: Any) -> Any:
    """A JSON-ready copy of any model value (what ``report.json`` holds for it)."""
    return _plain(value)


def assignment_to_plain(result: AssignmentResult) -> dict[str, Any]:
    """One assignment's result as report.json holds it, without its render-time lateness."""
    from dataclasses import replace

    return _plain(replace(result, lateness=None))


def assignment_from_plain(obj: dict[str, Any]) -> AssignmentResult:
    """The inverse of ``assignment_to_plain`` (``ValueError`` naming a bad key)."""
    return _assignment(obj, "the assignment")


def isolation_from_plain(obj: dict[str, Any]) -> Isolation:
    return _isolation(obj, "isolation")


# --- reading ------------------------------------------------------------------------

def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]``, checked to be of ``kind``; ``ValueError`` naming the place otherwise."""
    if key not in obj:
        raise ValueError(f"report.json: missing key '{key}' in {where}")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a flag must not pass for a number or vice versa.
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if wrong_bool or not isinstance(value, kinds):
        expected = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ValueError(
            f"report.json: '{key}' in {where} must be {expected} "
            f"(got {value!r}, a {type(value).__name__})"
        )
    return value


def _objects(obj: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    items = _get(obj, key, list, where)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"report.json: {where}.{key}[{index}] must be an object")
    return items


def _strings(obj: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _get(obj, key, list, where)
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"report.json: every item of '{key}' in {where} must be a string")
    return tuple(items)


def _enum(kind: type[Enum], obj: dict[str, Any], key: str, where: str) -> Any:
    value = _get(obj, key, str, where)
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in kind)
        raise ValueError(
            f"report.json: '{key}' in {where} must be one of {choices} (got {value!r})"
        ) from None


_NUMBER = (int, float)


def _check(obj: dict[str, Any], where: str) -> CheckResult:
    return CheckResult(
        name=_get(obj, "name", str, where),
        task=_get(obj, "task", str, where),
        outcome=_enum(Outcome, obj, "outcome", where),
        weight=_get(obj, "weight", _NUMBER, where),
        visibility=_enum(Visibility, obj, "visibility", where),
        message=_get(obj, "message", str, where),
        detail=_get(obj, "detail", str, where),
        duration_s=_get(obj, "duration_s", _NUMBER, where),
    )


def _task(obj: dict[str, Any], where: str) -> TaskResult:
    checks = _objects(obj, "checks", where)
    return TaskResult(
        task=_get(obj, "task", str, where),
        max_points=_get(obj, "max_points", _NUMBER, where),
        checks=tuple(_check(c, f"{where}.checks[{i}]") for i, c in enumerate(checks)),
        penalty=_get(obj, "penalty", (str, type(None)), where),
    )


def _lateness(obj: dict[str, Any] | None, where: str) -> Lateness | None:
    if obj is None:
        return None
    return Lateness(
        submitted_at=_get(obj, "submitted_at", (str, type(None)), where),
        due=_get(obj, "due", (str, type(None)), where),
        late_by_s=_get(obj, "late_by_s", _NUMBER, where),
        penalty_percent=_get(obj, "penalty_percent", _NUMBER, where),
        reason=_get(obj, "reason", str, where),
        extended=_get(obj, "extended", bool, where),
    )


def _assignment(obj: dict[str, Any], where: str) -> AssignmentResult:
    tasks = _objects(obj, "tasks", where)
    lateness = obj.get("lateness")      # optional: absent in results stored before rendering
    if lateness is not None and not isinstance(lateness, dict):
        raise ValueError(f"report.json: 'lateness' in {where} must be an object or null")
    return AssignmentResult(
        assignment=_get(obj, "assignment", str, where),
        tasks=tuple(_task(t, f"{where}.tasks[{i}]") for i, t in enumerate(tasks)),
        submitted=_get(obj, "submitted", bool, where),
        source=_get(obj, "source", (str, type(None)), where),
        messages=_strings(obj, "messages", where),
        lateness=_lateness(lateness, f"{where}.lateness"),
    )


def _isolation(obj: dict[str, Any], where: str) -> Isolation:
    return Isolation(
        filesystem=_get(obj, "filesystem", str, where),
        network=_get(obj, "network", str, where),
        processes=_get(obj, "processes", str, where),
        user=_get(obj, "user", str, where),
        memory_limit_bytes=_get(obj, "memory_limit_bytes", int, where),
        notes=_strings(obj, "notes", where),
    )


def student_from_json(text: str) -> StudentResult:
    """Read what ``student_to_json`` wrote back into an equal ``StudentResult``.

    Computed values in the text are ignored (the model recomputes them). ``ValueError``
    naming the key and its place if the text is not JSON, its ``schema`` is not 1, or a
    key is missing or of the wrong type.
    """
    document = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(document, dict):
        raise ValueError(
            f"report.json: the top level must be an object (got {type(document).__name__})"
        )
    schema = document.get("schema")
    if schema != SCHEMA:
        raise ValueError(
            f"report.json: unsupported schema {schema!r}; this version reads schema {SCHEMA}"
        )
    where = "the report"
    isolation = _get(document, "isolation", dict, where)
    assignments = _objects(document, "assignments", where)
    return StudentResult(
        student=_get(document, "student", str, where),
        assignments=tuple(
            _assignment(a, f"assignments[{i}]") for i, a in enumerate(assignments)
        ),
        isolation=_isolation(isolation, "isolation"),
        messages=_strings(document, "messages", where),
        duration_s=_get(document, "duration_s", _NUMBER, where),
    )
