# expect-lost: activations.softmax
# expect-message: activations.softmax: (that is torch.nn.softmax)
# expect-outcome: activations.softmax: penalty
"""softmax through nn.Softmax, imported from where it is defined under another name."""

import torch
from torch.nn.modules.activation import Softmax as _Softmax


def tanh(x):
    z = torch.exp(-2 * torch.where(x >= 0, x, -x))   # e^(-2|x|) in (0, 1]: never overflows
    t = (1 - z) / (1 + z)                             # tanh(|x|)
    return torch.where(x >= 0, t, -t)


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
    return _Softmax(dim=dim)(x)


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
