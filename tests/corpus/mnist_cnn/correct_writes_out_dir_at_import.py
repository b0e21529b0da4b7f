# expect-lost: none
# Correct, nanoGPT-style: creates an output folder and a log file next to itself at import
# (os.makedirs("out")). The submission is read-only in the sandbox; the worker works in a
# scratch folder that shows the submission's files, so the import succeeds.
import os

out_dir = "out"
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "train.log"), "w") as log:
    log.write("start\n")
import torch
import torch.nn as nn
from torch.utils.data import DataLoader
import torchvision
from torchvision import transforms as T


def mnist_transform():
    return T.Compose([T.ToTensor(), T.Normalize(mean=[0.1307], std=[0.3081])])


def make_loaders(root, batch_size=64, download=False):
    tf = mnist_transform()
    train = torchvision.datasets.MNIST(root=root, train=True, download=download, transform=tf)
    test = torchvision.datasets.MNIST(root=root, train=False, download=download, transform=tf)
    return (DataLoader(train, batch_size=batch_size, shuffle=True),
            DataLoader(test, batch_size=batch_size, shuffle=False))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=10, kernel_size=(5, 5))
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=10, out_channels=20, kernel_size=5)
        self.drop = nn.Dropout(0.5)
        self.fc1 = nn.Linear(in_features=320, out_features=50)
        self.fc2 = nn.Linear(in_features=50, out_features=10)

    def forward(self, x):
        x = self.act(self.pool(self.conv1(x)))
        x = self.act(self.pool(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.drop(self.act(self.fc1(x)))
        return self.fc2(x)


@torch.no_grad()
def predict(model, images):
    mode = model.training
    model.eval()
    logits = model(images)
    model.train(mode)
    return logits.max(1).indices
