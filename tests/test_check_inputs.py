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
