"""Assignment 3: activations and losses.

Students write the non-linearities and losses that every network uses
(sigmoid, tanh, ReLU and its variants, softmax, log-softmax, MSE, binary and
multi-class cross entropy) from elementary tensor operations, and learn to
make them numerically stable: finite values and finite gradients even for
inputs of size 1e4 in float32. Not allowed anywhere in this module:
``torch.sigmoid``, ``torch.tanh``, ``torch.relu``, ``torch.softmax``,
``torch.log_softmax``, ``torch.logsumexp``, anything from
``torch.nn.functional`` or ``torch.special``, the activation and loss modules
of ``torch.nn`` (``nn.Sigmoid``, ``nn.Tanh``, ``nn.ReLU``, ``nn.LeakyReLU``,
``nn.ELU``, ``nn.Softmax``, ``nn.LogSoftmax``, ``nn.MSELoss``, ``nn.BCELoss``,
``nn.CrossEntropyLoss``, ``nn.NLLLoss``), and the tensor methods ``.sigmoid()``,
``.tanh()``, ``.relu()``, ``.softmax()``, ``.log_softmax()``, ``.logsumexp()``.
"""

from __future__ import annotations

import torch

__all__ = [
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softmax",
    "log_softmax",
    "mse_loss",
    "binary_cross_entropy",
    "cross_entropy",
]


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, elementwise.

    ``exp(-x)`` overflows to ``inf`` for ``x = -1e4``.  Only ever take ``exp``
    of a non-positive number: for ``x >= 0`` use ``1 / (1 + exp(-x))``, for
    ``x < 0`` the equal ``exp(x) / (1 + exp(x))``.  ``torch.where`` computes
    (and differentiates) BOTH branches everywhere, so each branch must be
    finite for every input; and avoid ``abs``, whose gradient at 0 is 0.

    Args:
        x: float tensor of any shape (0-d too).

    Returns:
        Same shape and dtype, values in ``[0, 1]``; ``sigmoid(0) = 0.5`` and
        the gradient at 0 is ``0.25``.
    """
    ### BEGIN SOLUTION
    z = torch.where(x >= 0, -x, x)  # z = -|x| <= 0, so exp(z) never overflows
    e = torch.exp(z)
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))
    ### END SOLUTION


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent, ``(e^x - e^-x) / (e^x + e^-x)``, elementwise.

    Equivalently ``2 * sigmoid(2x) - 1``.  The same care as in ``sigmoid``
    applies: exponentiate only non-positive numbers, keep both branches of a
    ``torch.where`` finite, and use the odd symmetry ``tanh(-x) = -tanh(x)``.
    (``torch.expm1(z) = e^z - 1`` keeps small inputs accurate.)

    Args:
        x: float tensor of any shape (0-d too).

    Returns:
        Same shape and dtype, values in ``[-1, 1]``; the gradient at 0 is 1.
    """
    ### BEGIN SOLUTION
    z = torch.where(x >= 0, -2 * x, 2 * x)  # z = -2|x| <= 0
    m = torch.expm1(z)  # e^z - 1, in (-1, 0]
    t = -m / (2 + m)  # tanh(|x|) = (1 - e^z) / (1 + e^z)
    return torch.where(x >= 0, t, -t)
    ### END SOLUTION


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit, ``max(0, x)``, elementwise.

    Args:
        x: float tensor of any shape.

    Returns:
        Same shape and dtype.  The gradient is 1 for ``x > 0`` and 0 for
        ``x < 0`` (at 0 either is accepted).
    """
    ### BEGIN SOLUTION
    return x.clamp(min=0)
    ### END SOLUTION


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """Leaky ReLU: ``x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    Args:
        x: float tensor of any shape.
        negative_slope: the slope for negative inputs.

    Returns:
        Same shape and dtype.
    """
    ### BEGIN SOLUTION
    return torch.where(x >= 0, x, negative_slope * x)
    ### END SOLUTION


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: ``x`` for ``x >= 0``, ``alpha * (e^x - 1)`` otherwise.

    ``e^x`` overflows for ``x = 1e4`` even though that branch is not
    selected, and ``torch.where`` differentiates it anyway (``0 * inf = nan``):
    clamp the exponent's input to ``<= 0`` first.

    Args:
        x: float tensor of any shape.
        alpha: the value the function approaches as ``x -> -inf`` is ``-alpha``.

    Returns:
        Same shape and dtype.
    """
    ### BEGIN SOLUTION
    return torch.where(x >= 0, x, alpha * torch.expm1(x.clamp(max=0)))
    ### END SOLUTION


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax along ``dim``: ``exp(x_i) / sum_j exp(x_j)``.

    Subtract the maximum along ``dim`` first (the max trick): the result is
    unchanged, because the factor ``exp(-max)`` cancels, but no ``exp`` can
    overflow any more.

    Args:
        x: float tensor of any shape, e.g. logits ``[B, K]``.
        dim: the axis to normalise over.

    Returns:
        Same shape and dtype, values in ``[0, 1]`` that sum to 1 along ``dim``.
    """
    ### BEGIN SOLUTION
    shifted = x - x.amax(dim=dim, keepdim=True).detach()  # a constant shift; see docstring
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)
    ### END SOLUTION


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Log of the softmax along ``dim``: ``x_i - log(sum_j exp(x_j))``.

    Do not take ``log(softmax(x))``: a probability that underflows to 0 gives
    ``-inf``.  Use the max trick: with ``m = max_j x_j``,
    ``log(sum_j exp(x_j)) = m + log(sum_j exp(x_j - m))``.

    Args:
        x: float tensor of any shape.
        dim: the axis to normalise over.

    Returns:
        Same shape and dtype, values ``<= 0``; ``exp`` of them sums to 1
        along ``dim``.
    """
    ### BEGIN SOLUTION
    shifted = x - x.amax(dim=dim, keepdim=True).detach()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))
    ### END SOLUTION


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, ``mean((pred - target) ** 2)`` over all elements.

    Args:
        pred: float tensor of any shape.
        target: float tensor of the same shape.

    Returns:
        A 0-d tensor of the inputs' dtype.
    """
    ### BEGIN SOLUTION
    return ((pred - target) ** 2).mean()
    ### END SOLUTION


def binary_cross_entropy(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross entropy of predicted probabilities.

    ``loss = mean(-(t * log(p) + (1 - t) * log(1 - p)))`` where ``p`` is
    ``probs`` clamped to ``[1e-7, 1 - 1e-7]`` BEFORE the logs, so that a
    probability of exactly 0 or 1 gives a finite loss and gradient.

    Args:
        probs: probabilities in ``[0, 1]``, any shape.
        target: targets in ``[0, 1]`` (usually 0 or 1), same shape.

    Returns:
        A 0-d tensor of the inputs' dtype.
    """
    ### BEGIN SOLUTION
    p = probs.clamp(1e-7, 1 - 1e-7)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()
    ### END SOLUTION


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross entropy of class logits against integer labels.

    ``loss = mean_i(-log_softmax(logits)[i, labels[i]])``.  Use your stable
    ``log_softmax`` (not ``log(softmax(...))``), and pick each row's entry by
    indexing, not with a Python loop.

    Args:
        logits: float tensor ``[B, K]`` of unnormalised class scores.
        labels: int64 tensor ``[B]`` with values in ``[0, K)``.

    Returns:
        A 0-d tensor of the logits' dtype.

    Example:
        >>> cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3]))  # log(4)
        tensor(1.3863)
    """
    ### BEGIN SOLUTION
    log_probs = log_softmax(logits, dim=1)
    rows = torch.arange(logits.shape[0], device=logits.device)
    return -log_probs[rows, labels].mean()
    ### END SOLUTION
