"""The MNIST CNN, minitorch style (module 4's Network): our own Conv2d and Linear modules
(PyTorch's parameter layout, PyTorch's default initialisation), max-pooling by tiling,
dropout by hand. Only torchvision is used for the data."""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def mnist_transform() -> transforms.Compose:
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


def make_loaders(root: str | os.PathLike, batch_size: int = 64, download: bool = False):
    t = mnist_transform()
    train = datasets.MNIST(root, train=True, transform=t, download=download)
    test = datasets.MNIST(root, train=False, transform=t, download=download)
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(test, batch_size=batch_size)


def _uniform(*shape: int, fan_in: int) -> nn.Parameter:
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(2 * bound * (torch.rand(*shape) - 0.5))


class Conv2d(nn.Module):
    """A 2-D convolution (stride 1, no padding): weight [out, in, kh, kw], bias [out]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        fan_in = in_channels * kernel_size * kernel_size
        self.weight = _uniform(out_channels, in_channels, kernel_size, kernel_size, fan_in=fan_in)
        self.bias = _uniform(out_channels, fan_in=fan_in)
        self.kernel_size = kernel_size

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel_size
        tiles = x.unfold(2, k, 1).unfold(3, k, 1)        # [B, C, H', W', k, k]
        out = torch.einsum("bchwij,ocij->bohw", tiles, self.weight)
        return out + self.bias.view(1, -1, 1, 1)


class Linear(nn.Module):
    def __init__(self, in_size: int, out_size: int):
        super().__init__()
        self.weight = _uniform(out_size, in_size, fan_in=in_size)
        self.bias = _uniform(out_size, fan_in=in_size)

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.T + self.bias


def maxpool2d(x: Tensor, kernel: int) -> Tensor:
    """Tiling max-pool: [B, C, H, W] -> [B, C, H/k, W/k]."""
    b, c, h, w = x.shape
    return x.view(b, c, h // kernel, kernel, w // kernel, kernel).amax(dim=(3, 5))


def relu(x: Tensor) -> Tensor:
    return x.clamp(min=0)


def dropout(x: Tensor, rate: float, ignore: bool = False) -> Tensor:
    """Zero each entry with probability `rate` and scale the rest by 1/(1 - rate)."""
    if ignore or rate == 0.0:
        return x
    keep = (torch.rand_like(x) > rate).to(x.dtype)
    return x * keep / (1.0 - rate)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2d(1, 10, 5)
        self.conv2 = Conv2d(10, 20, 5)
        self.fc1 = Linear(320, 50)
        self.fc2 = Linear(50, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = relu(maxpool2d(self.conv1(x), 2))
        x = relu(maxpool2d(self.conv2(x), 2))
        x = x.reshape(x.shape[0], 320)
        x = dropout(relu(self.fc1(x)), 0.5, ignore=not self.training)
        return self.fc2(x)


def predict(model: nn.Module, images: Tensor) -> Tensor:
    previous = model.training
    model.eval()
    with torch.no_grad():
        out = model.forward(images).argmax(dim=1)
    model.train(previous)
    return out
