# makemore part 4 ("becoming a backprop ninja") spelled out, micrograd-terse.
import torch

def sigmoid(x):
    # exponentiate only non-positive numbers: e = exp(-|x|), with -|x| written so that
    # its gradient at 0 is not abs'(0) = 0
    e = torch.where(x >= 0, -x, x).exp()
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))

def tanh(x):
    return 2 * sigmoid(2 * x) - 1

def relu(x):
    return torch.maximum(x, torch.zeros_like(x))

def leaky_relu(x, negative_slope=0.01):
    return torch.where(x > 0, x, negative_slope * x)

def elu(x, alpha=1.0):
    return torch.where(x >= 0, x, alpha * (x.clamp(max=0).exp() - 1))

def softmax(logits, dim=-1):
    logit_maxes = logits.max(dim, keepdim=True).values
    norm_logits = logits - logit_maxes  # subtract max for numerical stability
    counts = norm_logits.exp()
    counts_sum = counts.sum(dim, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    return probs

def log_softmax(logits, dim=-1):
    norm_logits = logits - logits.max(dim, keepdim=True).values
    return norm_logits - norm_logits.exp().sum(dim, keepdims=True).log()

def mse_loss(pred, target):
    return (pred - target).pow(2).mean()

def binary_cross_entropy(probs, target):
    p = probs.clamp(1e-7, 1 - 1e-7)
    return (-target * p.log() - (1 - target) * (1 - p).log()).mean()

def cross_entropy(logits, labels):
    n = logits.shape[0]
    logprobs = log_softmax(logits, dim=1)
    loss = -logprobs[range(n), labels].mean()
    return loss

# makemore part 4's habit: compare with PyTorch right away (this runs once, at import)
_x = torch.randn(4, 5) * 10
assert torch.allclose(sigmoid(_x), torch.sigmoid(_x), atol=1e-6)
assert torch.allclose(tanh(_x), torch.tanh(_x), atol=1e-6)
assert torch.allclose(softmax(_x), torch.softmax(_x, dim=-1), atol=1e-6)
assert torch.allclose(log_softmax(_x), _x.log_softmax(-1), atol=1e-5)
del _x
