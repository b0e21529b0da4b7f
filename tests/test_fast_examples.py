"""A hypothesis check's examples run without hypothesis's search engine
(``autograder.checks.fast_examples``): as many distinct examples as the check asks for, the
first the simplest, drawn from the check's seed; a failure is handed to the engine, which
replays and shrinks it, so the report still shows a small counterexample."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograder.checks.plugin  # noqa: F401  (sets hypothesis up as grading does)
from autograder.checks import fast_examples
from autograder.checks.api import CheckFailure, fail

pytestmark = pytest.mark.skipif(not fast_examples.available(), reason="this hypothesis lacks what it needs")


def _check(strategy, body, max_examples=12, seed=1234):
    """A grading-profile check over ``strategy`` whose body records its inputs."""
    seen: list = []

    @settings(settings.get_profile("grading"), max_examples=max_examples)
    @given(x=strategy)
    def check(x):
        seen.append(x)
        body(x)

    check._hypothesis_internal_use_seed = seed
    return check, seen


def test_a_passing_check_runs_as_many_distinct_examples_as_it_asks_for_the_simplest_first():
    check, seen = _check(st.integers(min_value=0, max_value=10**6), lambda x: None, seed=1234)
    fast_examples.run_examples(check, {})
    assert len(set(seen)) == 12 and len(seen) <= 24       # a repeated draw does not count
    assert seen[0] == 0


def test_the_examples_are_a_function_of_the_seed():
    runs = []
    for seed in (7, 7, 8):
        check, seen = _check(st.lists(st.integers(), max_size=5), lambda x: None, seed=seed)
        fast_examples.run_examples(check, {})
        runs.append(seen)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def _fails_from_1000(x):
    if x >= 1000:
        fail("too large", detail=f"x={x}")


def test_a_failure_is_shrunk_by_the_engine_to_a_small_counterexample():
    # Nearly every drawn x of [0, 10**9] fails: the first failing one is large, and the
    # engine shrinks it to the smallest failing input, 1000.
    check, seen = _check(st.integers(min_value=0, max_value=10**9), _fails_from_1000, seed=1234)
    with pytest.raises(CheckFailure) as raised:
        fast_examples.run_examples(check, {})
    notes = "\n".join(getattr(raised.value, "__notes__", ()))
    assert "x=1000" in notes
    assert raised.value.detail == "x=1000"
    assert any(x > 1000 for x in seen)          # it was found large, reported small


def test_a_failure_is_reported_the_same_on_every_run():
    reports = []
    for _ in range(2):
        check, _ = _check(st.integers(min_value=0, max_value=10**9), _fails_from_1000, seed=99)
        with pytest.raises(CheckFailure) as raised:
            fast_examples.run_examples(check, {})
        reports.append((raised.value.message, raised.value.detail, tuple(raised.value.__notes__)))
    assert reports[0] == reports[1]


def test_a_failure_of_one_rare_input_is_still_found_and_reported():
    # Only x == 0 fails, and the fast path's first example is the simplest one: hypothesis
    # (replaying it) reports exactly that input.
    def body(x):
        assert x != 0, "zero"

    check, _ = _check(st.integers(min_value=0, max_value=10**6), body, seed=5)
    with pytest.raises(AssertionError, match="zero"):
        fast_examples.run_examples(check, {})


def test_a_failure_that_does_not_happen_again_still_fails_the_check():
    # Code that keeps state between calls: it fails on its third call only, so the engine's
    # replay (and everything after it) passes. The failure that was seen counts.
    calls = []

    def body(x):
        calls.append(x)
        if len(calls) == 3:
            fail("third call", detail="stateful")

    check, _ = _check(st.integers(min_value=0, max_value=10**6), body, seed=8)
    with pytest.raises(CheckFailure, match="third call") as raised:
        fast_examples.run_examples(check, {})
    assert len(calls) > 12                      # the engine ran too, and saw no failure
    assert any("did not happen again" in note for note in raised.value.__notes__)


def test_a_check_with_fewer_inputs_than_examples_is_run_by_the_engine():
    # Three possible inputs: the engine tries each once and stops (it knows the space is
    # exhausted); drawing at random would repeat them.
    check, seen = _check(st.sampled_from(["a", "b", "c"]), lambda x: None, seed=3)
    fast_examples.run_examples(check, {})
    assert set(seen) == {"a", "b", "c"}


def test_the_check_settings_are_left_as_they_were_after_a_replay():
    check, _ = _check(st.integers(min_value=0, max_value=10**9), _fails_from_1000, seed=1)
    before = check._hypothesis_internal_use_settings
    with pytest.raises(CheckFailure):
        fast_examples.run_examples(check, {})
    assert check._hypothesis_internal_use_settings is before
    assert before.database is None


def test_fixture_values_reach_the_check_body():
    seen = []

    @settings(settings.get_profile("grading"), max_examples=5)
    @given(x=st.integers(min_value=0, max_value=100))
    def check(student, x):
        seen.append((student, x))

    check._hypothesis_internal_use_seed = 11
    fast_examples.run_examples(check, {"student": "<student>"})
    assert len(seen) == 5 and all(s == "<student>" for s, _ in seen)


def test_every_example_starts_from_the_seeded_random_state_and_the_callers_state_comes_back():
    # As hypothesis's deterministic_PRNG gives each example: random as Random(0) left it,
    # whatever the example before did with it; the caller's own state untouched.
    import random

    import hypothesis.core

    expected = random.Random(0).random()
    random.seed(99)
    before = random.getstate()
    patched = hypothesis.core.deterministic_PRNG
    firsts: list[float] = []

    def body(x):
        firsts.append(random.random())
        random.random()                       # an example that moves the generator on

    check, seen = _check(st.integers(min_value=0, max_value=10**6), body)
    fast_examples.run_examples(check, {})
    assert len(firsts) >= 12 and set(firsts) == {expected}
    assert random.getstate() == before
    assert hypothesis.core.deterministic_PRNG is patched

    def failing(x):
        random.random()
        if x > 10:
            fail("too large")

    check, _ = _check(st.integers(min_value=0, max_value=10**6), failing)
    with pytest.raises(CheckFailure):
        fast_examples.run_examples(check, {})
    assert random.getstate() == before
    assert hypothesis.core.deterministic_PRNG is patched
