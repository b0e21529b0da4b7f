# In-place updates on .data (the pre-no_grad idiom of the old tutorials), float64 sums.
import math

import torch


def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p.data.add_(p.grad.data, alpha=-lr)


def train_step(model, batch, loss_fn, optimizer):
    inputs, targets = batch
    loss = loss_fn(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    losses, counts = [], []
    for inputs, targets in loader:
        inputs = inputs.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        losses.append(train_step(model, (inputs, targets), loss_fn, optimizer))
        counts.append(len(inputs))
    return math.fsum(l * n for l, n in zip(losses, counts)) / sum(counts)


def evaluate(model, loader, loss_fn, device="cpu"):
    mode = model.training
    model.train(False)
    totals = torch.zeros(3, dtype=torch.float64)   # loss sum, hits, samples
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            out = model(inputs)
            n = inputs.shape[0]
            totals[0] += loss_fn(out, targets).item() * n
            totals[1] += (out.argmax(1) == targets).sum().item()
            totals[2] += n
    model.train(mode)
    return (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()
