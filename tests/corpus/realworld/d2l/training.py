# d2l.ai style: an Accumulator, sgd() from "Linear Regression from Scratch",
# train_epoch_ch3 / evaluate_accuracy.
import torch


class Accumulator:
    """For accumulating sums over `n` variables."""
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def sgd_step(params, lr):
    """Minibatch stochastic gradient descent (without d2l's division by batch_size)."""
    with torch.no_grad():
        for param in params:
            if param.grad is not None:
                param -= lr * param.grad


def train_step(model, batch, loss_fn, optimizer):
    X, y = batch
    y_hat = model(X)
    l = loss_fn(y_hat, y)
    optimizer.zero_grad()
    l.backward()
    optimizer.step()
    return float(l)


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    """train_epoch_ch3: sum of training loss, no. of examples."""
    if isinstance(model, torch.nn.Module):
        model.train()
    metric = Accumulator(2)
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        l = train_step(model, (X, y), loss_fn, optimizer)
        metric.add(l * y.numel(), y.numel())
    return metric[0] / metric[1]


def evaluate(model, loader, loss_fn, device="cpu"):
    mode = model.training
    model.eval()  # Set the model to evaluation mode
    metric = Accumulator(3)  # loss sum, no. of correct predictions, no. of predictions
    with torch.no_grad():
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            y_hat = model(X)
            metric.add(loss_fn(y_hat, y) * y.numel(), (y_hat.argmax(axis=1) == y).sum(), y.numel())
    model.train(mode)
    return metric[0] / metric[2], metric[1] / metric[2]
