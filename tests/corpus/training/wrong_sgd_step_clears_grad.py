# expect-lost: training.sgd_step
# expect-message: training.sgd_step: was set to None
"""sgd_step sets each parameter's grad to None after the update (torch.optim.SGD.step leaves .grad alone)."""

import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
                p.grad = None


def train_step(model, batch, loss_fn, optimizer):
    inputs, targets = batch
    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    total_loss, total_samples = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = train_step(model, (inputs, targets), loss_fn, optimizer)
        total_loss += loss * inputs.shape[0]
        total_samples += inputs.shape[0]
    return total_loss / total_samples


def evaluate(model, loader, loss_fn, device="cpu"):
    was_training = model.training
    model.eval()
    total_loss, correct, total_samples = 0.0, 0, 0
    try:
        with torch.no_grad():
            for inputs, targets in loader:
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = model(inputs)
                total_loss += loss_fn(outputs, targets).item() * inputs.shape[0]
                correct += (outputs.argmax(dim=1) == targets).sum().item()
                total_samples += inputs.shape[0]
    finally:
        model.train(was_training)
    return total_loss / total_samples, correct / total_samples
