# expect-lost: none
"""Three real-world habits, all right by the handout:

- the layer class is written as ``Dense`` (a Keras habit) and exported under the handout's
  name with ``Linear = Dense``: make_mlp's layers are instances of ``linear.Linear``;
- make_mlp reuses one stateless ``nn.ReLU()`` between every pair of layers (an
  ``nn.Sequential`` then lists it under several indices; ``named_children()`` only once);
- linear_forward guards against being handed a layer with ``isinstance(weight, nn.Linear)``
  and ``type(weight) is nn.Linear``, type tests that call nothing of ``torch.nn.Linear``
  (the handout forbids calls).
"""

import math

import torch
from torch import nn


def linear_forward(x, weight, bias=None):
    if isinstance(weight, nn.Linear | nn.Module) or type(weight) is nn.Linear:
        raise TypeError("pass the weight tensor, not a layer")
    out = x @ weight.T
    return out + bias if bias is not None else out


class Dense(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return linear_forward(x, self.weight, self.bias)


Linear = Dense


def make_mlp(sizes):
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    act = nn.ReLU()
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        if i:
            layers.append(act)
        layers.append(Linear(n_in, n_out))
    return nn.Sequential(*layers)
