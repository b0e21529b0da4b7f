"""The built strategies (autograder.checks.choices) make the choices of the hypothesis
strategies they stand for: the same values from the same generator, the same recorded
choices (which the example database and shrinking replay), in either implementation."""

from __future__ import annotations

from random import Random

import pytest
import torch
from hypothesis import strategies as st
from hypothesis.internal.conjecture.data import ConjectureData

import autograder.checks.plugin  # noqa: F401  (sets hypothesis up as grading does)
from autograder.checks import choices, strategies


def _draws(strategy, seeds=range(300)) -> list[tuple[object, tuple]]:
    out = []
    for seed in seeds:
        data = ConjectureData(random=Random(seed))
        value = data.draw(strategy)
        out.append((value.tolist() if isinstance(value, torch.Tensor) else value, tuple(data.choices)))
    return out


@pytest.mark.parametrize("ours,theirs", [
    (choices.integers(0, 5), st.integers(min_value=0, max_value=5)),
    (choices.integers(-3, 2**31 - 1), st.integers(min_value=-3, max_value=2**31 - 1)),   # weighted bounds
    (choices.booleans(), st.booleans()),
    (choices.sampled_from(("a", {"b": 1}, None)), st.sampled_from(["a", {"b": 1}, None])),
    (strategies.dtypes(), st.sampled_from(strategies.FLOAT_DTYPES)),
], ids=["small", "wide", "booleans", "sampled", "dtypes"])
def test_a_built_strategy_draws_what_the_hypothesis_one_draws(ours, theirs):
    assert _draws(ours) == _draws(theirs)


def test_a_drawn_dtype_draws_what_flatmap_draws():
    flat = strategies.dtypes().flatmap(lambda d: strategies.float_tensors((2, 3), dtype=d))
    assert _draws(strategies.float_tensors((2, 3), dtype=strategies.dtypes())) == _draws(flat)


@pytest.mark.parametrize("strategy", [
    strategies.float_tensors(), strategies.float_tensors(strategies.shapes(min_dims=1), avoid_zero=1e-3),
    strategies.int_tensors((5,), 0, 9), strategies.probabilities((7,), torch.float64),
    strategies.tensors_of((2, 3), torch.int64), strategies.shapes(max_dims=3, max_side=9),
], ids=["float", "avoid-zero", "int", "probabilities", "seeded", "shapes"])
def test_the_composite_fallback_draws_the_same_values(strategy):
    # What built() returns when hypothesis lacks the base class it subclasses.
    fallback = choices._composite(strategy.build, strategy.args)
    assert _draws(strategy, range(100)) == [(v, c) for v, c in _draws(fallback, range(100))]


def test_a_recorded_choice_sequence_replays_to_the_same_input():
    strategy = strategies.float_tensors(dtype=strategies.dtypes())
    for value, recorded in _draws(strategy, range(50)):
        replay = ConjectureData.for_choices(recorded)
        assert replay.draw(strategy).tolist() == value


def test_the_simplest_choices_give_the_simplest_input():
    data = ConjectureData.for_choices((0,) * 10)
    x = data.draw(strategies.float_tensors(dtype=strategies.dtypes()))
    assert x.dtype == torch.float32 and x.shape == ()      # the first dtype, no axes


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError, match="min_value 3 > max_value 2"):
        choices.integers(3, 2)
    with pytest.raises(ValueError, match="no values"):
        choices.sampled_from(())
