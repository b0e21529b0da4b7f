"""Strategies that build their value from hypothesis's primitive choices, in one span.

An input of a check is several small choices: a shape (the number of axes, the sides), a
dtype, a seed, a scale, the special values to plant. Written as ``@st.composite`` over
``st.integers`` and ``st.sampled_from``, every one of them is a strategy draw of its own:
hypothesis opens and closes a span for it and looks its strategy up, about 40 µs per
choice, which for a tensor input is more than building the tensor. A :func:`built`
strategy makes the same choices directly on hypothesis's ``ConjectureData``
(``draw_integer`` with the weights ``st.integers`` passes, the index ``st.sampled_from``
draws, ``draw_boolean`` as ``st.booleans``), inside the one span of its own draw, about
10 µs per choice. So:

- from the same random generator it draws the same choices, hence the same values, as
  the composite strategy it replaces;
- a failing input shrinks choice by choice, towards the same simplest values (the first
  of a list, the lower bound, ``False``);
- hypothesis replays a recorded choice sequence through it like through any strategy.

A build function takes a :class:`Draws` and the strategy's arguments and returns the
value. Should the installed hypothesis lack the strategy base class used here (an
internal that has been stable for years), :func:`built` returns an ``@st.composite``
strategy that makes the same choices through ``st.integers``, ``st.sampled_from`` and
``st.booleans``: slower, and otherwise the same.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Protocol

from hypothesis import strategies as st

try:
    from hypothesis.strategies._internal.strategies import SearchStrategy as _SearchStrategy
except ImportError:                     # another hypothesis: built() makes composites
    _SearchStrategy = None              # type: ignore[assignment, misc]

__all__ = ["Draws", "built", "integers", "booleans", "sampled_from"]


class Draws(Protocol):
    """What a build function draws with."""

    def integer(self, low: int, high: int) -> int:
        """An integer of ``[low, high]``, as ``st.integers(low, high)`` draws it."""

    def boolean(self) -> bool:
        """A boolean, as ``st.booleans()`` draws it."""

    def draw(self, strategy: st.SearchStrategy) -> Any:
        """A value of any strategy (a :func:`built` one without a span of its own)."""


@functools.lru_cache(maxsize=1024)
def _weights(low: int, high: int) -> dict[int, float] | None:
    # What st.integers gives draw_integer for a wide bounded range (hypothesis 6.1xx,
    # IntegersStrategy.do_draw): the bounds and their neighbours drawn more often. One
    # dict per range (hypothesis only reads it), not one per draw.
    if high - low > 127:
        return {low: 2 / 128, low + 1: 1 / 128, high - 1: 1 / 128, high: 2 / 128}
    return None


class _DataDraws:
    """Choices made directly on a ``ConjectureData``."""

    __slots__ = ("data",)

    def __init__(self, data: Any):
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw_integer(low, high, weights=_weights(low, high))

    def boolean(self) -> bool:
        return self.data.draw_boolean()

    def draw(self, strategy: st.SearchStrategy) -> Any:
        if type(strategy) is _Built:
            return strategy.build(self, *strategy.args)
        return self.data.draw(strategy)


class _CompositeDraws:
    """The same choices through public strategies (the fallback)."""

    __slots__ = ("_draw",)

    def __init__(self, draw: Callable[[st.SearchStrategy], Any]):
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return self._draw(_integers(low, high))

    def boolean(self) -> bool:
        return self._draw(_BOOLEANS)

    def draw(self, strategy: st.SearchStrategy) -> Any:
        return self._draw(strategy)


@functools.lru_cache(maxsize=None)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=low, max_value=high)


_BOOLEANS = st.booleans()

if _SearchStrategy is not None:
    class _Built(_SearchStrategy):
        """A strategy whose value is ``build(draws, *args)``."""

        def __init__(self, build: Callable[..., Any], args: tuple, name: str):
            super().__init__()
            self.build, self.args, self._name = build, args, name

        def do_draw(self, data: Any) -> Any:
            return self.build(_DataDraws(data), *self.args)

        def __repr__(self) -> str:
            return self._name
else:                                   # pragma: no cover - only with another hypothesis
    _Built = None                       # type: ignore[assignment, misc]


@st.composite
def _composite(draw, build, args):
    return build(_CompositeDraws(draw), *args)


def built(build: Callable[..., Any], *args: Any, name: str) -> st.SearchStrategy:
    """The strategy whose value is ``build(draws, *args)`` (see the module docstring);
    ``name`` is its repr. Make it once per distinct ``args`` and keep it: hypothesis
    validates a strategy object the first time it draws from it."""
    if _Built is not None:
        return _Built(build, args, name)
    return _composite(build, args)


# -- the primitive strategies, as built ones ---------------------------------------------
def _integer(draws: Draws, low: int, high: int) -> int:
    return draws.integer(low, high)


def _boolean(draws: Draws) -> bool:
    return draws.boolean()


def _sampled(draws: Draws, values: tuple) -> Any:
    return values[draws.integer(0, len(values) - 1)]


@functools.lru_cache(maxsize=None)
def integers(min_value: int, max_value: int) -> st.SearchStrategy[int]:
    """``st.integers(min_value, max_value)`` (both bounds required): the same choices."""
    if not min_value <= max_value:
        raise ValueError(f"integers: min_value {min_value} > max_value {max_value}")
    return built(_integer, min_value, max_value, name=f"integers({min_value}, {max_value})")


@functools.lru_cache(maxsize=None)
def booleans() -> st.SearchStrategy[bool]:
    """``st.booleans()``: the same choices."""
    return built(_boolean, name="booleans()")


def sampled_from(values: tuple) -> st.SearchStrategy:
    """``st.sampled_from(values)`` for a non-empty tuple: the same choices. The strategy
    keeps the tuple as ``elements``."""
    values = tuple(values)
    if not values:
        raise ValueError("sampled_from: no values to sample from")
    strategy = built(_sampled, values, name=f"sampled_from({values!r})")
    strategy.elements = values
    return strategy
