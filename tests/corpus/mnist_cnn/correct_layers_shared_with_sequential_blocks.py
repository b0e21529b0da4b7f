# expect-lost: none
# The layers built inside nn.Sequential blocks first, then bound to conv1/conv2/fc1/fc2 as well: named_parameters()
# lists each parameter under its first path (block1.0.weight), but net.conv1 is the specified layer.
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def mnist_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


def make_loaders(root, batch_size=64, download=False):
    tf = mnist_transform()
    train = datasets.MNIST(root, train=True, transform=tf, download=download)
    test = datasets.MNIST(root, train=False, transform=tf, download=download)
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(test, batch_size=batch_size)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 10, kernel_size=5), nn.MaxPool2d(2), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(10, 20, kernel_size=5), nn.MaxPool2d(2), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(320, 50), nn.ReLU(), nn.Dropout(), nn.Linear(50, 10))
        self.conv1, self.conv2 = self.block1[0], self.block2[0]
        self.fc1, self.fc2 = self.head[0], self.head[3]

    def forward(self, x):
        x = self.block2(self.block1(x))
        return self.head(torch.flatten(x, 1))


def predict(model, images):
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(images).argmax(1)
    finally:
        model.train(was)
