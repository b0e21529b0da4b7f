"""Assignment 3, written defensively: every function checks its input, works internally in
a dtype that cannot overflow where that matters (the BCE in float64, cast back), and the
self-test compares each one with torch.nn.functional (only when run as a script)."""

from __future__ import annotations

import torch
from torch import Tensor

_BCE_EPS: float = 1e-7


def _require_float(name: str, x: object) -> Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    return x


def sigmoid(x: Tensor) -> Tensor:
    x = _require_float("x", x)
    negative_part = torch.minimum(x, torch.zeros_like(x))      # min(x, 0) <= 0
    positive_part = torch.maximum(x, torch.zeros_like(x))      # max(x, 0) >= 0
    # sigma(x) = e^{min(x,0)} / (e^{min(x,0)} + e^{-max(x,0)}): both exponents <= 0
    numerator = torch.exp(negative_part)
    return numerator / (numerator + torch.exp(-positive_part))


def tanh(x: Tensor) -> Tensor:
    x = _require_float("x", x)
    # tanh(x) = (e^{x - m} - e^{-x - m}) / (e^{x - m} + e^{-x - m}) with m = max(x, -x) >= 0
    m = torch.maximum(x, -x).detach()
    a, b = torch.exp(x - m), torch.exp(-x - m)
    return (a - b) / (a + b)


def relu(x: Tensor) -> Tensor:
    x = _require_float("x", x)
    return torch.clamp(x, min=0.0)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    x = _require_float("x", x)
    return torch.where(x >= 0, x, x * negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    x = _require_float("x", x)
    safe = torch.clamp(x, max=0.0)          # exp only of non-positive numbers
    return torch.where(x >= 0, x, alpha * torch.expm1(safe))


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    x = _require_float("x", x)
    shifted = x - torch.amax(x, dim=dim, keepdim=True).detach()
    exps = torch.exp(shifted)
    return exps / torch.sum(exps, dim=dim, keepdim=True)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    x = _require_float("x", x)
    shifted = x - torch.amax(x, dim=dim, keepdim=True).detach()
    return shifted - torch.log(torch.sum(torch.exp(shifted), dim=dim, keepdim=True))


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    pred, target = _require_float("pred", pred), _require_float("target", target)
    return torch.mean(torch.square(pred - target))


def binary_cross_entropy(probs: Tensor, target: Tensor) -> Tensor:
    probs, target = _require_float("probs", probs), _require_float("target", target)
    if probs.shape != target.shape:
        raise ValueError(f"probs {tuple(probs.shape)} and target {tuple(target.shape)} differ in shape")
    # float64 inside: 1 - 1e-7 is exact enough there, and the logs cannot lose the clamp
    p = probs.to(torch.float64).clamp(_BCE_EPS, 1.0 - _BCE_EPS)
    t = target.to(torch.float64)
    loss = -(t * torch.log(p) + (1.0 - t) * torch.log1p(-p)).mean()
    return loss.to(probs.dtype)


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    logits = _require_float("logits", logits)
    if logits.dim() != 2:
        raise ValueError(f"logits must be [B, K], got {tuple(logits.shape)}")
    if labels.dtype != torch.int64 or labels.shape != (logits.shape[0],):
        raise ValueError(f"labels must be int64 of shape [{logits.shape[0]}], got {labels.dtype} {tuple(labels.shape)}")
    log_probs = log_softmax(logits, dim=1)
    picked = torch.gather(log_probs, dim=1, index=labels.unsqueeze(1)).squeeze(1)
    return -picked.mean()


if __name__ == "__main__":
    import torch.nn.functional as F

    x = torch.randn(5, 7) * 30
    assert torch.allclose(sigmoid(x), torch.sigmoid(x), atol=1e-6)
    assert torch.allclose(tanh(x), torch.tanh(x), atol=1e-6)
    assert torch.allclose(relu(x), F.relu(x))
    assert torch.allclose(leaky_relu(x, 0.2), F.leaky_relu(x, 0.2))
    assert torch.allclose(elu(x, 0.5), F.elu(x, 0.5), atol=1e-6)
    assert torch.allclose(softmax(x, dim=0), F.softmax(x, dim=0), atol=1e-6)
    assert torch.allclose(log_softmax(x), F.log_softmax(x, dim=-1), atol=1e-5)
    p, t = torch.rand(10), torch.randint(0, 2, (10,)).float()
    assert torch.allclose(binary_cross_entropy(p, t), F.binary_cross_entropy(p, t), atol=1e-5)
    y = torch.randint(0, 7, (5,))
    assert torch.allclose(cross_entropy(x, y), F.cross_entropy(x, y), atol=1e-5)
    assert torch.allclose(mse_loss(x, x * 0.5), F.mse_loss(x, x * 0.5))
    print("activations: all self-tests passed")
