"""Run a hypothesis check's examples without hypothesis's search engine, and hand a failure
to the engine, which shrinks and reports it.

A grading run executes every hypothesis check on every submission, and nearly all of
those runs pass. For a passing check, hypothesis's engine adds work per example that only
pays off while searching for a bug: a tree of the choices seen so far (to make each example
novel), mutations of earlier examples, health-check bookkeeping, a cache of results. Here
each example is drawn by hypothesis itself (a ``ConjectureData`` with hypothesis's own
provider: the same strategies, the same distribution of shapes, dtypes, values and special
values), from a generator seeded by the check's seed, and run through hypothesis's own
``execute_once`` (the same fixtures, ``data.draw``, per-example seeding of ``random``).

:func:`run_examples` runs as many distinct examples as the check's ``max_examples``, the
first one hypothesis's simplest. When all pass, the check passes. When one fails, the
check is run again by the engine, whose example database holds that one example: the
engine replays it first, shrinks it, and the check fails as it would have (a small
counterexample in the report, the same exception; should the replay not fail, which only
code that keeps state between calls does, the failure first seen is the check's). When
the examples are not enough (too many duplicates or invalid draws: a small input space),
the engine runs the check, as it would have. Both draw from the check's own seed
(``_hypothesis_internal_use_seed``, which grading sets per submission): a regrade is
byte-identical.

Each example starts with ``random`` (and the other generators hypothesis manages) in the
state hypothesis gives it, ``Random(0)``'s; hypothesis saves and restores every such
generator around every example (five copies of a 625-word state, about a third of what
running an example costs hypothesis), here they are saved once before the examples and
restored once after them (:class:`_SeedPerExample`), which no example can tell apart.

Any part of this that the installed hypothesis lacks (its internals change between
versions) makes :func:`run_examples` run the engine instead; nothing else changes.
"""

from __future__ import annotations

import contextlib
import inspect
from random import Random
from typing import Any, Callable, Iterator

__all__ = ["run_examples", "available"]

_KEY = b"autograder-fast-examples"
# Draws per wanted example before giving up on distinct ones (then the engine runs).
_ATTEMPTS_PER_EXAMPLE = 2

try:
    from hypothesis import Phase, settings as Settings
    from hypothesis.core import StateForActualGivenExecution, process_arguments_to_given
    from hypothesis.database import InMemoryExampleDatabase, choices_to_bytes
    from hypothesis.errors import StopTest, UnsatisfiedAssumption
    from hypothesis.internal.conjecture.data import ConjectureData, Status
    from hypothesis.internal.conjecture.engine import ChoiceTemplate
    _MISSING: str | None = None
except ImportError as exc:        # another hypothesis: the engine runs every check
    _MISSING = str(exc)
try:
    import hypothesis.core as _core
    from hypothesis.internal import entropy as _entropy
    _PRNG = callable(getattr(_core, "deterministic_PRNG", None)) and hasattr(_entropy, "RANDOMS_TO_MANAGE")
except ImportError:
    _PRNG = False                 # hypothesis's own per-example save, seed, restore


def available() -> bool:
    """Whether this hypothesis has what :func:`run_examples` needs."""
    return _MISSING is None


def run_examples(test: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Run the hypothesis check ``test`` (a ``@given`` function) with the fixture values
    ``kwargs``; return when it passes, raise the check's failure otherwise (as calling
    ``test(**kwargs)`` would, shrunk by hypothesis)."""
    failing = _quick(test, kwargs) if _eligible(test) else _ENGINE
    if failing is None:
        return
    if failing is _ENGINE:
        test(**kwargs)
        return
    choices, failure = failing
    _replay(test, kwargs, choices)
    # The engine saw no failure: the student's code failed once and not when called again
    # (it keeps state between calls, say). What was seen counts, as a flaky failure does.
    failure.add_note("(this failure did not happen again when the example was replayed)")
    raise failure


_ENGINE = object()     # "let the engine run the check"


def _eligible(test: Callable[..., Any]) -> bool:
    if _MISSING is not None or not getattr(test, "is_hypothesis_test", False):
        return False
    handle = getattr(test, "hypothesis", None)
    settings = getattr(test, "_hypothesis_internal_use_settings", None)
    return (handle is not None and settings is not None and Phase.generate in settings.phases
            and not getattr(test, "hypothesis_explicit_examples", ())
            and getattr(test, "_hypothesis_internal_use_reproduce_failure", None) is None)


def _quick(test: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """None when ``max_examples`` distinct examples passed; the choices of the first failing
    example and its exception; or ``_ENGINE`` when too few distinct valid examples could be
    drawn."""
    settings = test._hypothesis_internal_use_settings
    wanted = settings.max_examples
    random = Random(getattr(test, "_hypothesis_internal_use_seed", None) or 0)
    _, _, stuff = process_arguments_to_given(test, (), dict(kwargs), test.hypothesis._given_kwargs,
                                             inspect.signature(test).parameters)
    state = StateForActualGivenExecution(stuff, test.hypothesis.inner_test, settings, random, test,
                                         thread_overlap={})
    seen: set[bytes] = set()
    with _seeded_per_example():
        for attempt in range(wanted * _ATTEMPTS_PER_EXAMPLE):
            if len(seen) >= wanted:
                return None
            prefix = (ChoiceTemplate("simplest", count=None),) if attempt == 0 else None
            data = ConjectureData(random=random, prefix=prefix)
            try:
                state.execute_once(data)
            except (StopTest, UnsatisfiedAssumption):
                continue                 # an invalid draw (a filter, an overrun): not an example
            except Exception as failure:
                return tuple(data.choices), failure
            if data.status is not Status.VALID:
                continue
            seen.add(choices_to_bytes(data.choices))
    return None if len(seen) >= wanted else _ENGINE


class _SeedPerExample:
    """What ``execute_once`` gets for ``deterministic_PRNG()`` inside :func:`_seeded_per_example`:
    entering it puts every generator hypothesis manages in its seeded state (``Random(0)``'s
    state; ``seed(0)`` for another kind), as ``deterministic_PRNG(0)`` does; leaving it
    restores nothing (the states before the examples are restored once, after them)."""

    _SEEDED = Random(0).getstate()

    def __init__(self, original: Callable[..., Any], generators: list[Any]):
        self._original, self._generators = original, generators

    def __call__(self, seed: int = 0) -> Any:
        return self if seed == 0 else self._original(seed)

    def __enter__(self) -> None:
        for generator in self._generators:
            if type(generator) is Random:
                generator.setstate(self._SEEDED)
            else:
                generator.seed(0)

    def __exit__(self, *exc: object) -> bool:
        return False


@contextlib.contextmanager
def _seeded_per_example() -> Iterator[None]:
    """Run examples with per-example seeding at the cost of one save and one restore."""
    if not _PRNG:
        yield
        return
    original = _core.deterministic_PRNG
    with original(0):             # registers hypothesis's own generator, saves and seeds all
        generators = [g for g in (ref() for ref in list(_entropy.RANDOMS_TO_MANAGE.data.values())) if g is not None]
        _core.deterministic_PRNG = _SeedPerExample(original, generators)
        try:
            yield
        finally:
            _core.deterministic_PRNG = original


def _replay(test: Callable[..., Any], kwargs: dict[str, Any], choices: tuple) -> None:
    """Run the engine on ``test`` with ``choices`` in its example database: it replays
    them first, and shrinks the failure they give (or, should they pass this time, goes on
    generating as usual)."""
    settings = test._hypothesis_internal_use_settings
    database = InMemoryExampleDatabase()
    # Under the secondary key: a failure from the primary one counts as shrunk already, and
    # the engine would report it as it is.
    database.save(_KEY + b".secondary", choices_to_bytes(choices))
    phases = (Phase.reuse,) + tuple(p for p in settings.phases if p is not Phase.reuse)
    saved = test._hypothesis_internal_use_settings, getattr(test, "_hypothesis_internal_database_key", None)
    test._hypothesis_internal_use_settings = Settings(parent=settings, derandomize=False, database=database,
                                                      phases=phases)
    test._hypothesis_internal_database_key = _KEY
    try:
        test(**kwargs)
    finally:
        test._hypothesis_internal_use_settings, test._hypothesis_internal_database_key = saved
