"""Assignment 5, written defensively: annotated layers, shape checks in forward, a
predict that restores the mode, and a guarded training script at the bottom."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

MNIST_MEAN: tuple[float, ...] = (0.1307,)
MNIST_STD: tuple[float, ...] = (0.3081,)


def mnist_transform() -> transforms.Compose:
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MNIST_MEAN, MNIST_STD)])


def make_loaders(root: str | os.PathLike[str], batch_size: int = 64,
                 download: bool = False) -> tuple[DataLoader, DataLoader]:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    root = Path(root)
    transform = mnist_transform()
    train_set = datasets.MNIST(root=str(root), train=True, transform=transform, download=download)
    test_set = datasets.MNIST(root=str(root), train=False, transform=transform, download=download)
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True),
            DataLoader(test_set, batch_size=batch_size, shuffle=False))


class Net(nn.Module):
    conv1: nn.Conv2d
    conv2: nn.Conv2d
    fc1: nn.Linear
    fc2: nn.Linear

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=10, kernel_size=5)
        self.conv2 = nn.Conv2d(in_channels=10, out_channels=20, kernel_size=5)
        self.fc1 = nn.Linear(in_features=320, out_features=50)
        self.fc2 = nn.Linear(in_features=50, out_features=10)
        self.dropout = nn.Dropout(p=0.5)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"Net expects images [B, 1, 28, 28], got {tuple(x.shape)}")
        h: Tensor = F.relu(F.max_pool2d(self.conv1(x), kernel_size=2))   # [B, 10, 12, 12]
        h = F.relu(F.max_pool2d(self.conv2(h), kernel_size=2))           # [B, 20, 4, 4]
        h = h.reshape(h.shape[0], 320)
        h = self.dropout(F.relu(self.fc1(h)))
        return self.fc2(h)


def predict(model: nn.Module, images: Tensor) -> Tensor:
    if images.dim() != 4:
        raise ValueError(f"images must be [B, 1, 28, 28], got {tuple(images.shape)}")
    was_training: bool = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits: Tensor = model(images)
    finally:
        model.train(was_training)
    labels: Tensor = logits.argmax(dim=1)
    return labels.to(torch.int64)


if __name__ == "__main__":
    train_loader, test_loader = make_loaders(os.environ.get("MNIST_ROOT", "data"), download=True)
    net = Net()
    assert sum(p.numel() for p in net.parameters()) == 21840
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for images, labels in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(net(images), labels).backward()
        optimizer.step()
    correct = sum(int((predict(net, x) == y).sum()) for x, y in test_loader)
    print(f"test accuracy: {correct / len(test_loader.dataset):.3f}")
