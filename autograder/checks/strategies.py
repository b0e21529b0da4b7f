"""Hypothesis strategies shared by every check (plural nouns, min_value/max_value)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["shapes", "float_tensors", "FLOAT_DTYPES", "dtypes"]

FLOAT_DTYPES = (torch.float32, torch.float64)


def dtypes() -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from(FLOAT_DTYPES)


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 6) -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def float_tensors(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    dtype: torch.dtype = torch.float32,
    min_value: float = -10.0,
    max_value: float = 10.0,
    avoid_zero: float = 0.0,
) -> st.SearchStrategy[torch.Tensor]:
    """Finite float tensors; ``avoid_zero`` keeps entries out of ``(-avoid_zero, avoid_zero)``
    (for gradient checks of functions with a kink at 0)."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    width = 32 if dtype == torch.float32 else 64
    if width == 32:   # hypothesis wants bounds that float32 represents exactly
        min_value, max_value = float(np.float32(min_value)), float(np.float32(max_value))
    elements = st.floats(min_value=min_value, max_value=max_value, allow_nan=False, allow_infinity=False,
                         width=width)
    if avoid_zero:
        elements = elements.filter(lambda v: abs(v) >= avoid_zero)
    return hnp.arrays(np_dtype, shape if shape is not None else shapes(), elements=elements).map(
        lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dtype))
