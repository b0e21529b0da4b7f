# expect-lost: training.evaluate
# expect-message: training.evaluate: no longer require grad
"""evaluate avoids the graph with model.requires_grad_(False) instead of torch.no_grad() and never switches
requires_grad back on."""

import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad


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
    model.requires_grad_(False)
    total_loss, correct, total_samples = 0.0, 0, 0
    try:
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            total_loss += loss_fn(outputs, targets).item() * inputs.shape[0]
            correct += (outputs.argmax(dim=1) == targets).sum().item()
            total_samples += inputs.shape[0]
    finally:
        model.train(was_training)
    return total_loss / total_samples, correct / total_samples
