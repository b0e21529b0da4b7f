# d2l.ai "Multilayer Perceptrons" / "Softmax Regression from Scratch", made stable.
import torch


def sigmoid(x):
    # sigmoid(x) = exp(-softplus(-x)); logaddexp is stable in both directions
    return torch.exp(-torch.logaddexp(torch.zeros_like(x), -x))


def tanh(x):
    # tanh(x) = (1 - exp(-2|x|)) / (1 + exp(-2|x|)) * sign(x), written without abs
    e = torch.exp(-2 * torch.where(x > 0, x, -x))
    t = (1 - e) / (1 + e)
    return torch.where(x > 0, t, -t)


def relu(X):
    a = torch.zeros_like(X)
    return torch.max(X, a)


def leaky_relu(x, negative_slope=0.01):
    return torch.where(x > 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    return torch.where(x >= 0, x, alpha * (torch.exp(torch.minimum(x, torch.zeros_like(x))) - 1))


def softmax(X, dim=-1):
    X = X - X.max(dim=dim, keepdim=True).values
    X_exp = torch.exp(X)
    partition = X_exp.sum(dim, keepdim=True)
    return X_exp / partition  # The broadcasting mechanism is applied here


def log_softmax(X, dim=-1):
    X = X - X.max(dim=dim, keepdim=True).values
    return X - torch.log(torch.exp(X).sum(dim, keepdim=True))


def mse_loss(pred, target):
    return ((pred - target) ** 2).mean()


def binary_cross_entropy(probs, target):
    p = torch.clamp(probs, 1e-7, 1 - 1e-7)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


def cross_entropy(y_hat, y):
    return -log_softmax(y_hat, dim=1)[range(len(y_hat)), y].mean()
