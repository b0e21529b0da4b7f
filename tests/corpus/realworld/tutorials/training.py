# The "Optimizing Model Parameters" tutorial's train_loop / test_loop, per sample.
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= p.grad * lr


def train_step(model, batch, loss_fn, optimizer):
    X, y = batch
    # Compute prediction and loss
    pred = model(X)
    loss = loss_fn(pred, y)
    # Backpropagation
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    # Set the model to training mode - important for batch normalization and dropout layers
    model.train()
    size, total = 0, 0.0
    for batch, (X, y) in enumerate(loader):
        X, y = X.to(device), y.to(device)
        loss = train_step(model, (X, y), loss_fn, optimizer)
        total += loss * len(X)
        size += len(X)
    return total / size


def evaluate(model, loader, loss_fn, device="cpu"):
    training = model.training
    # Set the model to evaluation mode - important for batch normalization and dropout layers
    model.eval()
    size = len(loader.dataset)
    test_loss, correct = 0.0, 0.0
    # Evaluating the model with torch.no_grad() ensures that no gradients are computed during test mode
    with torch.no_grad():
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item() * len(X)
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    model.train(training)
    return test_loss / size, correct / size
