"""Hidden checks of assignment 2, ``linear``: values and gradients of ``linear_forward``
and of the student's ``Linear`` against the reference, the parameters' registration,
shapes and initialisation, and the structure of ``make_mlp``."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from solutions import linear as ref

from autograder.checks.api import describe_value, expect_tensor, fail
from autograder.checks.remote import call_unmutated, forward_backward, reference_gradients
from autograder.checks.strategies import FLOAT_DTYPES, booleans, integers, sampled, seeded_tensor, shapes
from autograder.sandbox.client import StudentError

M = "linear"
TORCH_LINEAR = "torch.nn.modules.linear.Linear"
RELU = "torch.nn.modules.activation.ReLU"
SEQUENTIAL = "torch.nn.modules.container.Sequential"
TOLERANCES = {torch.float32: {"rtol": 1e-4, "atol": 1e-5}, torch.float64: {"rtol": 1e-7, "atol": 1e-9}}
FORWARD_HINT = ("weight has shape [out, in]: compute x @ weight.T, which works for any leading axes of x, and add "
                "bias only when it is not None")
SHAPE_HINT = ("store weight as [out_features, in_features] (as nn.Linear does) and compute x @ weight.T in forward; "
              "a weight stored as [in, out] is wrong even if forward transposes it")


def _seeded(shape, dtype, seed, low=-3.0, high=3.0):
    return seeded_tensor(shape, dtype, seed, low, high)


@st.composite
def affine_cases(draw, dtypes=FLOAT_DTYPES):
    """(x, weight, bias or None, upstream) with x of shape [..., in], leading axes of size 0 and 1 included."""
    lead = draw(shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    n_in, n_out = draw(integers(1, 6)), draw(integers(1, 6))
    dtype = draw(sampled(tuple(dtypes)))
    seed = draw(integers(0, 2**31 - 4))
    x = _seeded((*lead, n_in), dtype, seed)
    weight = _seeded((n_out, n_in), dtype, seed + 1)
    bias = _seeded((n_out,), dtype, seed + 2) if draw(booleans()) else None
    upstream = _seeded((*lead, n_out), dtype, seed + 3, -2.0, 2.0)
    return x, weight, bias, upstream


def _detail(x, weight, bias):
    return (f"x: shape {list(x.shape)}, weight: shape {list(weight.shape)}, "
            f"bias: {'None' if bias is None else f'shape {list(bias.shape)}'}, dtype {x.dtype}")


# -- linear_forward ---------------------------------------------------------------
@pytest.mark.task(f"{M}.linear_forward")
@pytest.mark.public
def test_linear_forward_known_values(student):
    x = torch.tensor([[1.0, 2.0]])
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    bias = torch.tensor([0.0, 0.0, 1.0])
    got = call_unmutated(student, f"{M}.linear_forward", x, weight, bias, what="linear_forward")
    expect_tensor(got, torch.tensor([[1.0, 2.0, 4.0]]), what="linear_forward(x, weight, bias) for x [1, 2], "
                  "weight [3, 2], bias [3]", hint=FORWARD_HINT)
    got = call_unmutated(student, f"{M}.linear_forward", x, weight, what="linear_forward")
    expect_tensor(got, torch.tensor([[1.0, 2.0, 3.0]]), what="linear_forward(x, weight) without a bias",
                  hint="bias defaults to None: add it only when it is given")


@pytest.mark.task(f"{M}.linear_forward")
@pytest.mark.weight(2)
def test_linear_forward_square_weight_is_transposed(student):
    """in == out, with a weight that is not symmetric: ``x @ weight`` runs (no shape
    error) but is wrong, so only the value shows whether weight was transposed."""
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    weight = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0], [3.0, 0.0, 1.0]])
    bias = torch.tensor([0.5, -0.5, 0.0])
    got = call_unmutated(student, f"{M}.linear_forward", x, weight, bias, what="linear_forward")
    expect_tensor(got, ref.linear_forward(x, weight, bias),
                  what="linear_forward(x, weight, bias) for a square weight (in_features == out_features) that is "
                  "not symmetric", hint=FORWARD_HINT, detail=_detail(x, weight, bias))


@pytest.mark.task(f"{M}.linear_forward")
@pytest.mark.weight(4)
@given(case=affine_cases(), omit_bias=booleans())
def test_linear_forward_matches_reference(student, case, omit_bias):
    x, weight, bias, _ = case
    args = (x, weight) if bias is None and omit_bias else (x, weight, bias)
    got = call_unmutated(student, f"{M}.linear_forward", *args, what="linear_forward")
    expect_tensor(got, ref.linear_forward(x, weight, bias), what="linear_forward(x, weight, bias)", hint=FORWARD_HINT,
                  detail=_detail(x, weight, bias), **TOLERANCES[x.dtype])


@pytest.mark.task(f"{M}.linear_forward")
@pytest.mark.weight(4)
@given(case=affine_cases())
def test_linear_forward_gradients_match_reference(student, case):
    x, weight, bias, upstream = case
    args, wrt = ([x, weight], (0, 1)) if bias is None else ([x, weight, bias], (0, 1, 2))
    got = forward_backward(student, f"{M}.linear_forward", args, wrt, upstream, what="linear_forward")
    want = reference_gradients(ref.linear_forward, args, wrt, upstream)
    detail = _detail(x, weight, bias)
    expect_tensor(got.output, want.output, what="linear_forward(x, weight, bias)", hint=FORWARD_HINT, detail=detail,
                  **TOLERANCES[x.dtype])
    for name, g, w in zip(("x", "weight", "bias"), got.grads, want.grads):
        if g is None:
            fail(f"the gradient of linear_forward with respect to {name} is None: the output is not connected "
                 f"to {name}.", hint="compute the output from x, weight and bias with tensor operations; do not "
                                    "detach or rebuild tensors", detail=detail)
        expect_tensor(g, w, what=f"the gradient of linear_forward with respect to {name}", detail=detail,
                      **TOLERANCES[x.dtype])


# -- Linear -----------------------------------------------------------------------
def _expect_parameters(params, n_in, n_out, bias, what):
    """The registered parameters of a student's Linear(n_in, n_out, bias): names, kind, shape, dtype."""
    expected = {"weight": [n_out, n_in], **({"bias": [n_out]} if bias else {})}
    detail = f"Linear({n_in}, {n_out}, bias={bias}); registered: {sorted(params)}"
    for name, shape in expected.items():
        if name not in params:
            fail(f"{what} has no registered parameter named {name!r}: named_parameters() does not list it.",
                 hint=f"assign an nn.Parameter to self.{name} in __init__ (after super().__init__()); a plain "
                      "tensor attribute is not a parameter", detail=detail)
        info = params[name]
        if not info["is_parameter"]:
            fail(f"{what}.{name} is not an nn.Parameter.", hint=f"self.{name} = nn.Parameter(...)", detail=detail)
        value = info["value"]
        if list(value.shape) != shape:
            # In the spec's terms: the sizes are the check's (hidden) inputs; they go to detail.
            symbols = {n_in: "in_features", n_out: "out_features"} if n_in != n_out else {}
            received = [symbols.get(int(d)) for d in value.shape]
            said = f"[{', '.join(received)}]" if all(received) else "another shape"   # type: ignore[arg-type]
            fail(f"{what}.{name} has shape {said}; expected "
                 f"{'[out_features, in_features]' if name == 'weight' else '[out_features]'}.",
                 hint=SHAPE_HINT if name == "weight" else None,
                 detail=f"{detail}; {name} has shape {list(value.shape)}, expected {shape}")
        if value.dtype != torch.float32:
            fail(f"{what}.{name} has dtype {value.dtype}; expected torch.float32 (PyTorch's default).", detail=detail)
        if not value.requires_grad:
            fail(f"{what}.{name} does not require grad, so it would never be trained.",
                 hint="nn.Parameter(tensor) requires grad by default; do not pass requires_grad=False", detail=detail)
    extra = sorted(set(params) - set(expected))
    if extra:
        fail(f"{what} registers unexpected parameters {extra}; expected only {sorted(expected)}.",
             hint="with bias=False there is no bias parameter: self.register_parameter('bias', None)"
             if not bias and "bias" in extra else None, detail=detail)


@pytest.mark.task(f"{M}.Linear")
@pytest.mark.public
def test_Linear_parameter_shapes(student):
    layer = student.construct(f"{M}.Linear", 3, 2)
    _expect_parameters(student.parameters(layer), 3, 2, True, "Linear(3, 2)")


@pytest.mark.task(f"{M}.Linear")
@pytest.mark.weight(3)
@pytest.mark.parametrize("n_in,n_out", [(5, 3), (1, 4), (7, 1), (2, 6)])
def test_Linear_registers_parameters(student, n_in, n_out):
    layer = student.construct(f"{M}.Linear", n_in, n_out)
    _expect_parameters(student.parameters(layer), n_in, n_out, True, "Linear(in_features, out_features)")


@pytest.mark.task(f"{M}.Linear")
@pytest.mark.weight(3)
def test_Linear_without_bias(student):
    layer = student.construct(f"{M}.Linear", 5, 3, bias=False)
    what = "Linear(in_features, out_features, bias=False)"
    params = student.parameters(layer)
    _expect_parameters(params, 5, 3, False, what)
    bias = layer.attr("bias")
    if bias is not None:
        fail(f"{what}.bias should be None, but is {describe_value(bias)}.",
             hint="self.register_parameter('bias', None) when bias is False")
    x = _seeded((4, 5), torch.float32, 11)
    got, (x_after,), _ = student.call_returning_args(layer, x)
    if not torch.equal(x_after, x):
        fail(f"the forward pass of {what} changed its input in place; it must leave x unchanged.",
             hint="avoid in-place operations such as x -= ..., x.t_() or x[...] = ... on the input")
    expect_tensor(got, ref.linear_forward(x, params["weight"]["value"].detach()),
                  what=f"the forward pass of {what}", **TOLERANCES[torch.float32],
                  hint="forward must return its result" if got is None else "without a bias, forward is x @ weight.T")


@pytest.mark.task(f"{M}.Linear")
@pytest.mark.weight(2)
@pytest.mark.parametrize("seed,n_in,n_out", [(0, 400, 60), (1, 9, 200), (2, 64, 257)])
def test_Linear_init_is_uniform_within_bounds(student, seed, n_in, n_out):
    student.seed(seed)
    layer = student.construct(f"{M}.Linear", n_in, n_out)
    params = student.parameters(layer)
    _expect_parameters(params, n_in, n_out, True, "Linear(in_features, out_features)")
    bound = 1.0 / math.sqrt(n_in)
    detail = f"Linear({n_in}, {n_out}), seed {seed}, bound {bound:.6g}"
    hint = ("initialise both weight and bias uniformly in [-k, k] with k = 1 / sqrt(in_features), e.g. "
            "torch.empty(...).uniform_(-k, k) (as nn.Linear does)")
    for name in ("weight", "bias"):
        p = params[name]["value"].detach().to(torch.float64)
        what = f"Linear(in_features, out_features).{name} at initialisation"
        info = f"{detail}\n{name}: min {p.min().item():.6g}, max {p.max().item():.6g}, " \
               f"mean {p.mean().item():.6g}, std {p.std().item():.6g}"
        if not bool(torch.isfinite(p).all()):
            fail(f"{what} holds nan or inf values.", hint=hint, detail=info)
        if p.abs().max().item() > bound * (1 + 1e-6):
            fail(f"{what} has values outside [-1/sqrt(in_features), 1/sqrt(in_features)].", hint=hint, detail=info)
        if p.min().item() == p.max().item():
            fail(f"{what} is constant (e.g. all zeros); it should be random, uniform in "
                 "[-1/sqrt(in_features), 1/sqrt(in_features)].", hint=hint, detail=info)
        spread = 0.8 if name == "weight" else 0.6    # a bias has fewer entries
        if p.max().item() < spread * bound or p.min().item() > -spread * bound:
            fail(f"{what} does not spread over [-1/sqrt(in_features), 1/sqrt(in_features)]: its values "
                 "stay well inside the bounds or on one side of 0.", hint=hint, detail=info)
        if name == "weight" and (abs(p.mean().item()) > 0.1 * bound or
                                 abs(p.std().item() / (bound / math.sqrt(3)) - 1) > 0.1):
            fail(f"{what} does not look uniformly distributed in [-1/sqrt(in_features), 1/sqrt(in_features)] "
                 "(its mean or standard deviation is off).", hint=hint, detail=info)


@st.composite
def layer_cases(draw):
    lead = draw(shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    n_in, n_out = draw(integers(1, 6)), draw(integers(1, 6))
    seed = draw(integers(0, 2**31 - 2))
    return n_in, n_out, draw(booleans()), _seeded((*lead, n_in), torch.float32, seed), \
        _seeded((*lead, n_out), torch.float32, seed + 1, -2.0, 2.0)


@pytest.mark.task(f"{M}.Linear")
@pytest.mark.weight(4)
@given(case=layer_cases())
def test_Linear_forward_and_gradients_match_reference(student, case):
    _expect_layer(student, *case)


@pytest.mark.task(f"{M}.Linear")
@pytest.mark.parametrize("n_in,n_out,bias", [(3, 2, True), (4, 1, False)], ids=["with_bias", "without_bias"])
def test_Linear_forward_of_one_vector(student, n_in, n_out, bias):
    # x of shape [in] (no batch axis) gives [out], as nn.Linear does: a bias broadcast as a
    # row ([1, out]) would make it [1, out].
    _expect_layer(student, n_in, n_out, bias, _seeded((n_in,), torch.float32, 11 + n_in),
                  _seeded((n_out,), torch.float32, 12 + n_out, -2.0, 2.0))


def _expect_layer(student, n_in, n_out, bias, x, upstream):
    """The student's Linear(n_in, n_out, bias) on ``x``: its output and the gradients of
    ``upstream`` back-propagated through it, against the reference forward pass with the
    student's own parameters."""
    what = "Linear(in_features, out_features)" if bias else "Linear(in_features, out_features, bias=False)"
    layer = student.construct(f"{M}.Linear", n_in, n_out, **({} if bias else {"bias": False}))
    result = student.grad(layer, [x], [0], upstream)       # forward and backward in one round trip
    params = student.parameters(layer)
    _expect_parameters(params, n_in, n_out, bias, what)
    detail = f"Linear({n_in}, {n_out}, bias={bias}), x: shape {list(x.shape)}"
    output, info = result["output"], result["info"]
    if not isinstance(output, torch.Tensor):
        fail(f"the forward pass of {what} should return a tensor, but returned {describe_value(output)}.",
             hint="forward must return the result", detail=detail)
    leaves = [params["weight"]["value"].detach().requires_grad_(True)]
    if bias:
        leaves.append(params["bias"]["value"].detach().requires_grad_(True))
    x_leaf = x.clone().requires_grad_(True)
    want = ref.linear_forward(x_leaf, *leaves)
    expect_tensor(output, want.detach(), what=f"the forward pass of {what}", hint=FORWARD_HINT, detail=detail,
                  **TOLERANCES[torch.float32])
    if not info.get("requires_grad"):
        fail(f"the output of {what} is not connected to the autograd graph (no gradient can flow back).",
             hint="compute it from x and the parameters with tensor operations; do not detach", detail=detail)
    grads = torch.autograd.grad(want, [x_leaf, *leaves], upstream)
    got = [result["grads"][0], params["weight"]["grad"], *([params["bias"]["grad"]] if bias else [])]
    for name, g, w in zip(("the input", "weight", "bias"), got, grads):
        if g is None:
            fail(f"after backward through {what}, the gradient of {name} is None: the output is not connected "
                 "to it.", hint="use self.weight and self.bias themselves in forward (not copies or .data)",
                 detail=detail)
        expect_tensor(g, w, what=f"the gradient of {name} of {what}", detail=detail, **TOLERANCES[torch.float32])


# -- make_mlp ---------------------------------------------------------------------
# make_mlp is graded on its own: its layers must be the student's Linear with the
# parameter shapes that the student's own Linear(in, out) has (a Linear that is itself
# wrong loses points in linear.Linear only), ReLUs in between and nothing after the last.
# The forward pass of an nn.Sequential is PyTorch's, so it is right when the layers are.
def _linear_layout(student):
    """(the type name of the student's Linear instances, parameter name -> shape of the
    student's Linear(in, out) as a function of (in, out)). The type name is what an instance
    reports, so a class defined under another name and bound to ``Linear`` (``Linear =
    Dense``) is the student's Linear."""
    probe = student.construct(f"{M}.Linear", 2, 3)
    kind = student.describe(probe)["type"]
    layout = {name: list(p["value"].shape) for name, p in student.parameters(probe).items()}
    return kind, lambda n_in, n_out: {name: [n_in if d == 2 else n_out if d == 3 else d for d in shape]
                                      for name, shape in layout.items()}


def _expect_mlp(student, sizes, what, detail=""):
    """Structure and layer shapes of the student's make_mlp(sizes)."""
    model = student.call(f"{M}.make_mlp", sizes, keep=True)
    info = student.describe(model)
    subclass = info["type"] != SEQUENTIAL and SEQUENTIAL in info.get("bases", ())
    if info["type"] != SEQUENTIAL and not subclass:
        fail(f"{what} should return an nn.Sequential, but returned an object of type {info['type']}.",
             hint="return nn.Sequential(*layers)", detail=detail)
    children = list(info["children"].items())
    kinds = [c["type"] for _, c in children]
    student_linear, layout = _linear_layout(student)
    expected = [student_linear if i % 2 == 0 else RELU for i in range(2 * len(sizes) - 3)]
    detail = f"{detail}\nlayers: {kinds}".strip()
    if TORCH_LINEAR in kinds:
        fail(f"{what} uses torch.nn.Linear; it must build its layers from your own Linear class.",
             hint="call Linear(in, out) of this module, not nn.Linear", detail=detail)
    if len(kinds) == len(expected) + 1 and kinds[:-1] == expected and kinds[-1] != student_linear:
        fail(f"{what} puts a {kinds[-1].rsplit('.', 1)[-1]} after the last layer; the last Linear's outputs are "
             "the logits, with no activation after them.", hint="add a ReLU only between two Linear layers",
             detail=detail)
    if kinds != expected:
        fail(f"{what} has the wrong layers: expected a Linear for each pair of consecutive sizes, with a ReLU "
             "(nn.ReLU) between two Linears and nothing after the last one.", detail=detail)
    if subclass:
        # A subclass of nn.Sequential is one (torchvision.ops.MLP, minitorch's Network), unless
        # its forward is not the layers in order: run both and compare.
        x = torch.linspace(-1, 1, 2 * sizes[0]).reshape(2, sizes[0])
        got = model(x)
        h = x
        for name, _ in children:
            h = student.getattr((model, name), keep=True)(h)
        expect_tensor(got, h, what=f"the forward pass of {what} (a subclass of nn.Sequential)",
                      hint="a subclass of nn.Sequential must keep its forward: the layers in order", detail=detail)
    params = student.parameters(model)
    for index, (child, _) in enumerate(children[::2]):
        want = layout(sizes[index], sizes[index + 1])
        got = {name.split(".", 1)[1]: list(p["value"].shape) for name, p in params.items()
               if name.split(".", 1)[0] == child}
        if got != want:
            fail(f"a Linear layer of {what} does not have the parameters of Linear(sizes[i], sizes[i + 1]).",
                 hint="consecutive sizes give the layers: Linear(sizes[i], sizes[i + 1]) for each i, with a bias",
                 detail=f"{detail}\nlayer {index}: parameters {got}, expected {want}")


@pytest.mark.task(f"{M}.make_mlp")
@pytest.mark.public
def test_make_mlp_784_128_10(student):
    _expect_mlp(student, [784, 128, 10], "make_mlp([784, 128, 10])")


@pytest.mark.task(f"{M}.make_mlp")
@pytest.mark.public
def test_make_mlp_single_layer(student):
    _expect_mlp(student, [4, 2], "make_mlp([4, 2])")


@pytest.mark.task(f"{M}.make_mlp")
@pytest.mark.weight(4)
@given(sizes=st.lists(integers(1, 12), min_size=2, max_size=5), as_tuple=booleans())
def test_make_mlp_any_depth(student, sizes, as_tuple):
    sizes = tuple(sizes) if as_tuple else sizes
    _expect_mlp(student, sizes, "make_mlp(sizes)", detail=f"sizes={sizes!r}")


@pytest.mark.task(f"{M}.make_mlp")
@pytest.mark.weight(2)
@pytest.mark.parametrize("sizes", [[], [5]], ids=["no-sizes", "one-size"])
def test_make_mlp_rejects_fewer_than_two_sizes(student, sizes):
    what = "make_mlp(sizes) with fewer than two sizes"
    hint = "check len(sizes) < 2 first and raise ValueError"
    try:
        got = student.call(f"{M}.make_mlp", sizes)
    except StudentError as err:
        if err.is_a("ValueError"):
            return
        fail(f"{what} raised {err.type_name} instead of ValueError.", hint=hint, detail=f"sizes={sizes}\n{err}")
    fail(f"{what} should raise ValueError, but returned {describe_value(got)}.", hint=hint, detail=f"sizes={sizes}")
