# A LightningModule-shaped Net (training_step / configure_optimizers kept as plain
# methods; Lightning itself is not needed), a DataModule for the loaders.
from __future__ import annotations

import os
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, RandomSampler
from torchvision import transforms
from torchvision.datasets import MNIST


def mnist_transform() -> transforms.Compose:
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean=[0.1307], std=[0.3081])])


class MNISTDataModule:
    def __init__(self, data_dir: str = "./", batch_size: int = 64, download: bool = False, num_workers: int = 2):
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.download = download
        self.num_workers = num_workers
        self.transform = mnist_transform()
        self.mnist_train: Optional[MNIST] = None
        self.mnist_test: Optional[MNIST] = None

    def prepare_data(self) -> None:
        if self.download:
            MNIST(self.data_dir, train=True, download=True)
            MNIST(self.data_dir, train=False, download=True)

    def setup(self, stage: Optional[str] = None) -> None:
        self.mnist_train = MNIST(self.data_dir, train=True, transform=self.transform)
        self.mnist_test = MNIST(self.data_dir, train=False, transform=self.transform)

    def train_dataloader(self) -> DataLoader:
        sampler = RandomSampler(self.mnist_train)
        return DataLoader(self.mnist_train, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.mnist_test, batch_size=self.batch_size, num_workers=self.num_workers)


def make_loaders(root: str | os.PathLike, batch_size: int = 64, download: bool = False) -> Tuple[DataLoader, DataLoader]:
    dm = MNISTDataModule(os.fspath(root), batch_size=batch_size, download=download)
    dm.prepare_data()
    dm.setup("fit")
    return dm.train_dataloader(), dm.test_dataloader()


class Net(nn.Module):
    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.lr = lr
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=10, kernel_size=5)
        self.conv2 = nn.Conv2d(in_channels=10, out_channels=20, kernel_size=5)
        self.fc1 = nn.Linear(in_features=320, out_features=50)
        self.fc2 = nn.Linear(in_features=50, out_features=10)
        self.dropout = nn.Dropout(p=0.5)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), kernel_size=2))
        x = F.relu(F.max_pool2d(self.conv2(x), kernel_size=2))
        x = x.flatten(1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)

    def training_step(self, batch: Tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def predict(model: nn.Module, images: Tensor) -> Tensor:
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        preds = model(images).argmax(dim=1)
    model.train(was_training)
    return preds
