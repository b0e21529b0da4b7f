# makemore part 3's Linear, as an nn.Module: weight [fan_out, fan_in] scaled by
# 1/sqrt(fan_in), self.out kept around for the activation statistics plots.
import torch
import torch.nn as nn

def linear_forward(x, weight, bias=None):
    out = x @ weight.T
    if bias is not None:
        out = out + bias
    return out

class Linear(nn.Module):

    def __init__(self, fan_in, fan_out, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fan_out, fan_in).uniform_(-1, 1) / fan_in**0.5)
        self.bias = nn.Parameter(torch.empty(fan_out).uniform_(-1, 1) / fan_in**0.5) if bias else None

    def forward(self, x):
        self.out = linear_forward(x, self.weight, self.bias)
        return self.out

def make_mlp(sizes):
    if len(sizes) < 2:
        raise ValueError(f"need at least an input and an output size, got {sizes}")
    layers = [Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    return nn.Sequential(*[m for l in layers[:-1] for m in (l, nn.ReLU())], layers[-1])
