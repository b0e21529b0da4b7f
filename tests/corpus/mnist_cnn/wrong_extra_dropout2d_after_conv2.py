# expect-lost: mnist_cnn.Net
# expect-message: mnist_cnn.Net: acts before fc1
# An extra Dropout2d after conv2 (the old pytorch/examples network), which the specified forward pass does
# not have: evaluation mode is right, and training mode drops conv2's feature maps too.
"""Assignment 5: a convolutional network for MNIST.

Students load MNIST with torchvision (tensor conversion and normalisation),
build the classic two-layer CNN (convolution, max-pooling, ReLU, dropout,
fully connected layers) and work out its shapes, and turn its logits into
predictions in evaluation mode; the network is then trained and must reach
the reference accuracy on held-out test images.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

__all__ = ["mnist_transform", "make_loaders", "Net", "predict"]


def mnist_transform() -> transforms.Compose:
    """The preprocessing of every MNIST image.

    ``transforms.ToTensor()`` (a PIL image of uint8 in 0..255 becomes a
    float32 tensor ``[1, 28, 28]`` in ``[0, 1]``), then
    ``transforms.Normalize((0.1307,), (0.3081,))`` (MNIST's pixel mean and
    standard deviation, so inputs are roughly zero-mean, unit-variance).

    Returns:
        A ``transforms.Compose`` of exactly these two transforms, in this order.
    """
    ### BEGIN SOLUTION
    return transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    ### END SOLUTION


def make_loaders(
    root: str | os.PathLike[str], batch_size: int = 64, download: bool = False
) -> tuple[DataLoader, DataLoader]:
    """DataLoaders over torchvision's MNIST training and test splits.

    Args:
        root: the dataset folder passed to ``torchvision.datasets.MNIST``
            (it holds ``MNIST/raw/``).
        batch_size: images per batch, for both loaders.
        download: passed to ``datasets.MNIST``; keep ``False`` offline.

    Returns:
        ``(train_loader, test_loader)``: both use ``mnist_transform()``; the
        training loader shuffles (``shuffle=True``), the test loader does not.
        Each batch is ``(images [B, 1, 28, 28] float32, labels [B] int64)``.
    """
    ### BEGIN SOLUTION
    transform = mnist_transform()
    train_set = datasets.MNIST(root, train=True, transform=transform, download=download)
    test_set = datasets.MNIST(root, train=False, transform=transform, download=download)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False)
    return train_loader, test_loader
    ### END SOLUTION


class Net(nn.Module):
    """The classic MNIST CNN; 21,840 parameters.

    Layers (use exactly these attribute names):
        conv1: ``nn.Conv2d(1, 10, kernel_size=5)``
        conv2: ``nn.Conv2d(10, 20, kernel_size=5)``
        fc1: ``nn.Linear(320, 50)``
        fc2: ``nn.Linear(50, 10)``

    Forward pass for ``x`` of shape ``[B, 1, 28, 28]`` (shapes on the right)::

        conv1 -> max-pool 2 -> ReLU     [B, 10, 24, 24] -> [B, 10, 12, 12]
        conv2 -> max-pool 2 -> ReLU     [B, 20, 8, 8]   -> [B, 20, 4, 4]
        flatten                         [B, 320]
        fc1 -> ReLU -> dropout(p=0.5)   [B, 50]
        fc2                             [B, 10]  (logits, no softmax)

    Dropout is active only in training mode (``self.training``); in
    evaluation mode the network is deterministic.
    """

    def __init__(self) -> None:
        """Create the four layers (and a dropout with ``p=0.5``)."""
        ### BEGIN SOLUTION
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.dropout = nn.Dropout(p=0.5)
        self.conv2_drop = nn.Dropout2d()
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, 1, 28, 28]`` to logits ``[B, 10]`` for any ``B >= 1``."""
        ### BEGIN SOLUTION
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = torch.flatten(x, start_dim=1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)
        ### END SOLUTION


def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Predicted digit of each image.

    Run the model in evaluation mode and without autograd
    (``torch.no_grad()``), take the arg-max logit of each row, and put the
    model back in the mode it was in.

    Args:
        model: a classifier such as ``Net``, on the same device as ``images``.
        images: normalised images ``[B, 1, 28, 28]``.

    Returns:
        int64 tensor ``[B]`` of labels in ``0..9``, with no autograd history.
    """
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(images).argmax(dim=1)
    finally:
        model.train(was_training)
    ### END SOLUTION
