"""Hypothesis strategies shared by every check (plural nouns, min_value/max_value).

Tensors are cheap to make: hypothesis draws what matters about an input (its shape,
dtype, the scale of its values, a seed, and which special values to plant where: the
bounds, the value nearest 0, ties), and torch builds the tensor from those in
microseconds. Drawing every element instead costs ~9 ms per input, most of a check's
time. Shrinking stays meaningful: a failing input shrinks to the smallest shape, seed 0,
the full range and nothing planted (then to the one planted value that matters), so the
instructor still sees a small counterexample.

The values are a pure function of the drawn choices (``torch.Generator`` on the CPU),
so the per-submission seeding of the checks gives byte-identical regrades.

Every strategy here makes its choices directly on hypothesis's data, in one span per value
(:mod:`autograder.checks.choices`): the same choices, values and shrinking as the composites
of ``st.integers`` and ``st.sampled_from`` they stand for, at a quarter of the cost. Checks
draw their other choices through :func:`integers`, :func:`booleans` and :func:`sampled` for
the same reason.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .choices import Draws, booleans, built, integers, sampled_from

__all__ = ["FLOAT_DTYPES", "TIE", "booleans", "broadcastable_shapes", "dtypes", "float_tensors", "int_tensors",
           "integers", "probabilities", "sampled", "seeded_floats", "seeded_tensor", "seeds", "shapes", "tensors_of"]

FLOAT_DTYPES = (torch.float32, torch.float64)
TIE = "tie"   # a planted value equal to the tensor's first element (for max, argmax, sorting)
# The share of [min_value, max_value] the values spread over, around the point nearest 0:
# the full range first (what a shrunk input uses), then values near 1 and near 0 in size.
SCALES = (1.0, 0.1, 1e-4)
_MAX_PLANTED = 4


# Strategy objects are made once per distinct argument and kept: hypothesis validates a
# strategy object the first time it draws from it, which per drawn input would cost more
# than building the tensor.
_SEED_RANGE = (0, 2**32 - 1)
_SEEDS = integers(*_SEED_RANGE)
_DTYPES = sampled_from(FLOAT_DTYPES)


def dtypes() -> st.SearchStrategy[torch.dtype]:
    return _DTYPES


def sampled(values: tuple) -> st.SearchStrategy:
    """``st.sampled_from(values)`` (the same choices), one object per tuple of values
    (hypothesis makes a new one per call, which a check that draws it per example would
    build and validate anew). Values that cannot be a cache key (dicts of keyword
    arguments) get a strategy of their own: make it once, at module level."""
    values = tuple(values)
    try:
        # The types are part of the key: (1, 0) == (True, False), but they draw other values.
        return _sampled(values, tuple(type(v) for v in values))
    except TypeError:               # unhashable values
        return sampled_from(values)


@functools.lru_cache(maxsize=1024)
def _sampled(values: tuple, types: tuple) -> st.SearchStrategy:
    return sampled_from(values)


def seeds() -> st.SearchStrategy[int]:
    """Seeds of ``torch.Generator`` (shrink towards 0)."""
    return _SEEDS


@functools.lru_cache(maxsize=None)
def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 6) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes of ``min_dims`` to ``max_dims`` axes, each of ``min_side`` to ``max_side``
    (the shapes ``hypothesis.extra.numpy.array_shapes`` draws).

    Two draws make a shape: the number of axes, then one integer whose digits in base
    ``max_side - min_side + 1`` are the sides. ``array_shapes`` draws a list, a
    continue-or-stop choice and a side per axis: each draw costs hypothesis tens of
    microseconds of bookkeeping, about what building the tensor costs. A failing shape still shrinks to the
    fewest axes, then to every side ``min_side``."""
    if not 0 <= min_dims <= max_dims or not 0 <= min_side <= max_side:
        raise ValueError(f"shapes: invalid bounds dims [{min_dims}, {max_dims}], sides [{min_side}, {max_side}]")
    return built(_shape, min_dims, max_dims, min_side, max_side,
                 name=f"shapes(min_dims={min_dims}, max_dims={max_dims}, min_side={min_side}, max_side={max_side})")


def _shape(draws: Draws, min_dims: int, max_dims: int, min_side: int, max_side: int) -> tuple[int, ...]:
    count = draws.integer(min_dims, max_dims)
    base = max_side - min_side + 1
    code = draws.integer(0, base ** count - 1) if count and base > 1 else 0
    sides = []
    for _ in range(count):
        code, digit = divmod(code, base)
        sides.append(min_side + digit)
    return tuple(sides)


def _plant(draws: Draws, count: int, choices: tuple, most: int) -> tuple[tuple[int, Any], ...]:
    """Up to ``most`` (flat index, choice) pairs; shrinks to none, then to index 0 and the
    first choice. One draw says how many, one per pair says where and what (index times
    the number of choices, plus the choice)."""
    if not count or not choices:
        return ()
    how_many = draws.integer(0, min(count, most))
    pairs = [divmod(draws.integer(0, count * len(choices) - 1), len(choices)) for _ in range(how_many)]
    return tuple((index, choices[choice]) for index, choice in pairs)


def broadcastable_shapes(count: int = 2, min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
                         max_side: int = 6) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``count`` shapes that broadcast together (sizes of 1 and missing leading axes)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=count, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(lambda b: b.input_shapes)


def seeded_tensor(shape: tuple[int, ...], dtype: torch.dtype, seed: int, min_value: float = -10.0,
                  max_value: float = 10.0) -> torch.Tensor:
    """A tensor of any dtype from a seed: uniform floats on ``[min_value, max_value]``,
    integers on the integer part of the range (from 0 for unsigned dtypes), or booleans."""
    generator = torch.Generator().manual_seed(seed)
    shape = tuple(shape)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=generator).bool()
    if dtype.is_floating_point:
        return torch.empty(shape, dtype=torch.float64).uniform_(min_value, max_value, generator=generator).to(dtype)
    low = max(int(min_value), 0) if dtype == torch.uint8 else int(min_value)
    return torch.randint(low, int(max_value) + 1, shape, generator=generator).to(dtype)


def tensors_of(shape: tuple[int, ...], dtype: torch.dtype, min_value: float = -10.0,
               max_value: float = 10.0) -> st.SearchStrategy[torch.Tensor]:
    """Tensors of a given shape and any dtype whose values come from a drawn seed
    (:func:`seeded_tensor`)."""
    return _cached_tensors_of(tuple(shape), dtype, min_value, max_value)


@functools.lru_cache(maxsize=4096)
def _cached_tensors_of(shape, dtype, min_value, max_value):
    return built(_tensor_of, shape, dtype, min_value, max_value,
                 name=f"tensors_of({shape}, {dtype}, min_value={min_value}, max_value={max_value})")


def _tensor_of(draws: Draws, shape, dtype, min_value, max_value):
    return seeded_tensor(shape, dtype, draws.integer(*_SEED_RANGE), min_value, max_value)


def _representable(value: float, dtype: torch.dtype) -> float:
    return float(torch.tensor(value, dtype=torch.float64).to(dtype).item())


def seeded_floats(shape: tuple[int, ...], dtype: torch.dtype, seed: int, min_value: float, max_value: float,
                  scale: float = 1.0, planted: tuple[tuple[int, float | str], ...] = (),
                  avoid_zero: float = 0.0) -> torch.Tensor:
    """The tensor ``float_tensors`` builds from its drawn choices (a pure function of them).

    Uniform values on ``[min_value, max_value]`` narrowed to ``scale`` of its width around
    the point of the range nearest 0; then each ``(flat index, value)`` of ``planted`` is
    written (``TIE``: the first element's value); then entries inside
    ``(-avoid_zero, avoid_zero)`` move out to ``±avoid_zero``, within the range."""
    count = math.prod(shape)
    width = (max_value - min_value) * scale
    low = min(max(0.0, min_value), max_value) - width / 2       # centred on the point nearest 0 ...
    low = min(max(low, min_value), max_value - width)           # ... and moved inside the range
    generator = torch.Generator().manual_seed(seed)
    flat = torch.rand(count, dtype=torch.float64, generator=generator) * width + low
    flat = flat.clamp(min_value, max_value)                     # against the rounding of low + width
    for index, value in planted:
        if count:
            flat[index % count] = flat[0] if value == TIE else float(value)
    values = flat.to(dtype)
    if avoid_zero:
        outside = _representable(avoid_zero, dtype)             # the first value of dtype >= avoid_zero
        if outside < avoid_zero:
            outside = float(torch.nextafter(torch.tensor(outside, dtype=dtype), torch.tensor(math.inf, dtype=dtype)))
        up = outside if outside <= max_value else -outside
        down = -outside if -outside >= min_value else outside
        values = torch.where(values.abs() < avoid_zero, torch.where(values < 0, down, up).to(dtype), values)
    return values.reshape(shape).clone()


def float_tensors(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    dtype: torch.dtype | st.SearchStrategy[torch.dtype] = torch.float32,
    min_value: float = -10.0,
    max_value: float = 10.0,
    avoid_zero: float = 0.0,
    specials: tuple[float | str, ...] | None = None,
) -> st.SearchStrategy[torch.Tensor]:
    """Finite float tensors of ``shape`` (a tuple, a strategy, default :func:`shapes`) and
    ``dtype`` with values in ``[min_value, max_value]``. A ``dtype`` strategy (e.g.
    :func:`dtypes`) is drawn first, then the tensor of that dtype (the choices of
    ``dtype.flatmap(lambda d: float_tensors(shape, d, ...))``).

    ``avoid_zero`` keeps entries out of ``(-avoid_zero, avoid_zero)`` (for gradient checks
    of functions with a kink at 0). ``specials``: the values that may be planted, by
    default both bounds, the value of the range nearest 0 (unless ``avoid_zero``) and
    :data:`TIE`; every planted value lies in the range."""
    if isinstance(dtype, st.SearchStrategy):
        return _cached_float_tensors(_shape_strategy(shape), dtype, min_value, max_value, avoid_zero,
                                     None if specials is None else tuple(specials))
    if dtype == torch.float32:   # bounds float32 represents exactly, as hypothesis wanted
        min_value, max_value = _representable(min_value, dtype), _representable(max_value, dtype)
    if not min_value <= max_value:
        raise ValueError(f"float_tensors: min_value {min_value} > max_value {max_value}")
    if specials is None:
        nearest_zero = min(max(0.0, min_value), max_value)
        specials = (min_value, max_value, TIE) + (() if avoid_zero else (nearest_zero,))
    for value in specials:
        if value != TIE and not min_value <= float(value) <= max_value:
            raise ValueError(f"float_tensors: the special value {value} is outside [{min_value}, {max_value}]")
    return _cached_float_tensors(_shape_strategy(shape), dtype, min_value, max_value, avoid_zero, tuple(specials))


def _shape_strategy(shape) -> st.SearchStrategy[tuple[int, ...]]:
    if isinstance(shape, st.SearchStrategy):
        return shape
    return _just_shape(tuple(shape)) if shape is not None else shapes()


@functools.lru_cache(maxsize=4096)
def _just_shape(shape: tuple[int, ...]) -> st.SearchStrategy[tuple[int, ...]]:
    # One object per shape: a new strategy per call would also miss the caches below (a
    # strategy is its own cache key), and every drawn input would build and validate it.
    return built(_constant, shape, name=f"just({shape})")


def _constant(draws: Draws, value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=4096)
def _cached_float_tensors(shape, dtype, min_value, max_value, avoid_zero, specials):
    # One strategy object per distinct request: hypothesis validates each new strategy
    # object the first time it is drawn from, and checks ask for the same ones per example.
    # A dtype strategy: drawn first, then the tensor of that dtype (see float_tensors).
    build = _any_dtype_tensor if isinstance(dtype, st.SearchStrategy) else _float_tensor
    return built(build, shape, dtype, min_value, max_value, avoid_zero, specials,
                 name=f"float_tensors({shape!r}, dtype={dtype!r}, min_value={min_value}, max_value={max_value}, "
                      f"avoid_zero={avoid_zero}, specials={specials})")


def _float_tensor(draws: Draws, shape, dtype, min_value, max_value, avoid_zero, specials) -> torch.Tensor:
    drawn = tuple(draws.draw(shape))
    count = math.prod(drawn)
    seed, scale = draws.integer(*_SEED_RANGE), SCALES[draws.integer(0, len(SCALES) - 1)]
    planted = _plant(draws, count, specials, _MAX_PLANTED)
    return seeded_floats(drawn, dtype, seed, min_value, max_value, scale, planted, avoid_zero)


def _any_dtype_tensor(draws: Draws, shape, dtypes, min_value, max_value, avoid_zero, specials) -> torch.Tensor:
    dtype = draws.draw(dtypes)
    return draws.draw(_of_dtype(shape, dtype, min_value, max_value, avoid_zero, specials))


@functools.lru_cache(maxsize=4096)
def _of_dtype(shape, dtype, min_value, max_value, avoid_zero, specials):
    # float_tensors validates and rounds its bounds (torch operations): once per dtype, not per example.
    return float_tensors(shape, dtype, min_value, max_value, avoid_zero, specials)


def int_tensors(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]], min_value: int, max_value: int,
                dtype: torch.dtype = torch.int64) -> st.SearchStrategy[torch.Tensor]:
    """Integer tensors (class labels, indices) with values in ``[min_value, max_value]``,
    from a drawn seed; both bounds may be planted."""
    if not min_value <= max_value:
        raise ValueError(f"int_tensors: min_value {min_value} > max_value {max_value}")
    return _cached_int_tensors(_shape_strategy(shape), min_value, max_value, dtype)


@functools.lru_cache(maxsize=4096)
def _cached_int_tensors(shape, min_value, max_value, dtype):
    return built(_int_tensor, shape, min_value, max_value, dtype,
                 name=f"int_tensors({shape!r}, {min_value}, {max_value}, dtype={dtype})")


def _int_tensor(draws: Draws, shape, min_value, max_value, dtype) -> torch.Tensor:
    drawn = tuple(draws.draw(shape))
    count = math.prod(drawn)
    generator = torch.Generator().manual_seed(draws.integer(*_SEED_RANGE))
    flat = torch.randint(min_value, max_value + 1, (count,), generator=generator, dtype=torch.int64)
    for index, value in _plant(draws, count, (min_value, max_value), 2):
        flat[index] = value
    return flat.to(dtype).reshape(drawn)


def probabilities(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
                  dtype: torch.dtype = torch.float32) -> st.SearchStrategy[torch.Tensor]:
    """Probabilities in ``[0, 1]`` with the edges a loss must survive planted: exactly 0
    and 1, 1/2, and values within 1e-9 of 0 and of 1 (which round to 1 in float32)."""
    return float_tensors(shape, dtype=dtype, min_value=0.0, max_value=1.0,
                         specials=(0.0, 1.0, 0.5, 1e-9, 1 - 1e-9, TIE))
