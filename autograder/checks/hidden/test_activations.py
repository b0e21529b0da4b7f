"""Hidden checks of assignment 3, ``activations``: values, gradients and numerical
stability against the reference, on inputs drawn by hypothesis.

A check that applies to several tasks is written once and parametrised over a table
(``ELEMENTWISE``, ``NORMALISATIONS``): one case per task, each with its own task mark,
so every case is graded, weighted and named as a check of its own task."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from solutions import activations as ref

from autograder.checks.api import CheckFailure, expect_tensor, expect_tensor_one_of, fail
from autograder.checks.remote import call_unmutated, forward_backward, reference_gradients
from autograder.checks.strategies import (FLOAT_DTYPES, dtypes, float_tensors, int_tensors, integers, probabilities,
                                          sampled, shapes)

M = "activations"
LARGE = torch.tensor([-1e4, -1e3, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1e3, 1e4])


def _never(kwargs: dict) -> bool:
    return False


def _always(kwargs: dict) -> bool:
    return True


def _elu_kinked(kwargs: dict) -> bool:
    # elu is differentiable at 0 only for alpha = 1 (both one-sided slopes are 1).
    return kwargs.get("alpha", 1.0) != 1.0


@dataclass(frozen=True, repr=False)
class Elementwise:
    """One elementwise activation of the handout, as the checks below try it."""

    name: str
    reference: Callable[..., torch.Tensor]
    kwargs: st.SearchStrategy[dict]          # the keyword arguments the checks call it with
    kinked: Callable[[dict], bool]           # does it have a kink at 0 for these kwargs?

    def __repr__(self) -> str:
        # What hypothesis prints in a falsifying example: stable across runs (a regrade's
        # report is byte-identical) and readable.
        return self.name


@dataclass(frozen=True, repr=False)
class Normalisation:
    """softmax or log_softmax: normalise along ``dim`` (default the last axis)."""

    name: str
    reference: Callable[..., torch.Tensor]

    def __repr__(self) -> str:
        return self.name


ELEMENTWISE = (
    Elementwise("sigmoid", ref.sigmoid, st.just({}), _never),
    Elementwise("tanh", ref.tanh, st.just({}), _never),
    Elementwise("relu", ref.relu, st.just({}), _always),
    Elementwise("leaky_relu", ref.leaky_relu,
                sampled(({}, {"negative_slope": 0.2}, {"negative_slope": 0.05})), _always),
    Elementwise("elu", ref.elu, sampled(({}, {"alpha": 0.5}, {"alpha": 2.0})), _elu_kinked),
)
NORMALISATIONS = (Normalisation("softmax", ref.softmax), Normalisation("log_softmax", ref.log_softmax))


def _per_task(table) -> list:
    """One pytest case per entry of ``table``, graded as that entry's task, named by it."""
    return [pytest.param(entry, marks=pytest.mark.task(f"{M}.{entry.name}"), id=entry.name) for entry in table]


KINK_HINT = ("the gradient is wrong at 0 only: torch.abs, torch.sign and a clamp at its bound have their own "
             "gradient there (abs'(0) = 0); build the expression so that it is differentiable at 0, e.g. "
             "torch.where(x >= 0, -x, x) for -|x|")
# Hints about overflow: given only when the check saw nan or inf, the failure they explain.
HINTS = {
    "sigmoid": "exp(-x) overflows for very negative x: use exp of a non-positive number only, e.g. "
               "exp(x) / (1 + exp(x)) for x < 0, and keep both branches of torch.where finite",
    "tanh": "exp(x) overflows for large |x|: exponentiate only non-positive numbers (use the odd symmetry)",
    "elu": "exp(x) of large positive x overflows in the unused branch of torch.where: clamp its input to "
           "<= 0",
    "softmax": "subtract the maximum along dim before exp (the max trick); softmax is unchanged by it",
    "log_softmax": "compute x - max - log(sum(exp(x - max))) instead of log(softmax(x))",
    "cross_entropy": "use a stable log-softmax (subtract the max) rather than log(softmax(x))",
}


def _call(student, name, *args, **kwargs):
    return call_unmutated(student, f"{M}.{name}", *args, what=name, **kwargs)


def _gradient_check(student, name, args, wrt, upstream, kwargs=None, rtol=1e-4, atol=1e-5, nonfinite_hint=None,
                    elementwise=False):
    """The student's input gradients against the reference's.

    ``nonfinite_hint`` goes with nan/inf gradients only. For an ``elementwise`` function
    whose gradient is wrong at 0 only (a branch switch or ``abs`` there), the message says
    so: that is what the check saw, not an overflow."""
    got = forward_backward(student, f"{M}.{name}", args, wrt, upstream, kwargs, what=f"{name}")
    want = reference_gradients(getattr(ref, name), args, wrt, upstream, kwargs)
    for index, (g, w) in zip(wrt, zip(got.grads, want.grads)):
        if w is None:
            continue
        if g is None:
            fail(f"the gradient of {name} with respect to argument {index + 1} is None: "
                 "the output is not connected to that input.")
        try:
            expect_tensor(g, w, what=f"the gradient of {name}", rtol=rtol, atol=atol, nonfinite_hint=nonfinite_hint)
        except CheckFailure as failure:
            x = args[index]
            if elementwise and isinstance(g, torch.Tensor) and g.shape == w.shape == x.shape:
                bad = ~torch.isclose(g.detach().to(torch.float64), w.to(torch.float64), rtol=rtol, atol=atol)
                if bool(bad.any()) and bool(torch.isfinite(g).all()) and bool((x[bad] == 0).all()):
                    fail(f"the gradient of {name} is wrong at 0 (and right everywhere else the check looked): "
                         f"{name} is differentiable there.", hint=KINK_HINT, detail=failure.detail)
            raise


# -- elementwise activations -------------------------------------------------------
# Each check runs once per activation (its own task; its weight is per case).
_ANY_FLOAT_TENSOR = float_tensors(dtype=dtypes())


@pytest.mark.weight(2)
@pytest.mark.parametrize("activation", _per_task(ELEMENTWISE))
@given(data=st.data())
def test_activation_matches_reference(student, activation, data):
    x = data.draw(_ANY_FLOAT_TENSOR, label="x")
    kwargs = data.draw(activation.kwargs, label="kwargs")
    name = activation.name
    expect_tensor(_call(student, name, x, **kwargs), activation.reference(x, **kwargs), what=f"{name}(x)",
                  rtol=1e-5, atol=1e-6)


@pytest.mark.weight(2)
@pytest.mark.parametrize("activation", _per_task(ELEMENTWISE))
@given(data=st.data())
def test_activation_gradient_matches_reference(student, activation, data):
    kwargs = data.draw(activation.kwargs, label="kwargs")
    dtype = data.draw(dtypes())
    x = data.draw(float_tensors(shapes(min_dims=1), dtype=dtype, avoid_zero=1e-3 if activation.kinked(kwargs) else 0.0))
    upstream = data.draw(float_tensors(tuple(x.shape), dtype=dtype, min_value=-2, max_value=2))
    _gradient_check(student, activation.name, [x], (0,), upstream, kwargs, elementwise=True)


@pytest.mark.weight(2)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("activation", _per_task(ELEMENTWISE))
def test_activation_finite_for_large_inputs(student, activation, dtype):
    name = activation.name
    x = LARGE.to(dtype)
    hint = HINTS.get(name)
    got = _call(student, name, x)
    expect_tensor(got, activation.reference(x), what=f"{name}(x) for inputs up to ±1e4", nonfinite_hint=hint)
    kink = (x == 0) if activation.kinked({}) else torch.zeros_like(x, dtype=torch.bool)
    _gradient_check(student, name, [x[~kink]], (0,), torch.ones_like(x[~kink]), nonfinite_hint=hint,
                    elementwise=True)


@pytest.mark.public
@pytest.mark.parametrize("activation", _per_task(ELEMENTWISE))
def test_activation_accepts_0d_tensor(student, activation):
    x = torch.tensor(0.5)
    expect_tensor(_call(student, activation.name, x), activation.reference(x),
                  what=f"{activation.name} of a 0-d tensor")


@pytest.mark.task(f"{M}.relu")
@pytest.mark.public
def test_relu_known_values(student):
    x = torch.tensor([-2.0, -1.0, 0.0, 3.0])
    expect_tensor(_call(student, "relu", x), torch.tensor([0.0, 0.0, 0.0, 3.0]), what="relu([-2, -1, 0, 3])")


@pytest.mark.task(f"{M}.leaky_relu")
def test_leaky_relu_default_slope_is_0_01(student):
    x = torch.tensor([-100.0, 5.0])
    expect_tensor(_call(student, "leaky_relu", x), torch.tensor([-1.0, 5.0]), what="leaky_relu with the default slope")


@pytest.mark.task(f"{M}.elu")
def test_elu_default_alpha_is_1(student):
    x = torch.tensor([-1.0, 2.0])
    expect_tensor(_call(student, "elu", x), ref.elu(x), what="elu with the default alpha")


# -- softmax and log-softmax -----------------------------------------------------
@st.composite
def _dim_cases(draw):
    """A shape of 1 to 3 axes and one of its axes, counted from either end."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    return shape, draw(integers(-len(shape), len(shape) - 1))


DIM_CASES = _dim_cases()


@pytest.mark.weight(2)
@pytest.mark.parametrize("normalisation", _per_task(NORMALISATIONS))
@given(data=st.data())
def test_normalisation_matches_reference(student, normalisation, data):
    name, reference = normalisation.name, normalisation.reference
    shape, dim = data.draw(DIM_CASES)
    dtype = data.draw(dtypes())
    x = data.draw(float_tensors(shape, dtype=dtype, min_value=-30, max_value=30))
    got = _call(student, name, x, dim=dim)
    want = reference(x, dim=dim)
    if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype and \
            not torch.allclose(got, want, rtol=1e-4, atol=1e-6):
        # Name the axis mistake only when the output IS the normalisation along another axis.
        for other in range(x.dim()):
            along = reference(x, dim=other)
            if other != dim % x.dim() and not torch.allclose(along, want, rtol=1e-4, atol=1e-6) and \
                    torch.allclose(got, along, rtol=1e-4, atol=1e-6):
                fail(f"{name}(x, dim) normalised along another axis than dim.",
                     hint="reduce along the given dim, with keepdim=True so the shapes broadcast",
                     detail=f"dim={dim}, normalised along dim={other}, x: shape {list(x.shape)}")
    expect_tensor(got, want, what=f"{name}(x, dim)", rtol=1e-4, atol=1e-6, detail=f"dim={dim}")


@pytest.mark.weight(2)
@pytest.mark.parametrize("normalisation", _per_task(NORMALISATIONS))
@given(data=st.data())
def test_normalisation_gradient_matches_reference(student, normalisation, data):
    shape, dim = data.draw(DIM_CASES)
    dtype = data.draw(dtypes())
    x = data.draw(float_tensors(shape, dtype=dtype))
    upstream = data.draw(float_tensors(shape, dtype=dtype, min_value=-2, max_value=2))
    _gradient_check(student, normalisation.name, [x], (0,), upstream, {"dim": dim})


@pytest.mark.weight(2)
@pytest.mark.parametrize("normalisation", _per_task(NORMALISATIONS))
def test_normalisation_finite_for_large_inputs(student, normalisation):
    name = normalisation.name
    x = torch.tensor([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 1e4 - 2], [-1e4, -1e4, -1e4]])
    hint = HINTS[name]
    # float32 rounds at magnitude 1e4 to about 1e-3: a correct log-sum-exp written
    # another way differs from the reference by that much, a naive one by nan/inf.
    expect_tensor(_call(student, name, x, dim=-1), normalisation.reference(x, dim=-1),
                  what=f"{name}(x) for logits up to ±1e4", nonfinite_hint=hint, atol=2e-3, rtol=1e-4)
    _gradient_check(student, name, [x], (0,), torch.linspace(-1, 1, 9).reshape(3, 3), {"dim": -1},
                    nonfinite_hint=hint, atol=2e-3)


@pytest.mark.parametrize("normalisation", _per_task(NORMALISATIONS))
def test_normalisation_default_dim_is_last(student, normalisation):
    name = normalisation.name
    x = torch.arange(6.0).reshape(2, 3)
    expect_tensor(_call(student, name, x), normalisation.reference(x, dim=-1),
                  what=f"{name}(x) with the default dim", hint="the default is dim=-1, the last axis")


@pytest.mark.task(f"{M}.softmax")
@pytest.mark.public
def test_softmax_rows_sum_to_one(student):
    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    got = _call(student, "softmax", x, dim=1)
    expect_tensor(got, ref.softmax(x, dim=1), what="softmax(x, dim=1)")
    sums = got.sum(dim=1)
    if not torch.allclose(sums, torch.ones(2), atol=1e-5):
        fail(f"the rows of softmax(x, dim=1) should sum to 1, but sum to {sums.tolist()}.")


# -- losses ----------------------------------------------------------------------
@pytest.mark.task(f"{M}.mse_loss")
@pytest.mark.weight(2)
@given(shape=shapes(min_dims=1), dtype=dtypes(), data=st.data())
def test_mse_loss_matches_reference(student, shape, dtype, data):
    pred = data.draw(float_tensors(shape, dtype=dtype))
    target = data.draw(float_tensors(shape, dtype=dtype))
    expect_tensor(_call(student, "mse_loss", pred, target), ref.mse_loss(pred, target),
                  what="mse_loss(pred, target)", rtol=1e-4, hint="the mean over all elements, a 0-d tensor")


@pytest.mark.task(f"{M}.mse_loss")
@pytest.mark.weight(2)
@given(shape=shapes(min_dims=1), dtype=dtypes(), data=st.data())
def test_mse_loss_gradient_matches_reference(student, shape, dtype, data):
    pred = data.draw(float_tensors(shape, dtype=dtype))
    target = data.draw(float_tensors(shape, dtype=dtype))
    _gradient_check(student, "mse_loss", [pred, target], (0, 1), None)


@pytest.mark.task(f"{M}.mse_loss")
@pytest.mark.public
def test_mse_loss_known_value(student):
    got = _call(student, "mse_loss", torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 6.0]))
    expect_tensor(got, torch.tensor(13.0 / 3.0), what="mse_loss([1, 2, 3], [1, 0, 6])")


def _bce_references(probs, target) -> list[torch.Tensor]:
    """Every right answer (handout): the clamp to [1e-7, 1 - 1e-7] in the input's dtype
    (in float32, 1 - 1e-7 rounds to 1 - 1.19e-7) or in float64, then cast back; at a
    probability of exactly 1 the two differ by about 0.18 per entry."""
    wide = ref.binary_cross_entropy(probs.to(torch.float64), target.to(torch.float64)).to(probs.dtype)
    return [ref.binary_cross_entropy(probs, target), wide]


@pytest.mark.task(f"{M}.binary_cross_entropy")
@pytest.mark.weight(2)
@given(n=integers(1, 12), dtype=dtypes(), data=st.data())
def test_binary_cross_entropy_matches_reference(student, n, dtype, data):
    probs = data.draw(probabilities((n,), dtype))
    target = data.draw(int_tensors((n,), 0, 1)).to(dtype)
    expect_tensor_one_of(_call(student, "binary_cross_entropy", probs, target), _bce_references(probs, target),
                         what="binary_cross_entropy(probs, target)", rtol=1e-4, atol=1e-5,
                         hint="clamp the probabilities to [1e-7, 1 - 1e-7] before taking logs, then average")


@pytest.mark.task(f"{M}.binary_cross_entropy")
@pytest.mark.weight(2)
@given(n=integers(1, 12), dtype=dtypes(), data=st.data())
def test_binary_cross_entropy_gradient_matches_reference(student, n, dtype, data):
    probs = data.draw(float_tensors((n,), dtype=dtype, min_value=0.01, max_value=0.99))
    target = data.draw(float_tensors((n,), dtype=dtype, min_value=0.0, max_value=1.0))
    _gradient_check(student, "binary_cross_entropy", [probs, target], (0,), None)


@pytest.mark.task(f"{M}.binary_cross_entropy")
@pytest.mark.parametrize("shape", [(2, 3), (3, 1, 2)], ids=["2d", "3d"])
def test_binary_cross_entropy_of_any_shape(student, shape):
    # The mean over every element, whatever the shape (len() counts the first axis only).
    generator = torch.Generator().manual_seed(len(shape))
    probs = torch.rand(shape, generator=generator) * 0.98 + 0.01
    target = (torch.rand(shape, generator=generator) > 0.5).to(probs.dtype)
    expect_tensor_one_of(_call(student, "binary_cross_entropy", probs, target), _bce_references(probs, target),
                         what=f"binary_cross_entropy(probs, target) for inputs of shape {list(shape)}", rtol=1e-4,
                         atol=1e-5, hint="average over all elements (.mean()), not over the first axis only")


@pytest.mark.task(f"{M}.binary_cross_entropy")
@pytest.mark.public
def test_binary_cross_entropy_finite_at_0_and_1(student):
    probs, target = torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])
    expect_tensor_one_of(_call(student, "binary_cross_entropy", probs, target), _bce_references(probs, target),
                         what="binary_cross_entropy with probabilities exactly 0 and 1", rtol=1e-4,
                         hint="clamp the probabilities to [1e-7, 1 - 1e-7] before taking logs")


@st.composite
def _classification_of(draw, dtype, min_value, max_value):
    """(logits of shape (batch, classes), labels of shape (batch,))."""
    batch, classes = draw(integers(1, 8)), draw(integers(2, 7))
    return (draw(float_tensors((batch, classes), dtype=dtype, min_value=min_value, max_value=max_value)),
            draw(int_tensors((batch,), 0, classes - 1)))


@functools.lru_cache(maxsize=None)
def _classification(dtype, min_value=-20.0, max_value=20.0):
    return _classification_of(dtype, min_value, max_value)   # one strategy object per request


@pytest.mark.task(f"{M}.cross_entropy")
@pytest.mark.weight(2)
@given(dtype=dtypes(), data=st.data())
def test_cross_entropy_matches_reference(student, dtype, data):
    logits, labels = data.draw(_classification(dtype))
    expect_tensor(_call(student, "cross_entropy", logits, labels), ref.cross_entropy(logits, labels),
                  what="cross_entropy(logits, labels)", rtol=1e-4, atol=1e-5,
                  hint="the mean over the batch of -log_softmax(logits)[i, labels[i]]")


@pytest.mark.task(f"{M}.cross_entropy")
@pytest.mark.weight(2)
@given(dtype=dtypes(), data=st.data())
def test_cross_entropy_gradient_matches_reference(student, dtype, data):
    logits, labels = data.draw(_classification(dtype))
    _gradient_check(student, "cross_entropy", [logits, labels], (0,), None)


@pytest.mark.task(f"{M}.cross_entropy")
@pytest.mark.weight(2)
def test_cross_entropy_finite_for_large_logits(student):
    logits = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]])
    labels = torch.tensor([2, 1])
    expect_tensor(_call(student, "cross_entropy", logits, labels), ref.cross_entropy(logits, labels),
                  what="cross_entropy for logits up to ±1e4", nonfinite_hint=HINTS["cross_entropy"], rtol=1e-4)
    _gradient_check(student, "cross_entropy", [logits, labels], (0,), None, nonfinite_hint=HINTS["cross_entropy"])
