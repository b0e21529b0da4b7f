# expect-lost: none
"""Correct, written differently: zero_grad before the forward pass, p.data updates,
len(loader.dataset) as the sample count, a no_grad-decorated helper, counts with sum().item()."""

import torch


def sgd_step(params, lr):
    for p in params:
        if p.grad is None:
            continue
        p.data -= lr * p.grad


def train_step(model, batch, loss_fn, optimizer):
    optimizer.zero_grad()
    inputs, targets = batch
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return float(loss.item())


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train(True)
    running = 0.0
    for batch in loader:
        inputs, targets = (t.to(device, non_blocking=True) for t in batch)
        running += train_step(model, (inputs, targets), loss_fn, optimizer) * len(targets)
    return running / len(loader.dataset)


@torch.no_grad()
def _sums(model, loader, loss_fn, device):
    loss_sum, correct, seen = 0.0, 0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)
        loss_sum += loss_fn(outputs, targets).item() * targets.size(0)
        correct += (outputs.argmax(1) == targets).sum().item()
        seen += targets.size(0)
    return loss_sum, correct, seen


def evaluate(model, loader, loss_fn, device="cpu"):
    mode = model.training
    model.eval()
    try:
        loss_sum, correct, seen = _sums(model, loader, loss_fn, device)
    finally:
        model.train(mode)
    return loss_sum / seen, correct / seen
