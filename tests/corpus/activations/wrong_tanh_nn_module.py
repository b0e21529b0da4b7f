# expect-lost: activations.tanh, activations.sigmoid
# expect-message: activations.tanh: torch.nn.Tanh
# expect-message: activations.sigmoid: torch.nn.Tanh
# expect-outcome: activations.tanh: penalty
# expect-outcome: activations.sigmoid: penalty
"""tanh through the module nn.Tanh(), forbidden in this module since 2026-12-01 (sigmoid
calls this tanh, so it uses nn.Tanh too)."""

import torch
from torch import nn


def tanh(x):
    return nn.Tanh()(x)


def sigmoid(x):
    return 0.5 * (1 + tanh(x / 2))


def relu(x):
    return torch.where(x > 0, x, 0)


def leaky_relu(x, negative_slope=0.01):
    return torch.where(x > 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    negative_part = torch.where(x > 0, torch.zeros_like(x), x)   # <= 0 everywhere
    return torch.where(x > 0, x, alpha * torch.expm1(negative_part))


def _shifted_and_log_sum(x, dim):
    shifted = x - torch.amax(x, dim=dim, keepdim=True).detach()
    return shifted, torch.log(torch.sum(torch.exp(shifted), dim=dim, keepdim=True))


def softmax(x, dim=-1):
    # exp(x - logsumexp(x)), with both terms taken relative to the max
    shifted, log_sum = _shifted_and_log_sum(x, dim)
    return torch.exp(shifted - log_sum)


def log_softmax(x, dim=-1):
    shifted, log_sum = _shifted_and_log_sum(x, dim)
    return shifted - log_sum


def mse_loss(pred, target):
    return torch.mean(torch.square(pred - target))


def binary_cross_entropy(probs, target):
    p = torch.clamp(probs, min=1e-7, max=1 - 1e-7)
    return torch.mean(-(target * torch.log(p) + (1 - target) * torch.log(1 - p)))


def cross_entropy(logits, labels):
    picked = log_softmax(logits, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)
    return -picked.mean()
