"""Activations and losses, minitorch style: each activation is a Function with its own
forward and backward (``ctx.save_for_backward``), the losses are composed of them."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function

from tensors import one_hot   # module 1's one_hot, reused


def _stable_sigmoid(a: Tensor) -> Tensor:
    """Forward only (no autograd here): e = exp(-|a|) never overflows."""
    e = torch.exp(-torch.abs(a))
    return torch.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor) -> Tensor:
        out = _stable_sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, d_output: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return d_output * out * (1.0 - out)


class Tanh(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor) -> Tensor:
        e = torch.exp(-2.0 * torch.abs(a))
        t = (1.0 - e) / (1.0 + e)
        out = torch.where(a >= 0, t, -t)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, d_output: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return d_output * (1.0 - out * out)


class ReLU(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return torch.where(a > 0, a, torch.zeros_like(a))

    @staticmethod
    def backward(ctx: Any, d_output: Tensor) -> Tensor:
        (a,) = ctx.saved_tensors
        return d_output * (a > 0).to(d_output.dtype)


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, slope: float) -> Tensor:
        ctx.save_for_backward(a)
        ctx.slope = slope
        return torch.where(a >= 0, a, a * slope)

    @staticmethod
    def backward(ctx: Any, d_output: Tensor):
        (a,) = ctx.saved_tensors
        local = torch.where(a >= 0, torch.ones_like(a), torch.full_like(a, ctx.slope))
        return d_output * local, None


class ELU(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, alpha: float) -> Tensor:
        out = torch.where(a > 0, a, alpha * torch.expm1(torch.clamp(a, max=0.0)))
        ctx.save_for_backward(a, out)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx: Any, d_output: Tensor):
        a, out = ctx.saved_tensors
        # d/da alpha*(e^a - 1) = alpha*e^a = out + alpha
        local = torch.where(a > 0, torch.ones_like(a), out + ctx.alpha)
        return d_output * local, None


def sigmoid(x: Tensor) -> Tensor:
    r"""$f(x) = \frac{1.0}{(1.0 + e^{-x})}$, computed stably."""
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def relu(x: Tensor) -> Tensor:
    """$f(x) = x$ if x is greater than 0, else 0."""
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ELU.apply(x, alpha)


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    r"""$z_i = \frac{e^{x_i}}{\sum_i e^{x_i}}$"""
    e = torch.exp(input - input.max(dim=dim, keepdim=True)[0])
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    r"""$z_i = x_i - \log \sum_i e^{x_i}$ with the LogSumExp trick."""
    m = input.max(dim=dim, keepdim=True)[0]
    return input - (m + torch.log(torch.exp(input - m).sum(dim=dim, keepdim=True)))


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    return ((pred - target) ** 2).sum() / pred.numel()


def binary_cross_entropy(probs: Tensor, target: Tensor) -> Tensor:
    eps = 1e-7
    p = torch.clamp(probs, min=eps, max=1 - eps)
    return (-(target * torch.log(p)) - (1 - target) * torch.log(1 - p)).mean()


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    y = one_hot(labels, logits.shape[1]).to(logits.dtype)
    return -(y * log_softmax(logits, dim=1)).sum(dim=1).mean()
