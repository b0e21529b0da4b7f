# Official tutorials: "Datasets & DataLoaders" for the data, the "Neural Networks"
# tutorial's F.max_pool2d(F.relu(conv(x)), 2) (ReLU and max-pooling commute).
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import Compose, Normalize, ToTensor


def mnist_transform():
    return Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])


def make_loaders(root, batch_size=64, download=False):
    training_data = datasets.MNIST(root=root, train=True, download=download, transform=mnist_transform())
    test_data = datasets.MNIST(root=root, train=False, download=download, transform=mnist_transform())
    train_dataloader = DataLoader(training_data, batch_size=batch_size, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    return train_dataloader, test_dataloader


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        # 1 input image channel, 10 output channels, 5x5 square convolution kernel
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(20 * 4 * 4, 50)  # 4*4 from image dimension
        self.fc2 = nn.Linear(50, 10)
        self.drop = nn.Dropout()

    def forward(self, x):
        # Max pooling over a (2, 2) window
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        # If the size is a square, you can specify with a single number
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)  # flatten all dimensions except the batch dimension
        x = F.relu(self.fc1(x))
        x = self.drop(x)
        x = self.fc2(x)
        return x


def predict(model, images):
    model.eval()
    with torch.no_grad():
        outputs = model(images)
        _, predicted = torch.max(outputs, 1)
    return predicted
