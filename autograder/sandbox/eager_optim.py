"""PyTorch's optimizers without the ``torch._dynamo`` import they make on first use.

``torch.optim`` is written to be traceable by ``torch.compile``: ``Optimizer.step`` of
every stock optimizer runs inside a wrapper that imports ``torch._dynamo`` (2.5 s here)
to mark graph breaks, and ``zero_grad``, ``add_param_group`` (so every constructor),
``state_dict`` and ``load_state_dict`` are wrapped by ``torch._disable_dynamo``, which
imports it on the first call. In eager mode, which is all that grading runs, both
wrappers change nothing: a graph break outside tracing is a no-op, and a function with
dynamo "disabled" is the function itself.

:func:`use_eager_optimizers` makes exactly those wrappers skip the import, in the process
that calls it (the grader, and the zygote that forks the students' workers), so that a
run that trains never pays for the compiler it does not use. The arithmetic is PyTorch's
own, untouched: the same ``step`` bodies and functional kernels run. Code that does use
``torch.compile`` still imports ``torch._dynamo`` itself and works.

Defensive by design: it only rewrites wrappers whose shape it recognises (a PyTorch
release that changes them is left as it is, and merely imports ``torch._dynamo`` as
before); it never touches ``sys.modules``.
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["use_eager_optimizers"]

_done = False


def _eager_use_grad(step):
    """``torch.optim.optimizer._use_grad_for_differentiable``'s wrapper minus its graph
    breaks (and so minus its ``import torch._dynamo``): grad mode set from the
    optimizer's ``differentiable`` default for the step, then restored."""
    import torch

    @functools.wraps(step)
    def _use_grad(*args, **kwargs):
        self = args[0]
        prev_grad = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.defaults["differentiable"])
            return step(*args, **kwargs)
        finally:
            torch.set_grad_enabled(prev_grad)

    return _use_grad


def use_eager_optimizers() -> bool:
    """Make the stock optimizers of ``torch.optim`` skip importing ``torch._dynamo``.

    Idempotent; True when the wrappers were recognised and rewritten (or already were).
    Call it before the first optimizer is built (a class's ``step`` is hooked for
    profiling at its first instance; the rewrite goes under that hook either way)."""
    global _done
    if _done:
        return True
    import torch
    import torch.optim
    from torch.optim import optimizer as optimizer_module

    use_grad = getattr(optimizer_module, "_use_grad_for_differentiable", None)
    if use_grad is None:
        return False
    use_grad_code = use_grad(lambda *args, **kwargs: None).__code__
    disable_code = torch._disable_dynamo(lambda: None).__code__

    # The methods wrapped by torch._disable_dynamo: their wrapper looks up the function's
    # ``__dynamo_disable`` attribute and imports torch._dynamo only when it is missing.
    # Setting it to the function itself is what disable() means in eager mode.
    for name, method in vars(torch.optim.Optimizer).items():
        if getattr(method, "__code__", None) is disable_code and hasattr(method, "__wrapped__"):
            inner = method.__wrapped__
            setattr(inner, "__dynamo_disable", inner)

    for cls in _optimizer_classes(torch.optim):
        step = cls.__dict__.get("step")
        hooked = getattr(step, "hooked", False)
        target = step.__wrapped__ if hooked else step       # under the profiling hook, if any
        if getattr(target, "__code__", None) is use_grad_code and hasattr(target, "__wrapped__"):
            eager = _eager_use_grad(target.__wrapped__)
            if hooked:
                cls.step = torch.optim.Optimizer.profile_hook_step(eager)
                cls.step.hooked = True
            else:
                cls.step = eager
    _done = True
    return True


def _optimizer_classes(module) -> list[type]:
    import torch

    return [obj for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer]
