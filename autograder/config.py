"""Per-assignment grading configuration: ``assignments/<NN_name>/config.toml``.

Schema (every key is checked; an unknown key or a wrong type is a ``ConfigError`` naming
the key and the file)::

    [assignment]
    module = "activations"        # required: the assignment's module
    title = "Activations and losses"
    call_timeout_s = 10.0         # wall-clock limit of one call into student code
    submission_timeout_s = 180.0  # wall-clock limit for grading this module of one student
    show_hidden_inputs = false    # may feedback show the inputs of hidden checks?
    execute_notebook = false      # run a whole notebook submission instead of its definitions
    due = "2026-10-01T23:59:00+00:00"   # ISO 8601 with an offset (no offset is an error)

    [late]                        # what a late submission costs (see autograder.scoring)
    policy = "percent_per_day"    # "none" (default) | "zero" | "percent_per_day" | "percent_per_hour"
    percent = 10                  # per started day (or hour) after due + grace
    grace_minutes = 0
    max_penalty_percent = 100

    [tasks.<name>]                # one table per handout task of the module
    points = 10                   # integer >= 0; an assignment's points sum to 100
    not_allowed = ["torch.sigmoid", ".sigmoid"]   # forbidden names ('.x' = a method x)

    [accuracy]                    # mnist_cnn only: the accuracy-threshold budget
    epochs = 3
    batch_size = 64
    lr = 0.001
    seed = 0
    train_images = 5000
    test_images = 2000
    margin = 0.05
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .course import ASSIGNMENTS, Assignment, project_root
from .errors import ConfigError
from .scoring import LATE_POLICIES, LatePolicy

__all__ = ["TaskConfig", "AccuracyConfig", "AssignmentConfig", "load_config", "load_course", "parse_time"]


@dataclass(frozen=True)
class TaskConfig:
    """Points and forbidden names of one task."""

    task_id: str
    points: int
    not_allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccuracyConfig:
    """The training budget and margin of the MNIST accuracy threshold."""

    epochs: int = 3
    batch_size: int = 64
    lr: float = 0.001
    seed: int = 0
    train_images: int = 5000
    test_images: int = 2000
    margin: float = 0.05


@dataclass(frozen=True)
class AssignmentConfig:
    """The grading configuration of one assignment."""

    module: str
    title: str
    tasks: Mapping[str, TaskConfig]
    call_timeout_s: float = 10.0
    submission_timeout_s: float = 180.0
    show_hidden_inputs: bool = False
    execute_notebook: bool = False
    accuracy: AccuracyConfig | None = None
    due: datetime | None = None               # timezone-aware
    late: LatePolicy = LatePolicy()
    source: Path | None = field(default=None, compare=False)

    @property
    def total_points(self) -> int:
        return sum(task.points for task in self.tasks.values())


_ASSIGNMENT_KEYS: dict[str, type | tuple[type, ...]] = {
    "module": str,
    "title": str,
    "call_timeout_s": (int, float),
    "submission_timeout_s": (int, float),
    "show_hidden_inputs": bool,
    "execute_notebook": bool,
    "due": (str, datetime),
}
_LATE_KEYS: dict[str, type | tuple[type, ...]] = {
    "policy": str, "percent": (int, float), "grace_minutes": (int, float), "max_penalty_percent": (int, float),
}
_TASK_KEYS: dict[str, type | tuple[type, ...]] = {"points": int, "not_allowed": list}
_ACCURACY_KEYS: dict[str, type | tuple[type, ...]] = {
    f.name: ((int, float) if f.type == "float" else int) for f in fields(AccuracyConfig)
}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _check_table(table: Any, where: str, schema: Mapping[str, Any], path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: '{where}' must be a table (got {type(table).__name__})")
    for key, value in table.items():
        if key not in schema:
            raise ConfigError(
                f"{path}: unknown key '{where}.{key}'; allowed keys: {', '.join(sorted(schema))}"
            )
        expected = schema[key]
        # bool is an int in Python; a flag must not pass for a number or vice versa.
        wrong_bool = isinstance(value, bool) and expected is not bool
        if wrong_bool or not isinstance(value, expected):
            raise ConfigError(
                f"{path}: '{where}.{key}' must be {_type_name(expected)} "
                f"(got {value!r}, a {type(value).__name__})"
            )
    return table


def parse_time(value: str | datetime) -> datetime:
    """An ISO 8601 time with an offset (``2026-10-01T23:59:00+00:00``, ``...Z``), or a TOML
    datetime; ``ValueError`` saying what is wrong when it does not parse or has no offset."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-10-01T23:59:00+00:00") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()!r} has no UTC offset; add one, e.g. {value.isoformat()}+00:00")
    return value


def _late_policy(raw: Any, path: Path) -> LatePolicy:
    table = _check_table(raw, "late", _LATE_KEYS, path)
    policy = table.get("policy", "none")
    if policy not in LATE_POLICIES:
        raise ConfigError(f"{path}: 'late.policy' must be one of {', '.join(map(repr, LATE_POLICIES))} "
                          f"(got {policy!r})")
    for key in ("percent", "grace_minutes", "max_penalty_percent"):
        if key in table and table[key] < 0:
            raise ConfigError(f"{path}: 'late.{key}' must be >= 0 (got {table[key]!r})")
    if table.get("max_penalty_percent", 100) > 100:
        raise ConfigError(f"{path}: 'late.max_penalty_percent' must be at most 100 "
                          f"(got {table['max_penalty_percent']!r})")
    if policy.startswith("percent") and "percent" not in table:
        raise ConfigError(f"{path}: 'late.percent' is required with late.policy = {policy!r}")
    return LatePolicy(policy=policy, percent=float(table.get("percent", 0)),
                      grace_minutes=float(table.get("grace_minutes", 0)),
                      max_penalty_percent=float(table.get("max_penalty_percent", 100)))


def load_config(path: Path, assignment: Assignment) -> AssignmentConfig:
    """Read and validate the configuration of ``assignment`` from ``path``."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; every assignment needs a config.toml") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _check_table(raw, "<top level>", {"assignment": dict, "tasks": dict, "accuracy": dict, "late": dict}, path)
    head = _check_table(raw.get("assignment", {}), "assignment", _ASSIGNMENT_KEYS, path)
    if head.get("module") != assignment.module:
        raise ConfigError(
            f"{path}: 'assignment.module' must be {assignment.module!r} (got {head.get('module')!r})"
        )
    for key in ("call_timeout_s", "submission_timeout_s"):
        if key in head and head[key] <= 0:
            raise ConfigError(f"{path}: 'assignment.{key}' must be positive (got {head[key]!r})")

    due = None
    if "due" in head:
        try:
            due = parse_time(head["due"])
        except ValueError as exc:
            raise ConfigError(f"{path}: 'assignment.due': {exc}") from None
    late = _late_policy(raw["late"], path) if "late" in raw else LatePolicy()

    raw_tasks = raw.get("tasks", {})
    _check_table(raw_tasks, "tasks", {name: dict for name in assignment.tasks}, path)
    tasks: dict[str, TaskConfig] = {}
    for name in assignment.tasks:
        if name not in raw_tasks:
            raise ConfigError(f"{path}: missing table [tasks.{name}] for task {assignment.module}.{name}")
        entry = _check_table(raw_tasks[name], f"tasks.{name}", _TASK_KEYS, path)
        if "points" not in entry or entry["points"] < 0:
            raise ConfigError(f"{path}: 'tasks.{name}.points' must be an integer >= 0")
        banned = entry.get("not_allowed", [])
        if not all(isinstance(item, str) and item for item in banned):
            raise ConfigError(f"{path}: 'tasks.{name}.not_allowed' must be a list of names")
        tasks[name] = TaskConfig(f"{assignment.module}.{name}", entry["points"], tuple(banned))

    accuracy = None
    if "accuracy" in raw:
        values = _check_table(raw["accuracy"], "accuracy", _ACCURACY_KEYS, path)
        accuracy = AccuracyConfig(**values)
    if assignment.module == "mnist_cnn" and accuracy is None:
        raise ConfigError(f"{path}: missing table [accuracy] (the MNIST accuracy-threshold budget)")

    config = AssignmentConfig(
        module=assignment.module,
        title=head.get("title", assignment.module),
        tasks=MappingProxyType(tasks),
        call_timeout_s=float(head.get("call_timeout_s", 10.0)),
        submission_timeout_s=float(head.get("submission_timeout_s", 180.0)),
        show_hidden_inputs=head.get("show_hidden_inputs", False),
        execute_notebook=head.get("execute_notebook", False),
        accuracy=accuracy,
        due=due,
        late=late,
        source=path,
    )
    if config.total_points != 100:
        raise ConfigError(f"{path}: the task points must sum to 100 (got {config.total_points})")
    return config


def load_course(root: Path | None = None) -> dict[str, AssignmentConfig]:
    """Load the configuration of all six assignments, keyed by module name."""
    base = (root or project_root()) / "assignments"
    return {a.module: load_config(base / a.folder / "config.toml", a) for a in ASSIGNMENTS}
