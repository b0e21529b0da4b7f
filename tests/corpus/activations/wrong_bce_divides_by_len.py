# expect-lost: activations.binary_cross_entropy
# The clamped sum divided by len(probs): the mean for 1-D inputs, but len() counts the first axis only,
# so for [2, 3] inputs the result is three times the mean.

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


def softmax(x, dim=-1):
    shifted = x - x.amax(dim=dim, keepdim=True).detach()
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    shifted = x - x.amax(dim=dim, keepdim=True).detach()
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def mse_loss(pred, target):
    return ((pred - target) ** 2).mean()


def binary_cross_entropy(probs, target):
    p = probs.clamp(1e-7, 1 - 1e-7)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).sum() / len(probs)


def cross_entropy(logits, labels):
    log_probs = log_softmax(logits, dim=1)
    rows = torch.arange(logits.shape[0], device=logits.device)
    return -log_probs[rows, labels].mean()
