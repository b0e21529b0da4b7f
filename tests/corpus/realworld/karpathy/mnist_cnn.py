# terse and hackable: the classic MNIST convnet, functional dropout, @torch.no_grad() predict.
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

torch.manual_seed(1337)
out_dir = 'out'  # checkpoints go here, as in nanoGPT's train.py
os.makedirs(out_dir, exist_ok=True)

def mnist_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])

def make_loaders(root, batch_size=64, download=False):
    tf = mnist_transform()
    train = datasets.MNIST(root, True, tf, download=download)
    test = datasets.MNIST(root, False, tf, download=download)
    return DataLoader(train, batch_size, shuffle=True), DataLoader(test, batch_size, shuffle=False)

class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        B = x.size(0)
        x = F.max_pool2d(self.conv1(x), 2).relu()
        x = F.max_pool2d(self.conv2(x), 2).relu()
        x = x.view(B, -1)
        x = F.dropout(self.fc1(x).relu(), 0.5, self.training)
        return self.fc2(x)

@torch.no_grad()
def predict(model, images):
    was_training = model.training
    model.eval()
    logits = model(images)
    model.train(was_training)
    return logits.argmax(dim=-1)

def save_checkpoint(model, name='ckpt.pt'):
    torch.save({'model': model.state_dict()}, os.path.join(out_dir, name))
