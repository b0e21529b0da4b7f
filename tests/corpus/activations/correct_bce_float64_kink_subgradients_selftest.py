# expect-lost: none
"""Correct, in ways the grader once got wrong: binary cross entropy clamped in float64 and
cast back (the handout allows both clamps), relu and leaky_relu whose gradient at the kink
is another subgradient, type annotations and a docstring naming torch.nn.functional, and a
self-test under `if __name__ == "__main__":` that calls the forbidden functions (it calls
nothing when the tasks run)."""

import torch


def tanh(x):
    z = torch.exp(-2 * torch.where(x >= 0, x, -x))   # e^(-2|x|) in (0, 1]: never overflows
    t = (1 - z) / (1 + z)                             # tanh(|x|)
    return torch.where(x >= 0, t, -t)


def sigmoid(x):
    return 0.5 * (1 + tanh(x / 2))


def relu(x: torch.Tensor) -> torch.Tensor:
    # (x + |x|) / 2: its gradient at the kink is 1/2, a subgradient like any other
    return (x + x.abs()) / 2


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    # torch.maximum splits the gradient at the tie x = 0: (1 + slope) / 2, in [slope, 1]
    return torch.maximum(x, negative_slope * x)


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


def binary_cross_entropy(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Like torch.nn.functional.binary_cross_entropy, but clamped: computed in float64."""
    p = probs.double().clamp(1e-7, 1 - 1e-7)     # 1 - 1e-7 exactly, not float32's 1 - 1.19e-7
    t = target.double()
    return (-(t * p.log() + (1 - t) * (1 - p).log()).mean()).to(probs.dtype)


def cross_entropy(logits, labels):
    picked = log_softmax(logits, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)
    return -picked.mean()


if __name__ == "__main__":
    # a self-test against PyTorch's own functions: it runs only as a script, never when graded
    import torch.nn.functional as F
    from torch import nn

    x = torch.linspace(-5, 5, 11)
    assert torch.allclose(sigmoid(x), torch.sigmoid(x), atol=1e-6)
    assert torch.allclose(tanh(x), nn.Tanh()(x), atol=1e-6)
    assert torch.allclose(softmax(x), F.softmax(x, dim=-1))
    assert torch.allclose(log_softmax(x), x.log_softmax(-1), atol=1e-6)
    print(nn.CrossEntropyLoss()(x[None], torch.tensor([3])), cross_entropy(x[None], torch.tensor([3])))
