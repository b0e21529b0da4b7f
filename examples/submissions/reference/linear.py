"""Assignment 2: a linear layer from scratch.

Students implement the affine map ``y = x Wᵀ + b`` behind every fully
connected layer, wrap it in an ``nn.Module`` with properly registered and
initialised parameters, and stack such layers with ReLUs into a multi-layer
perceptron.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["linear_forward", "Linear", "make_mlp"]


def linear_forward(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Apply the affine map ``y = x @ weight.T + bias``.

    Args:
        x: input of shape ``[..., in]`` (any number of leading axes, e.g.
            ``[B, in]`` or ``[in]``).
        weight: shape ``[out, in]``; row ``j`` holds the weights of output ``j``.
        bias: shape ``[out]``, or ``None`` for no bias.

    Returns:
        Shape ``[..., out]``, same dtype as the inputs; differentiable with
        respect to ``x``, ``weight`` and ``bias``.

    Not allowed: ``torch.nn.functional.linear``, ``torch.nn.Linear``.

    Example:
        >>> linear_forward(torch.ones(2, 3), torch.ones(4, 3), torch.zeros(4)).shape
        torch.Size([2, 4])
    """
    ### BEGIN SOLUTION
    out = x @ weight.T
    if bias is not None:
        out = out + bias
    return out
    ### END SOLUTION


class Linear(nn.Module):
    """A fully connected layer, ``y = x @ weight.T + bias``.

    Attributes:
        in_features: size ``in`` of each input row.
        out_features: size ``out`` of each output row.
        weight: ``nn.Parameter`` of shape ``[out, in]``.
        bias: ``nn.Parameter`` of shape ``[out]``, or ``None`` when built with
            ``bias=False`` (register it with ``self.register_parameter("bias", None)``
            so that ``self.bias is None`` and it is not in ``parameters()``).

    Both parameters start uniformly distributed in ``[-k, k]`` with
    ``k = 1 / sqrt(in_features)``, so the outputs of a fresh layer have a
    variance that does not grow with ``in_features``.

    Not allowed: ``torch.nn.Linear``, ``torch.nn.functional.linear``.

    Example:
        >>> layer = Linear(784, 128)
        >>> layer.weight.shape, layer.bias.shape
        (torch.Size([128, 784]), torch.Size([128]))
        >>> layer(torch.zeros(32, 784)).shape
        torch.Size([32, 128])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        """Create the parameters.

        Args:
            in_features: size of each input row.
            out_features: size of each output row.
            bias: whether to learn an additive bias.
        """
        ### BEGIN SOLUTION
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` of shape ``[..., in]`` to ``[..., out]``, as ``linear_forward``."""
        ### BEGIN SOLUTION
        return linear_forward(x, self.weight, self.bias)
        ### END SOLUTION


def make_mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Build a multi-layer perceptron from your ``Linear`` and ``nn.ReLU``.

    Consecutive sizes give the layers; a ReLU sits between two layers and
    none after the last one (its outputs are logits).

    Args:
        sizes: layer widths ``[in, hidden_1, ..., out]``, at least two.

    Returns:
        ``nn.Sequential``; for ``[784, 128, 10]`` it is
        ``Linear(784, 128), ReLU(), Linear(128, 10)``; for ``[4, 2]`` just
        ``Linear(4, 2)``.

    Raises:
        ValueError: if ``sizes`` has fewer than two entries.
    """
    ### BEGIN SOLUTION
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"make_mlp needs at least two sizes (input and output), got {sizes}")
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        if i > 0:
            layers.append(nn.ReLU())
        layers.append(Linear(sizes[i], sizes[i + 1]))
    return nn.Sequential(*layers)
    ### END SOLUTION
