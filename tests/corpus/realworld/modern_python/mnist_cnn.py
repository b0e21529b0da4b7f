"""The MNIST CNN with today's torchvision and a Keras-like model: transforms.v2 (as the
torchvision docs recommend: ToImage + ToDtype(scale=True) is the v2 spelling of ToTensor),
and Net as an nn.Sequential of named layers, so there is no forward to write."""

from __future__ import annotations

import os
from collections import OrderedDict

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2


def mnist_transform() -> v2.Compose:
    return v2.Compose([
        v2.ToImage(),                              # PIL image -> uint8 tensor [1, 28, 28]
        v2.ToDtype(torch.float32, scale=True),     # -> float32 in [0, 1], as ToTensor()
        v2.Normalize(mean=[0.1307], std=[0.3081]),
    ])


def make_loaders(root: str | os.PathLike[str], batch_size: int = 64,
                 download: bool = False) -> tuple[DataLoader, DataLoader]:
    splits = {train: datasets.MNIST(root, train=train, transform=mnist_transform(), download=download)
              for train in (True, False)}
    return (DataLoader(splits[True], batch_size=batch_size, shuffle=True),
            DataLoader(splits[False], batch_size=batch_size, shuffle=False))


class Net(nn.Sequential):
    """conv1 -> pool -> relu -> conv2 -> pool -> relu -> flatten -> fc1 -> relu -> dropout -> fc2."""

    def __init__(self) -> None:
        super().__init__(OrderedDict(
            conv1=nn.Conv2d(1, 10, kernel_size=5),
            pool1=nn.MaxPool2d(2),
            act1=nn.ReLU(),
            conv2=nn.Conv2d(10, 20, kernel_size=5),
            pool2=nn.MaxPool2d(2),
            act2=nn.ReLU(),
            flatten=nn.Flatten(),
            fc1=nn.Linear(320, 50),
            act3=nn.ReLU(),
            dropout=nn.Dropout(p=0.5),
            fc2=nn.Linear(50, 10),
        ))


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    training = model.training
    try:
        return model.eval()(images).argmax(dim=1)
    finally:
        model.train(training)
