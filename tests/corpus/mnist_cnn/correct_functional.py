# expect-lost: none
# Correct, written differently: layers created in another order (so another initialisation),
# ReLU before pooling (they commute), x.view, F.dropout with training=self.training, an explicit
# RandomSampler, predict under torch.inference_mode.
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, RandomSampler
from torchvision import datasets, transforms


def mnist_transform():
    steps = [transforms.ToTensor()]
    steps.append(transforms.Normalize((0.1307,), (0.3081,)))
    return transforms.Compose(steps)


def make_loaders(root, batch_size=64, download=False):
    sets = {split: datasets.MNIST(root, train=split == "train", transform=mnist_transform(), download=download)
            for split in ("train", "test")}
    train_loader = DataLoader(sets["train"], batch_size=batch_size, sampler=RandomSampler(sets["train"]))
    test_loader = DataLoader(sets["test"], batch_size=batch_size)
    return train_loader, test_loader


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc2 = nn.Linear(50, 10)
        self.fc1 = nn.Linear(4 * 4 * 20, 50)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.conv1 = nn.Conv2d(1, 10, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), kernel_size=2)
        x = F.max_pool2d(F.relu(self.conv2(x)), kernel_size=2, stride=2)
        x = x.view(-1, 320)
        x = F.dropout(F.relu(self.fc1(x)), p=0.5, training=self.training)
        return self.fc2(x)


def predict(model, images):
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return torch.argmax(model(images), dim=1)
    finally:
        model.train(was_training)
