# CS231n layers.py style: affine_forward reshapes the input to rows, then reshapes back.
import numpy as np
import torch
import torch.nn as nn


def linear_forward(x, weight, bias=None):
    """
    Computes the forward pass for an affine (fully connected) layer.

    Inputs:
    - x: A tensor containing input data, of shape (..., D)
    - weight: A tensor of weights, of shape (M, D)
    - bias: A tensor of biases, of shape (M,), or None

    Returns:
    - out: output, of shape (..., M)
    """
    lead = x.shape[:-1]
    D = x.shape[-1]
    M = weight.shape[0]
    x_rows = x.reshape(-1, D)
    out = x_rows.mm(weight.t())
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, M)


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        std = 1.0 / np.sqrt(in_features)
        w = (torch.rand(out_features, in_features) * 2 - 1) * std
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter((torch.rand(out_features) * 2 - 1) * std) if bias else None

    def forward(self, x):
        return linear_forward(x, self.weight, self.bias)


def make_mlp(sizes):
    """{affine - relu} x (L - 1) - affine"""
    num_layers = len(sizes) - 1
    if num_layers < 1:
        raise ValueError("need at least two sizes, got %r" % (sizes,))
    layers = []
    for i in range(num_layers):
        layers.append(Linear(sizes[i], sizes[i + 1]))
        if i < num_layers - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
