# expect-lost: none
"""A correct submission with masks and clamps: relu as x * (x > 0), sigmoid with each
branch's exponent clamped, tanh from sigmoid, softmax with torch.max, cross entropy with a
one-hot mask."""

import torch


def sigmoid(x):
    non_negative = torch.where(x >= 0, x, torch.zeros_like(x))
    negative = torch.where(x < 0, x, torch.zeros_like(x))
    e = torch.exp(negative)
    return torch.where(x >= 0, 1 / (1 + torch.exp(-non_negative)), e / (1 + e))


def tanh(x):
    return 2 * sigmoid(2 * x) - 1


def relu(x):
    return x * (x > 0)


def leaky_relu(x, negative_slope=0.01):
    return x * torch.where(x >= 0, torch.ones_like(x), torch.full_like(x, negative_slope))


def elu(x, alpha=1.0):
    negative = torch.where(x < 0, x, torch.zeros_like(x))
    return torch.where(x >= 0, x, alpha * (torch.exp(negative) - 1))


def softmax(x, dim=-1):
    e = torch.exp(x - torch.max(x, dim=dim, keepdim=True).values)
    return e / torch.sum(e, dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    shifted = x - torch.max(x, dim=dim, keepdim=True).values
    return shifted - torch.log(torch.sum(torch.exp(shifted), dim=dim, keepdim=True))


def mse_loss(pred, target):
    diff = pred - target
    return (diff * diff).sum() / diff.numel()


def binary_cross_entropy(probs, target):
    p = torch.clamp(probs, 1e-7, 1 - 1e-7)
    losses = -(target * torch.log(p) + (1 - target) * torch.log1p(-p))
    return losses.sum() / losses.numel()


def cross_entropy(logits, labels):
    mask = torch.zeros_like(logits).scatter(1, labels.view(-1, 1), 1.0)
    return -(log_softmax(logits, dim=1) * mask).sum(dim=1).mean()
