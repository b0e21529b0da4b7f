"""The checks' inputs depend on the submission and the seed only: not on which of the
grader's own (local, non-site-packages) modules happen to be imported."""

from __future__ import annotations

import importlib
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

import autograder.checks.plugin  # noqa: F401  (sets hypothesis up as grading does)
from autograder.checks.strategies import float_tensors


def _draws() -> list:
    seen = []

    @settings(settings.get_profile("grading"), max_examples=40)
    @given(n=st.integers(min_value=0, max_value=2**40), x=float_tensors((3,)))
    def check(n, x):
        seen.append((n, x.tolist()))

    check()
    return seen


def test_a_local_module_full_of_constants_changes_no_drawn_input(tmp_path, monkeypatch):
    before = _draws()
    (tmp_path / "constants_everywhere.py").write_text(
        "VALUES = [" + ", ".join(str(987654321 + i) for i in range(200)) + "]\n"
        "FLOATS = [" + ", ".join(f"{i}.123456789" for i in range(200)) + "]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("constants_everywhere")
    try:
        after = _draws()
    finally:
        sys.modules.pop("constants_everywhere", None)
    assert module.VALUES[0] == 987654321
    assert after == before
    assert not any(987654321 <= n < 987654521 for n, _ in after)
    assert not (tmp_path / ".hypothesis").exists()


def test_a_repeated_request_for_the_same_inputs_gets_the_same_strategy_object():
    # Checks ask for their strategies inside the test body, once per example; hypothesis
    # validates every new strategy object when it first draws from it, which per drawn
    # input would cost more than building the tensor.
    import torch

    from autograder.checks.strategies import int_tensors, sampled, tensors_of

    assert float_tensors((3, 4), dtype=torch.float64, min_value=-2, max_value=2) is \
        float_tensors([3, 4], dtype=torch.float64, min_value=-2, max_value=2)
    assert float_tensors((3, 4)) is not float_tensors((4, 3))
    assert int_tensors((5,), 0, 9) is int_tensors((5,), 0, 9)
    assert tensors_of((2, 2), torch.int64) is tensors_of((2, 2), torch.int64)
    assert sampled((None, torch.float32)) is sampled((None, torch.float32))
    assert sampled((True, False)) is not sampled((1, 0))      # equal tuples, other values
    assert sampled((True, False)).elements == (True, False)


def test_grading_still_seeds_the_random_module_for_every_example():
    # The grading set-up drops hypothesis's per-draw check of the random module and its
    # reseeding of NumPy's global generator; Python's own generator stays seeded per
    # example, so a check using it draws the same values every run.
    import random

    def draws() -> list[float]:
        seen = []

        @settings(settings.get_profile("grading"), max_examples=5)
        @given(n=st.integers(min_value=0, max_value=3))
        def check(n):
            seen.append(random.random())

        check()
        return seen

    random.seed(1)
    first = draws()
    random.seed(2)
    assert draws() == first
    assert len(set(first)) == 1      # the same seed before each example
