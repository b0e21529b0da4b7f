# In-place and float64-internal: work on a private copy (clone / a float64 copy) and
# modify it in place, then cast back to the input's dtype.
import torch


def _sigmoid64(x64):
    out = torch.empty_like(x64)
    pos = x64 >= 0
    out[pos] = 1 / (1 + torch.exp(-x64[pos]))
    e = torch.exp(x64[~pos])
    out[~pos] = e / (1 + e)
    return out


def sigmoid(x):
    return _sigmoid64(x.to(torch.float64)).to(x.dtype)


def tanh(x):
    return (2 * _sigmoid64(2 * x.to(torch.float64)) - 1).to(x.dtype)


def relu(x):
    return x.clone().clamp_(min=0)


def leaky_relu(x, negative_slope=0.01):
    out = x.clone()
    out[x < 0] *= negative_slope
    return out


def elu(x, alpha=1.0):
    out = x.clone()
    neg = x < 0
    out[neg] = alpha * torch.expm1(x[neg])
    return out


def softmax(x, dim=-1):
    e = torch.sub(x, x.amax(dim=dim, keepdim=True)).exp_()
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x, dim=-1):
    z = x - x.amax(dim=dim, keepdim=True)
    z.sub_(z.exp().sum(dim=dim, keepdim=True).log())
    return z


def mse_loss(pred, target):
    d = pred - target
    return torch.mean(d * d, dtype=torch.float64).to(pred.dtype)


def binary_cross_entropy(probs, target):
    p = probs.to(torch.float64).clamp(1e-7, 1 - 1e-7)
    t = target.to(torch.float64)
    ll = t * p.log()
    ll.add_((1 - t) * (1 - p).log())
    return ll.mean().neg_().to(probs.dtype)


def cross_entropy(logits, labels):
    lp = log_softmax(logits, dim=1)
    return lp.gather(1, labels.unsqueeze(1)).neg_().mean()
