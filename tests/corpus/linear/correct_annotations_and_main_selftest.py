# expect-lost: none
"""Correct (the alt_correct code) with type annotations naming nn.Linear, a docstring naming
torch.nn.functional.linear, and a self-test under `if __name__ == "__main__":` that compares
with nn.Linear and F.linear: none of it runs when the tasks are called, so none of it costs."""


import math
from collections import OrderedDict

import torch
import torch.nn as nn


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Like torch.nn.functional.linear (which is not allowed here): x @ weight.T + bias."""
    y = torch.matmul(x, weight.t())
    return y if bias is None else y + bias


class Linear(nn.Module):
    """A drop-in for nn.Linear."""

    weight: nn.Parameter           # annotations name types; they call nothing
    reference: "nn.Linear | None" = None

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return linear_forward(x, self.weight, self.bias)


def make_mlp(sizes):
    sizes = list(sizes)
    if len(sizes) <= 1:
        raise ValueError(f"need an input and an output size, got {sizes}")
    layers = OrderedDict()
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers[f"fc{i + 1}"] = Linear(n_in, n_out)
        layers[f"relu{i + 1}"] = nn.ReLU(inplace=True)
    layers.popitem()  # no activation after the last layer
    return nn.Sequential(layers)


if __name__ == "__main__":
    # self-test against PyTorch: runs as a script only, never when the tasks are called
    import torch.nn.functional as F

    torch.manual_seed(0)
    theirs = nn.Linear(4, 3)
    mine = Linear(4, 3)
    mine.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 4)
    assert torch.allclose(mine(x), theirs(x))
    assert torch.allclose(linear_forward(x, theirs.weight, theirs.bias), F.linear(x, theirs.weight, theirs.bias))
    print("all good")
