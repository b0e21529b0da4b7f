"""Hidden checks of assignment 4, ``training``: the update rule, one training step, one
epoch and an evaluation pass, compared with the reference run in the grader on twins of
the same models (same weights, same batches, same optimizer).

The models, losses, optimizers and loaders are stock PyTorch objects built in the worker
through the bridge; what a student's code did is observed with stock pieces too:

- gradients left behind and parameters after a step (``student.parameters``);
- whether an update was in place: a view of each parameter (``p.detach()``, the same memory)
  kept in the worker from before the call sees the new values only then;
- whether an evaluation built an autograd graph: a ``torch.autograd.graph.saved_tensors_hooks``
  whose pack hook is a list's ``append`` collects every tensor autograd saves for a backward
  pass, which happens only while a graph is being recorded;
- whether batches were moved to ``device``: the loader holds ``meta`` tensors (shapes only,
  no data) and ``torch.Tensor.to`` is simulated to return real data, so only code that uses
  the moved batches can compute a loss.

``train_epoch`` calls the student's ``train_step``. So that a mistake in ``train_step``
costs points there only, the epoch checks use an optimizer whose learning rate is 0 (the
losses then do not depend on the update), or, where the model must learn, a model that
clears its own gradients at the start of each backward pass (a stock full-backward
pre-hook, ``nn.Module.zero_grad``) with ``zero_grad`` of the model and the optimizer
turned into no-ops: the step then uses this batch's gradient (or the previous one's,
when ``step`` comes before ``backward``) whatever ``train_step`` does with ``zero_grad``;
or, where the epoch loss must come from a model that learns, the student's own ``train_step``
run batch by batch on a twin gives a second expected value.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from solutions import training as ref

from autograder.checks.api import describe_value, expect_close, expect_float, expect_tensor, fail, python_float
from autograder.checks.strategies import dtypes, float_tensors, sampled, shapes
from autograder.sandbox.client import Ref, StudentError

M = "training"
LR_VALUES = (1.0, 0.5, 0.1, 0.01)
ZERO_GRAD_HINT = ("forgot zero_grad? backward() adds into .grad, so call optimizer.zero_grad() "
                  "before loss.backward() in every step")
ORDER_HINT = "the order is: forward, loss, optimizer.zero_grad(), loss.backward(), optimizer.step()"
PER_BATCH_HINT = ("averaged per batch? the batches have different sizes: weight each batch's mean loss "
                  "by its number of samples and divide by the total number of samples")


def _resolve(path: str) -> Any:
    owner, _, name = path.rpartition(".")
    return getattr(importlib.import_module(owner), name)


def _number(value: Any) -> float | None:
    """A float, or a one-element tensor's value (for checks that are not about the type)."""
    if python_float(value) is not None:
        return python_float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type != "meta":
        return float(value.detach().reshape(()))
    return None


def _expect_number(value: Any, *, what: str) -> float:
    number = _number(value)
    if number is None:
        fail(f"{what} should return a Python float, but returned {describe_value(value)}.",
             hint="convert a 0-d tensor with .item()")
    return number


# -- twins: the same model, loss and optimizer in the grader and in the worker ------------
@dataclass(frozen=True)
class Net:
    """A model made of stock layers, with a loss and an optimizer, built identically in the
    grader (``local``) and in the worker (``remote``)."""

    layers: tuple[tuple[str, tuple], ...]
    seed: int
    loss: str = "torch.nn.MSELoss"
    loss_kwargs: dict = field(default_factory=dict)
    optimizer: str = "torch.optim.SGD"
    optimizer_kwargs: dict = field(default_factory=lambda: {"lr": 0.1})
    training: bool = True
    stale: tuple[torch.Tensor, torch.Tensor] | None = None   # a batch whose gradients stay in .grad

    def local(self) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
        modules = [_resolve(path)(*args) for path, args in self.layers]
        model = modules[0] if len(modules) == 1 else nn.Sequential(*modules)
        generator = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.rand(p.shape, generator=generator) * 2 - 1)
        model.train(self.training)
        loss_fn = _resolve(self.loss)(**self.loss_kwargs)
        if self.stale is not None:
            loss_fn(model(self.stale[0]), self.stale[1]).backward()
        return model, loss_fn, _resolve(self.optimizer)(model.parameters(), **self.optimizer_kwargs)

    def remote(self, student) -> tuple[Ref, Ref, Ref]:
        student.module(M)
        state = self.local()[0].state_dict()
        modules = [student.call(path, *args, keep=True) for path, args in self.layers]
        model = modules[0] if len(modules) == 1 else student.call("torch.nn.Sequential", *modules, keep=True)
        model.method("load_state_dict", state)
        model.method("train", self.training)
        loss_fn = student.call(self.loss, keep=True, **self.loss_kwargs)
        if self.stale is not None:
            out = student.call(model, self.stale[0], keep=True)
            student.backward(student.call(loss_fn, out, self.stale[1], keep=True))
        optimizer = student.construct(self.optimizer, model.method("parameters", keep=True), **self.optimizer_kwargs)
        return model, loss_fn, optimizer


def _loaders(student, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[DataLoader, Ref]:
    """A ``DataLoader`` (no shuffling) over ``TensorDataset(x, y)`` here and in the worker."""
    dataset = student.call("torch.utils.data.TensorDataset", x, y, keep=True)
    remote = student.call("torch.utils.data.DataLoader", dataset, batch_size=batch_size, keep=True)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size), remote


def _expect_parameters(student, remote: Ref, local: nn.Module, *, what: str, hint: str | None = None,
                       grads: bool = False, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    got = student.parameters(remote)
    for name, p in local.named_parameters():
        expect_tensor(got[name]["value"], p.detach(), what=f"{what}: parameter {name}", rtol=rtol, atol=atol,
                      hint=hint)
        if grads:
            if p.grad is not None and got[name]["grad"] is None:
                fail(f"{what}: parameter {name} has no gradient (.grad is None); expected the gradient of "
                     "this batch's loss.", hint=hint)
            if p.grad is not None:
                expect_tensor(got[name]["grad"], p.grad, what=f"{what}: the gradient of {name}", rtol=rtol,
                              atol=atol, hint=hint)


def _same_parameters(student, remote: Ref, local: nn.Module, rtol: float = 1e-5, atol: float = 1e-6,
                     grads: bool = False) -> bool:
    def close(a, b):
        return a is None and b is None or a is not None and b is not None and a.shape == b.shape and \
            torch.allclose(a.detach(), b.detach(), rtol=rtol, atol=atol)

    def gone(g):   # zero_grad(set_to_none=False) leaves zeros where the default leaves None
        return None if g is None or not bool(g.detach().any()) else g

    got = student.parameters(remote)
    return all(close(got[n]["value"], p) and (not grads or close(gone(got[n]["grad"]), gone(p.grad)))
               for n, p in local.named_parameters())


def _modes(info: dict, path: str = "model") -> dict[str, bool]:
    """``{submodule path: training flag}`` from ``worker.describe``."""
    out = {path: info.get("training")}
    for name, child in info.get("children", {}).items():
        out.update(_modes(child, f"{path}.{name}"))
    return out


# -- training.sgd_step -------------------------------------------------------------------
def _sgd_reference(values, grads, lr) -> list[torch.Tensor]:
    params = [nn.Parameter(v.clone()) for v in values]
    for p, g in zip(params, grads):
        p.grad = None if g is None else g.clone()
    torch.optim.SGD(params, lr=lr).step()
    return [p.detach() for p in params]


def _remote_parameters(student, values, grads) -> list[Ref]:
    student.module(M)
    refs = []
    for value, grad in zip(values, grads):
        ref_ = student.put(nn.Parameter(value.clone()))
        if grad is not None:
            student.setattr(ref_, "grad", grad)
        refs.append(ref_)
    return refs


def _expect_sgd(got: list, values, grads, lr, what):
    want = _sgd_reference(values, grads, lr)
    wrong_sign = [v + lr * g if g is not None else v for v, g in zip(values, grads)]
    for index, (g, w, before) in enumerate(zip(got, want, values)):
        if torch.allclose(w, before):
            continue
        if isinstance(g, torch.Tensor) and g.shape == w.shape and torch.equal(g.detach(), before):
            fail(f"{what}: parameter {index + 1} was not changed.",
                 hint="update each tensor in place (p -= lr * p.grad, or p.sub_(...)); p = p - lr * p.grad "
                      "only rebinds a local name")
        if isinstance(g, torch.Tensor) and g.shape == w.shape and torch.allclose(g.detach(), wrong_sign[index]):
            fail(f"{what}: parameter {index + 1} moved up the gradient instead of down.",
                 hint="the update is p -= lr * p.grad (a step against the gradient)")
        expect_tensor(g, w, what=f"{what}: parameter {index + 1}", rtol=1e-5, atol=1e-6,
                      hint="p -= lr * p.grad, once per call")


@st.composite
def _parameter_sets(draw):
    dtype = draw(dtypes())
    param_shapes = draw(st.lists(shapes(min_dims=1, max_dims=3, max_side=4), min_size=1, max_size=3))
    values = [draw(float_tensors(s, dtype=dtype, min_value=-5, max_value=5)) for s in param_shapes]
    grads = [draw(float_tensors(s, dtype=dtype, min_value=-5, max_value=5)) for s in param_shapes]
    return values, grads, draw(sampled(tuple(LR_VALUES)))


@pytest.mark.task(f"{M}.sgd_step")
@pytest.mark.weight(2)
@given(case=_parameter_sets())
def test_sgd_step_matches_torch_sgd(student, case):
    values, grads, lr = case
    refs = _remote_parameters(student, values, grads)
    student.call(f"{M}.sgd_step", refs, lr)
    _expect_sgd(student.call("builtins.list", refs), values, grads, lr, "sgd_step(params, lr)")


@pytest.mark.task(f"{M}.sgd_step")
@pytest.mark.public
def test_sgd_step_returns_none(student):
    refs = _remote_parameters(student, [torch.ones(2)], [torch.ones(2)])
    got = student.call(f"{M}.sgd_step", refs, 0.1)
    if got is not None:
        fail(f"sgd_step should return None (it updates the parameters in place), but returned "
             f"{describe_value(got)}.")


@pytest.mark.task(f"{M}.sgd_step")
def test_sgd_step_skips_parameters_without_grad(student):
    values = [torch.tensor([1.0, -2.0]), torch.tensor([[0.5, 3.0]]), torch.tensor([4.0])]
    grads = [torch.tensor([0.5, 1.0]), None, torch.tensor([-2.0])]
    refs = _remote_parameters(student, values, grads)
    student.call(f"{M}.sgd_step", refs, 0.1)
    got = student.call("builtins.list", refs)
    expect_tensor(got[1], values[1], what="sgd_step on a parameter whose grad is None",
                  hint="skip parameters whose .grad is None; leave them unchanged")
    _expect_sgd(got, values, grads, 0.1, "sgd_step with a parameter whose grad is None")


@pytest.mark.task(f"{M}.sgd_step")
def test_sgd_step_accepts_a_generator(student):
    net = Net((("torch.nn.Linear", (3, 2)),), seed=1, stale=(torch.linspace(-1, 1, 12).reshape(4, 3),
                                                              torch.linspace(2, -1, 8).reshape(4, 2)))
    remote, _, _ = net.remote(student)
    student.call(f"{M}.sgd_step", remote.method("parameters", keep=True), 0.5)
    local, _, _ = net.local()
    names = [name for name, _ in local.named_parameters()]
    got = student.parameters(remote)
    _expect_sgd([got[n]["value"] for n in names], [p.detach() for p in local.parameters()],
                [p.grad for p in local.parameters()], 0.5, "sgd_step(model.parameters(), lr)")


@pytest.mark.task(f"{M}.sgd_step")
def test_sgd_step_updates_outside_autograd(student):
    refs = _remote_parameters(student, [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])],
                              [torch.tensor([1.0, -1.0]), torch.tensor([[2.0]])])
    student.call(f"{M}.sgd_step", refs, 0.1)
    listed = student.call("builtins.list", refs, keep=True)
    for index, info in enumerate(student.describe(listed)["items"]):
        if not (info.get("requires_grad") and info.get("is_leaf")) or info.get("grad_fn") is not None:
            fail(f"after sgd_step, parameter {index + 1} is no longer a leaf tensor that requires grad "
                 "(the update was recorded by autograd, or requires_grad was switched off).",
                 hint="do the update inside `with torch.no_grad():`, in place")
    if student.call("torch.is_grad_enabled") is not True:
        fail("after sgd_step, autograd is still switched off for the code that runs next.",
             hint="use `with torch.no_grad():` rather than torch.set_grad_enabled(False)")


@pytest.mark.task(f"{M}.sgd_step")
def test_sgd_step_updates_in_place(student):
    """The update changes each parameter's own memory, as ``torch.optim.SGD`` does: a view of
    the parameter taken before the call (``p.detach()``, the same memory) sees the new values.
    ``p.data = p.data - lr * p.grad`` gives the parameter new memory instead."""
    values = [torch.tensor([1.0, -2.0, 0.5]), torch.tensor([[0.5, 3.0], [-1.0, 2.0]])]
    grads = [torch.tensor([0.5, 1.0, -1.5]), torch.tensor([[1.0, -1.0], [2.0, 0.5]])]
    refs = _remote_parameters(student, values, grads)
    views = [student.call((r, "detach"), keep=True) for r in refs]
    student.call(f"{M}.sgd_step", refs, 0.5)
    _expect_sgd(student.call("builtins.list", refs), values, grads, 0.5, "sgd_step(params, lr)")
    for index, (view, want) in enumerate(zip(views, _sgd_reference(values, grads, 0.5)), start=1):
        seen = student.getattr(view)
        if not (isinstance(seen, torch.Tensor) and seen.shape == want.shape and
                torch.allclose(seen, want, rtol=1e-5, atol=1e-6)):
            fail(f"sgd_step did not update parameter {index} in place: the parameter got new memory holding "
                 "the new values, and its old memory (which the model, the optimizer and any view of the "
                 "parameter still use) kept the old values.",
                 hint="modify the tensor itself: p -= lr * p.grad or p.sub_(lr * p.grad) inside torch.no_grad(); "
                      "p.data = p.data - lr * p.grad replaces its memory instead")


@pytest.mark.task(f"{M}.sgd_step")
def test_sgd_step_leaves_the_gradients_alone(student):
    """``torch.optim.SGD.step()`` reads ``.grad`` and leaves it as it is: the same values, and
    None stays None (clearing the gradients is ``zero_grad``'s job)."""
    values = [torch.tensor([1.0, -2.0, 0.5]), torch.tensor([[0.5, 3.0]]), torch.tensor([4.0])]
    grads = [torch.tensor([0.5, 1.0, -1.5]), None, torch.tensor([-2.0])]
    refs = _remote_parameters(student, values, grads)
    student.call(f"{M}.sgd_step", refs, 0.1)
    hint = ("leave p.grad as it is: torch.optim.SGD.step() does not clear it either; the gradients are "
            "cleared by optimizer.zero_grad() before the next loss.backward()")
    for index, (r, before) in enumerate(zip(refs, grads), start=1):
        after = student.getattr((r, "grad"))
        if before is None:
            if after is not None:
                fail(f"after sgd_step, parameter {index}, whose .grad was None, has a .grad "
                     f"({describe_value(after)}); sgd_step only updates the parameters.",
                     hint="skip parameters whose .grad is None and leave their .grad alone")
            continue
        if after is None:
            fail(f"after sgd_step, the .grad of parameter {index} was set to None; sgd_step only updates the "
                 "parameters.", hint=hint)
        same_shape = isinstance(after, torch.Tensor) and after.shape == before.shape
        if not (same_shape and torch.equal(after.detach(), before)):
            how = "zeroed" if same_shape and not bool(after.detach().any()) else "changed"
            fail(f"after sgd_step, the .grad of parameter {index} was {how}; sgd_step only updates the "
                 "parameters.", hint=hint)


# -- training.train_step -----------------------------------------------------------------
def _local_step(net: Net, batch, order: str) -> nn.Module:
    """The local twin after a step whose operations after the loss come in ``order``
    (z: zero_grad, b: backward, s: step): a student's mistake, to name it."""
    model, loss_fn, optimizer = net.local()
    loss = loss_fn(model(batch[0]), batch[1])
    actions = {"z": optimizer.zero_grad, "b": loss.backward, "s": optimizer.step}
    for op in order:
        actions[op]()
    return model


_NOT_THIS_BATCH = ("the update did not use this batch's gradients (optimizer.step() ran before "
                   "loss.backward(), or not at all)", "call optimizer.step() after loss.backward(): " + ORDER_HINT)
_GONE = ("the gradients were zeroed after optimizer.step(), so when train_step returns .grad no longer holds this "
         "batch's gradient", "zero the gradients once, before loss.backward(), and not after the step: " + ORDER_HINT)
# Orders (z: zero_grad, b: backward, s: step) a student may have written, each with what the
# check sees when it happened; the first that reproduces the student's state is named, so an
# order that two mistakes share gets the words true of both.
MISTAKES = {
    "zbsz": _GONE,
    "bs": ("the gradients of an earlier backward pass were added to this batch's", ZERO_GRAD_HINT),
    "bsz": ("the gradients were zeroed after optimizer.step() instead of before loss.backward(): the step also "
            "used the gradients left by the earlier backward pass, and .grad no longer holds this batch's "
            "gradient", "zero the gradients before loss.backward(), not after optimizer.step(): " + ORDER_HINT),
    "zsb": _NOT_THIS_BATCH,
    "sb": _NOT_THIS_BATCH,
    "szb": _NOT_THIS_BATCH,
}


def _check_step(student, net: Net, batch, what: str) -> None:
    model, loss_fn, optimizer = net.remote(student)
    got = student.call(f"{M}.train_step", model, batch, loss_fn, optimizer)
    local, local_loss, local_opt = net.local()
    want = ref.train_step(local, batch, local_loss, local_opt)
    if not _same_parameters(student, model, local, grads=True):
        for order, (what_happened, hint) in MISTAKES.items():
            candidate = _local_step(net, batch, order)
            if _same_parameters(student, model, candidate, grads=True):
                fail(f"{what}: the parameters or their gradients after train_step are not the expected ones: "
                     f"{what_happened}.",
                     hint=hint)
    _expect_parameters(student, model, local, what=f"{what}: after train_step", grads=True, hint=ORDER_HINT)
    expect_close(_expect_number(got, what="train_step"), want, what=f"{what}: the loss train_step",
                 rtol=1e-5, atol=1e-6, hint="return the loss of the batch computed before the update")


_REGRESSION = (("torch.nn.Linear", (3, 2)),)
_BATCH = (torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-1.0, 1.0, 1.0], [0.0, 2.0, 0.5]]),
          torch.tensor([[1.0, 0.0], [-1.0, 2.0], [0.5, 0.5], [2.0, -1.0]]))
_OTHER_BATCH = (torch.tensor([[1.0, 1.0, -1.0], [-2.0, 0.5, 0.0]]), torch.tensor([[3.0, -2.0], [0.0, 1.0]]))


@pytest.mark.task(f"{M}.train_step")
@pytest.mark.public
def test_train_step_returns_the_loss_as_float(student):
    net = Net(_REGRESSION, seed=2)
    model, loss_fn, optimizer = net.remote(student)
    got = student.call(f"{M}.train_step", model, _BATCH, loss_fn, optimizer)
    local, local_loss, local_opt = net.local()
    want = ref.train_step(local, _BATCH, local_loss, local_opt)
    expect_float(got, what="train_step", hint="return loss.item(), a Python float, not the loss tensor")
    expect_close(got, want, what="train_step", hint="return the loss of the batch computed before the update")


@pytest.mark.task(f"{M}.train_step")
@pytest.mark.weight(2)
def test_train_step_zeroes_gradients(student):
    """Gradients of an earlier backward pass are in .grad when train_step starts."""
    _check_step(student, Net(_REGRESSION, seed=3, stale=_OTHER_BATCH), _BATCH,
                "train_step with gradients left over from an earlier backward pass")


@pytest.mark.task(f"{M}.train_step")
@pytest.mark.weight(2)
def test_train_step_steps_after_backward(student):
    _check_step(student, Net(_REGRESSION, seed=4), _BATCH, "train_step on a fresh model")


@pytest.mark.task(f"{M}.train_step")
@pytest.mark.weight(2)
def test_train_step_loop_matches_reference(student):
    """Several steps with momentum on a small classifier: any accumulation or misordering shows."""
    net = Net((("torch.nn.Linear", (4, 6)), ("torch.nn.Tanh", ()), ("torch.nn.Linear", (6, 3))), seed=5,
              loss="torch.nn.CrossEntropyLoss", optimizer_kwargs={"lr": 0.2, "momentum": 0.9})
    generator = torch.Generator().manual_seed(5)
    batches = [(torch.randn(n, 4, generator=generator), torch.randint(0, 3, (n,), generator=generator))
               for n in (5, 3, 4, 2)]
    model, loss_fn, optimizer = net.remote(student)
    local, local_loss, local_opt = net.local()
    no_zero, _, no_zero_opt = net.local()
    for step, batch in enumerate(batches, start=1):
        got = _expect_number(student.call(f"{M}.train_step", model, batch, loss_fn, optimizer), what="train_step")
        want = ref.train_step(local, batch, local_loss, local_opt)
        loss = local_loss(no_zero(batch[0]), batch[1])
        loss.backward()
        no_zero_opt.step()
        if not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-5):
            fail(f"in a loop of train_step calls, step {step} returned the loss {got:.6g}; expected {want:.6g}.",
                 hint=ORDER_HINT)
    if not _same_parameters(student, model, local, rtol=1e-4, atol=1e-5) and \
            _same_parameters(student, model, no_zero, rtol=1e-4, atol=1e-5):
        fail("in a loop of train_step calls, the gradients accumulated from step to step.", hint=ZERO_GRAD_HINT)
    _expect_parameters(student, model, local, what="after a loop of train_step calls", rtol=1e-4, atol=1e-5,
                       hint=ORDER_HINT)


# -- training.train_epoch ----------------------------------------------------------------
def _train_step_returns_float(student) -> bool:
    """Whether the student's own train_step returns a float (a train_epoch that returns
    what train_step gave it is then graded on the value only: the type is train_step's)."""
    model, loss_fn, optimizer = Net(_REGRESSION, seed=6).remote(student)
    try:
        return type(student.call(f"{M}.train_step", model, _BATCH, loss_fn, optimizer)) is float
    except StudentError:
        return True


def _epoch_value(student, got: Any) -> float:
    if type(got) is not float and _number(got) is not None and not _train_step_returns_float(student):
        return _number(got)
    return expect_float(got, what="train_epoch", hint="return a Python float: accumulate loss values, "
                                                      "not tensors")


def _epoch_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression data whose targets grow along the loader, so batch losses differ a lot."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    noisy = 2 * x.sum(dim=1, keepdim=True) + torch.randn(n, 1, generator=generator)
    return x, noisy * torch.arange(1, n + 1).reshape(n, 1)


_LINE_MODEL = (("torch.nn.Linear", (2, 1)),)


def _epoch_of_five(student, seed: int, lr: float) -> tuple[float, float, DataLoader]:
    """The student's train_epoch and the reference's on a Linear(2, 1) with SGD(lr) and 5
    samples in batches of 2, 2 and 1: (got, want, the grader's loader of those batches)."""
    net = Net(_LINE_MODEL, seed=seed, optimizer_kwargs={"lr": lr})
    x, y = _epoch_data(5, seed=seed)
    local_loader, loader = _loaders(student, x, y, batch_size=2)
    model, loss_fn, optimizer = net.remote(student)
    got = _epoch_value(student, student.call(f"{M}.train_epoch", model, loader, loss_fn, optimizer))
    local, local_loss, local_opt = net.local()
    return got, ref.train_epoch(local, local_loader, local_loss, local_opt), local_loader


@pytest.mark.task(f"{M}.train_epoch")
@pytest.mark.weight(2)
def test_train_epoch_returns_mean_loss_per_sample(student):
    """5 samples in batches of 2, 2 and 1; a learning rate of 0 keeps the batch losses fixed."""
    got, want, local_loader = _epoch_of_five(student, seed=7, lr=0.0)
    local, local_loss, _ = Net(_LINE_MODEL, seed=7, optimizer_kwargs={"lr": 0.0}).local()
    with torch.no_grad():
        per_batch = sum(local_loss(local(bx), by).item() for bx, by in local_loader) / len(local_loader)
    if math.isclose(got, per_batch, rel_tol=1e-5) and not math.isclose(want, per_batch, rel_tol=1e-5):
        fail(f"train_epoch returned {got:.6g}, the mean of the batch losses; expected the mean loss per "
             f"sample, {want:.6g}.", hint=PER_BATCH_HINT)
    expect_close(got, want, what="train_epoch", hint=PER_BATCH_HINT)


@pytest.mark.task(f"{M}.train_epoch")
def test_train_epoch_returns_the_losses_train_step_returned(student):
    """5 samples in batches of 2, 2 and 1 with a learning rate above 0: the model changes
    after every batch, so the epoch loss must be made of the losses ``train_step`` returned
    (each computed before its update). So that a mistake in ``train_step`` costs points there
    only, the student's own ``train_step``, run batch by batch on a twin of the model, gives
    an expected value too; either that or the reference's ``train_epoch`` passes."""
    net = Net(_LINE_MODEL, seed=13, optimizer_kwargs={"lr": 0.05})
    got, want, local_loader = _epoch_of_five(student, seed=13, lr=0.05)
    x = local_loader.dataset.tensors[0]
    local_loss = net.local()[1]
    twin, twin_loss, twin_opt = net.remote(student)
    returned = [_number(student.call(f"{M}.train_step", twin, (bx, by), twin_loss, twin_opt))
                for bx, by in local_loader]
    own = None if None in returned else \
        sum(v * len(bx) for v, (bx, _) in zip(returned, local_loader)) / len(x)
    if math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-5) or \
            own is not None and math.isclose(got, own, rel_tol=1e-4, abs_tol=1e-5):
        return
    after, _, after_opt = net.local()
    total = 0.0
    for bx, by in local_loader:
        ref.train_step(after, (bx, by), local_loss, after_opt)
        with torch.no_grad():
            total += local_loss(after(bx), by).item() * len(bx)
    hint = ("add up the value train_step returns for each batch, weighted by the batch's size; do not "
            "compute the loss again after train_step")
    if math.isclose(got, total / len(x), rel_tol=1e-4, abs_tol=1e-5):
        fail(f"train_epoch returned {got:.6g}, the losses of the batches computed again after each update; "
             f"expected the mean per sample of the losses train_step returned (each computed before its "
             f"update), {want:.6g}.", hint=hint)
    expect_close(got, want, what="train_epoch with a learning rate above 0", rtol=1e-4, atol=1e-5,
                 hint="run train_step once on every batch and return the sum of (the loss train_step returned "
                      "x the batch's size) divided by the number of samples")


@pytest.mark.task(f"{M}.train_epoch")
def test_train_epoch_sets_training_mode(student):
    """The model starts in eval mode; batch norm uses batch statistics only in training mode.
    The batches have equal sizes: this check is not about the mean per sample."""
    net = Net((("torch.nn.Linear", (2, 4)), ("torch.nn.BatchNorm1d", (4,)), ("torch.nn.Linear", (4, 1))),
              seed=8, optimizer_kwargs={"lr": 0.0}, training=False)
    x, y = _epoch_data(9, seed=8)
    local_loader, loader = _loaders(student, x, y, batch_size=3)
    model, loss_fn, optimizer = net.remote(student)
    got = _epoch_value(student, student.call(f"{M}.train_epoch", model, loader, loss_fn, optimizer, device="cpu"))
    hint = "call model.train() at the start of train_epoch"
    modes = _modes(student.describe(model))
    if not all(modes.values()):
        fail("after train_epoch on a model in evaluation mode, the model is not in training mode.", hint=hint)
    local, local_loss, local_opt = net.local()
    want = ref.train_epoch(local, local_loader, local_loss, local_opt, device="cpu")
    expect_close(got, want, what="train_epoch on a model with batch normalization", rtol=1e-4, atol=1e-5,
                 hint=hint + ", before the first batch")


@pytest.mark.task(f"{M}.train_epoch")
def test_train_epoch_moves_batches_to_device(student):
    """The loader yields meta tensors; ``Tensor.to`` is simulated to return real data, so a
    loss can only be computed from the moved batches. The model (tanh) has no parameters,
    so moving the model too changes nothing."""
    student.module(M)
    data = torch.tensor([[0.5], [-1.0], [2.0]])
    meta = torch.empty(6, 1, device="meta")
    dataset = student.call("torch.utils.data.TensorDataset", meta, meta, keep=True)
    loader = student.call("torch.utils.data.DataLoader", dataset, batch_size=3, keep=True)
    model, loss_fn = student.call("torch.nn.Tanh", keep=True), student.call("torch.nn.MSELoss", keep=True)
    optimizer = student.construct("torch.optim.SGD", [nn.Parameter(torch.zeros(1))], lr=0.1)
    hint = "move the inputs and the targets of every batch with .to(device) and use the moved tensors"
    student.patch("torch.Tensor.to", data.clone().requires_grad_(True))
    try:
        result = student.call(f"{M}.train_epoch", model, loader, loss_fn, optimizer, device=torch.device("cpu"),
                              keep=True)
    except StudentError as err:
        fail(f"train_epoch failed on batches that are not on the given device: your code raised {err}",
             hint=hint)
    finally:
        student.unpatch()
    got = _epoch_value(student, student.getattr(result))
    moved = data.clone().requires_grad_(True)
    want = ref.train_epoch(nn.Tanh(), [(moved, moved)] * 2, nn.MSELoss(),
                           torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1))
    expect_close(got, want, what="train_epoch on batches moved to the device", hint=hint)


def _line(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """The lecture's linear regression: y = 3x + 2 + noise."""
    generator = torch.Generator().manual_seed(2024)
    x = torch.rand(n, 1, generator=generator) * 2 - 1
    return x, 3 * x + 2 + 0.1 * torch.randn(n, 1, generator=generator)


@pytest.mark.task(f"{M}.train_epoch")
@pytest.mark.weight(2)
def test_train_epoch_fits_a_line(student):
    """30 epochs of SGD on y = 3x + 2 + noise from w = b = 0: the epoch loss falls and the
    fitted weight and bias land near 3 and 2. The model clears its own gradients at each
    backward pass (see the module docstring), so train_step's handling of zero_grad does
    not matter here."""
    x, y = _line()
    _, loader = _loaders(student, x, y, batch_size=16)
    model, loss_fn, optimizer = Net((("torch.nn.Linear", (1, 1)),), seed=9).remote(student)
    model.method("load_state_dict", {"weight": torch.zeros(1, 1), "bias": torch.zeros(1)})
    model.method("register_full_backward_pre_hook", student.getattr("torch.nn.Module.zero_grad", keep=True))
    no_op = student.call("builtins.getattr", "", "format", keep=True)
    student.setattr(model, "zero_grad", no_op)
    student.setattr(optimizer, "zero_grad", no_op)
    losses = [_epoch_value(student, student.call(f"{M}.train_epoch", model, loader, loss_fn, optimizer))
              for _ in range(30)]
    if not all(math.isfinite(v) for v in losses) or not losses[-1] < 0.05 * losses[0] or \
            any(later > earlier * 1.05 + 1e-3 for earlier, later in zip(losses[5:], losses[6:])):
        fail("over 30 epochs of SGD on points of a noisy line the epoch loss did not fall steadily "
             f"(first epoch {losses[0]:.4g}, last {losses[-1]:.4g}).",
             hint="run train_step on every batch of the loader, and return the epoch's mean loss",
             detail=f"y = 3x + 2 + noise; epoch losses: {[round(v, 5) for v in losses]}")
    params = student.parameters(model)
    weight, bias = params["weight"]["value"].item(), params["bias"]["value"].item()
    if abs(weight - 3) > 0.1 or abs(bias - 2) > 0.1:
        fail("after 30 epochs of SGD on points of a noisy line the model has not learned the line (its weight "
             "or bias is off).", hint="run train_step on every batch of the loader",
             detail=f"y = 3x + 2 + noise; learned weight {weight:.3f} and bias {bias:.3f}, expected near 3 and 2")


# -- training.evaluate -------------------------------------------------------------------
_CLASSIFIER = (("torch.nn.Linear", (4, 8)), ("torch.nn.ReLU", ()), ("torch.nn.Dropout", (0.5,)),
               ("torch.nn.Linear", (8, 3)))


def _classification_data(n: int = 7, seed: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=generator), torch.randint(0, 3, (n,), generator=generator)


def _unpack(got: Any) -> tuple[float, float]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"evaluate should return a tuple (mean loss, accuracy), but returned {describe_value(got)}.")
    return _expect_number(got[0], what="evaluate's loss"), _expect_number(got[1], what="evaluate's accuracy")


def _evaluate(student, training: bool, *, batch_size: int = 3, seed: int = 10,
              loss: str = "torch.nn.CrossEntropyLoss", loss_kwargs: dict | None = None):
    """Run the student's evaluate on the dropout classifier; return (got, want, per-batch
    means, remote model)."""
    student.seed(seed)
    net = Net(_CLASSIFIER, seed=seed, loss=loss, loss_kwargs=dict(loss_kwargs or {}), training=training)
    x, y = _classification_data(seed=seed)
    local_loader, loader = _loaders(student, x, y, batch_size=batch_size)
    model, loss_fn, _ = net.remote(student)
    got = student.call(f"{M}.evaluate", model, loader, loss_fn, device="cpu")
    local, local_loss, _ = net.local()
    want = ref.evaluate(local, local_loader, local_loss)
    local.eval()
    with torch.no_grad():
        batches = [(local_loss(local(bx), by).item(), (local(bx).argmax(1) == by).float().mean().item())
                   for bx, by in local_loader]
    per_batch = tuple(sum(b[i] for b in batches) / len(batches) for i in (0, 1))
    return got, want, per_batch, model


@pytest.mark.task(f"{M}.evaluate")
@pytest.mark.weight(2)
def test_evaluate_matches_reference(student):
    """7 samples in batches of 3, 3 and 1, a classifier with dropout, starting in training mode."""
    got, want, per_batch, _ = _evaluate(student, training=True)
    loss, accuracy = _unpack(got)
    for index, (value, name) in enumerate(((loss, "mean loss"), (accuracy, "accuracy"))):
        if math.isclose(value, per_batch[index], rel_tol=1e-5) and \
                not math.isclose(want[index], per_batch[index], rel_tol=1e-5):
            fail(f"evaluate returned the {name} {value:.6g}, the mean over batches; expected the {name} over "
                 f"samples, {want[index]:.6g}.", hint=PER_BATCH_HINT)
    hint = "switch to model.eval() (dropout off) and weight each batch by its number of samples"
    expect_close(loss, want[0], what="evaluate (the mean loss)", rtol=1e-5, atol=1e-6, hint=hint)
    expect_close(accuracy, want[1], what="evaluate (the accuracy)", rtol=1e-6, atol=1e-9,
                 hint="the fraction of samples whose arg-max logit equals the target, over the whole loader")


@pytest.mark.task(f"{M}.evaluate")
@pytest.mark.public
def test_evaluate_returns_two_floats_with_accuracy_a_fraction(student):
    """A classifier whose predictions are known: 3 of 4 samples right, in batches of 3 and 1."""
    student.module(M)
    model = student.call("torch.nn.Linear", 2, 2, keep=True)
    model.method("load_state_dict", {"weight": torch.eye(2), "bias": torch.zeros(2)})
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    y = torch.tensor([0, 1, 1, 1])
    local_loader, loader = _loaders(student, x, y, batch_size=3)
    loss_fn = student.call("torch.nn.CrossEntropyLoss", keep=True)
    got = student.call(f"{M}.evaluate", model, loader, loss_fn)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"evaluate should return a tuple (mean loss, accuracy), but returned {describe_value(got)}.")
    loss = expect_float(got[0], what="evaluate's mean loss", hint="convert with .item()")
    accuracy = expect_float(got[1], what="evaluate's accuracy", hint="divide the number of correct samples by "
                                                                     "the number of samples, as Python numbers")
    if not 0.0 <= accuracy <= 1.0:
        fail(f"evaluate's accuracy should be a fraction in [0, 1], but is {accuracy:.6g}.",
             hint="a fraction, not a percentage")
    linear = nn.Linear(2, 2)
    linear.load_state_dict({"weight": torch.eye(2), "bias": torch.zeros(2)})
    want = ref.evaluate(linear, local_loader, nn.CrossEntropyLoss())
    expect_close(accuracy, want[1], what="evaluate (the accuracy, with 3 of 4 samples right)", atol=1e-9,
                 hint="count the samples whose arg-max logit equals the target, over all batches")
    expect_close(loss, want[0], what="evaluate (the mean loss)", hint=PER_BATCH_HINT)


@pytest.mark.task(f"{M}.evaluate")
@pytest.mark.parametrize("training", [True, False], ids=["from_training_mode", "from_eval_mode"])
def test_evaluate_restores_the_models_mode(student, training):
    _, _, _, model = _evaluate(student, training=training, batch_size=4, seed=11)
    modes = _modes(student.describe(model))
    changed = sorted(name for name, mode in modes.items() if mode is not training)
    if changed:
        start = "training" if training else "evaluation"
        fail(f"evaluate left a model that was in {start} mode in another mode ({', '.join(changed)}).",
             hint="remember was_training = model.training before model.eval(), and call "
                  "model.train(was_training) before returning")


@pytest.mark.task(f"{M}.evaluate")
def test_evaluate_builds_no_autograd_graph(student):
    """Autograd saves tensors for a backward pass only while it records a graph; a
    saved-tensors pack hook (a list's append) collects them during the call."""
    student.module(M)
    saved = student.put([])
    append = saved.attr("append", keep=True)
    hooks = student.call("torch.autograd.graph.saved_tensors_hooks", append, append, keep=True)
    net = Net(_CLASSIFIER, seed=12, loss="torch.nn.CrossEntropyLoss", training=False)
    x, y = _classification_data(seed=12)
    _, loader = _loaders(student, x, y, batch_size=3)
    model, loss_fn, _ = net.remote(student)
    hooks.method("__enter__")
    try:
        student.call(f"{M}.evaluate", model, loader, loss_fn, device=torch.device("cpu"))
    finally:
        hooks.method("__exit__", None, None, None)
    hint = "run the whole evaluation inside `with torch.no_grad():`"
    if student.call("builtins.len", saved):
        fail("evaluate built an autograd graph (the forward pass recorded tensors for a backward pass).",
             hint=hint)
    if student.call("torch.is_grad_enabled") is not True:
        fail("after evaluate, autograd is still switched off for the code that runs next.",
             hint=hint + " rather than torch.set_grad_enabled(False)")
    grads = [name for name, p in student.parameters(model).items() if p["grad"] is not None]
    if grads:
        fail(f"evaluate computed gradients of the model's parameters ({', '.join(grads)}).", hint=hint)


# Losses other than the plain CrossEntropyLoss the other checks pass: (path, kwargs, as written).
_OTHER_LOSSES = {
    "label_smoothing": ("torch.nn.CrossEntropyLoss", {"label_smoothing": 0.2},
                        "nn.CrossEntropyLoss(label_smoothing=0.2)"),
    "multi_margin": ("torch.nn.MultiMarginLoss", {}, "nn.MultiMarginLoss()"),
}


@pytest.mark.task(f"{M}.evaluate")
@pytest.mark.parametrize("loss", sorted(_OTHER_LOSSES))
def test_evaluate_uses_the_given_loss_fn(student, loss):
    """7 samples in batches of 3, 3 and 1, and a loss other than the plain cross-entropy: the
    mean loss is the given ``loss_fn``'s. The model starts in eval mode (this check is not
    about the mode)."""
    path, kwargs, written = _OTHER_LOSSES[loss]
    got, want, _, _ = _evaluate(student, training=False, seed=13, loss=path, loss_kwargs=kwargs)
    value, _ = _unpack(got)
    hint = ("compute each batch's loss with the loss_fn argument, loss_fn(outputs, targets), not with a loss "
            "of your own")
    plain, _, _ = Net(_CLASSIFIER, seed=13, training=False).local()
    x, y = _classification_data(seed=13)
    cross_entropy = ref.evaluate(plain, DataLoader(TensorDataset(x, y), batch_size=3), nn.CrossEntropyLoss())[0]
    if math.isclose(value, cross_entropy, rel_tol=1e-5) and not math.isclose(want[0], cross_entropy, rel_tol=1e-5):
        fail(f"evaluate with loss_fn = {written} returned the mean loss {value:.6g}, the plain cross-entropy; "
             f"expected the mean of the given loss_fn, {want[0]:.6g}.", hint=hint)
    expect_close(value, want[0], what=f"evaluate with loss_fn = {written} (the mean loss)", rtol=1e-5, atol=1e-6,
                 hint=hint)


@pytest.mark.task(f"{M}.evaluate")
def test_evaluate_leaves_requires_grad_as_it_found_it(student):
    """``torch.no_grad()`` switches autograd off without touching the parameters: afterwards
    each parameter's ``requires_grad`` is what it was before. One parameter is frozen
    beforehand (``requires_grad=False``, as in fine-tuning) and stays frozen."""
    student.module(M)
    net = Net(_CLASSIFIER, seed=14, loss="torch.nn.CrossEntropyLoss", training=False)
    x, y = _classification_data(seed=14)
    _, loader = _loaders(student, x, y, batch_size=3)
    model, loss_fn, _ = net.remote(student)
    model.attr("0", keep=True).attr("bias", keep=True).method("requires_grad_", False)
    before = {name: bool(p["value"].requires_grad) for name, p in student.parameters(model).items()}
    student.call(f"{M}.evaluate", model, loader, loss_fn)
    after = {name: bool(p["value"].requires_grad) for name, p in student.parameters(model).items()}
    hint = ("run the evaluation inside `with torch.no_grad():`, which builds no graph without changing the "
            "parameters, rather than switching requires_grad off with model.requires_grad_(False)")
    off = [name for name in before if before[name] and not after.get(name)]
    if off:
        which = f"the parameters {', '.join(off)} no longer require" if len(off) > 1 else \
            f"the parameter {off[0]} no longer requires"
        fail(f"after evaluate, {which} grad (requires_grad was switched off and not back on): the model can no "
             "longer be trained.", hint=hint)
    on = [name for name in before if not before[name] and after.get(name)]
    if on:
        fail(f"after evaluate, the frozen parameter {', '.join(on)} (requires_grad=False) requires grad again: "
             "evaluate must leave each parameter's requires_grad as it found it.", hint=hint)
