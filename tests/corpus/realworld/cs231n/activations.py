# CS231n style: boolean masks (rnn_layers.py's stable sigmoid), shifted logits
# (softmax_loss in layers.py).
import numpy as np
import torch
import torch.nn.functional as F  # for comparing in the notebook; the layers below do not use it


def sigmoid(x):
    """A numerically stable version of the logistic sigmoid function."""
    pos_mask = x >= 0
    neg_mask = x < 0
    z = torch.zeros_like(x)
    z[pos_mask] = torch.exp(-x[pos_mask])
    z[neg_mask] = torch.exp(x[neg_mask])
    top = torch.ones_like(x)
    top[neg_mask] = z[neg_mask]
    return top / (1 + z)


def tanh(x):
    return 2 * sigmoid(2 * x) - 1


def relu(x):
    return x * (x > 0)


def leaky_relu(x, negative_slope=0.01):
    return torch.where(x >= 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    neg = torch.clamp(x, max=0)
    return torch.where(x >= 0, x, alpha * (torch.exp(neg) - 1))


def softmax(x, dim=-1):
    shifted_logits = x - torch.amax(x, dim=dim, keepdim=True)
    exp_scores = torch.exp(shifted_logits)
    return exp_scores / torch.sum(exp_scores, dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    shifted_logits = x - torch.amax(x, dim=dim, keepdim=True)
    Z = torch.sum(torch.exp(shifted_logits), dim=dim, keepdim=True)
    return shifted_logits - torch.log(Z)


def mse_loss(pred, target):
    diff = pred - target
    return torch.sum(diff * diff) / int(np.prod(diff.shape))


def binary_cross_entropy(probs, target):
    p = probs.clip(1e-7, 1 - 1e-7)
    N = probs.numel()
    return -torch.sum(target * torch.log(p) + (1 - target) * torch.log(1 - p)) / N


def cross_entropy(logits, labels):
    N = logits.shape[0]
    log_probs = log_softmax(logits, dim=1)
    loss = -torch.sum(log_probs[torch.arange(N), labels]) / N
    return loss
