# expect-lost: none
"""Correct: softmax as exp(x - logsumexp(x)) and log_softmax as x - logsumexp(x), with the
usual hand-written logsumexp (max trick). Everything else is the reference."""

import torch


def sigmoid(x):
    z = torch.where(x >= 0, -x, x)
    e = torch.exp(z)
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    z = torch.where(x >= 0, -2 * x, 2 * x)
    m = torch.expm1(z)
    t = -m / (2 + m)
    return torch.where(x >= 0, t, -t)


def relu(x):
    return x.clamp(min=0)


def leaky_relu(x, negative_slope=0.01):
    return torch.where(x >= 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    return torch.where(x >= 0, x, alpha * torch.expm1(x.clamp(max=0)))


def _logsumexp(x, dim):
    m = x.amax(dim=dim, keepdim=True).detach()
    return m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))


def softmax(x, dim=-1):
    return torch.exp(x - _logsumexp(x, dim))


def log_softmax(x, dim=-1):
    return x - _logsumexp(x, dim)


def mse_loss(pred, target):
    return ((pred - target) ** 2).mean()


def binary_cross_entropy(probs, target):
    p = probs.clamp(1e-7, 1 - 1e-7)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


def cross_entropy(logits, labels):
    log_probs = log_softmax(logits, dim=1)
    rows = torch.arange(logits.shape[0], device=logits.device)
    return -log_probs[rows, labels].mean()
