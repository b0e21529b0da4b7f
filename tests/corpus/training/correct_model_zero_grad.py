# expect-lost: none
"""Correct, written differently: model.zero_grad(), p.add_(grad, alpha=-lr) under no_grad,
inference_mode in evaluate, no try/finally, float-tensor counting."""

import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-lr)
    return None


def train_step(model, batch, loss_fn, optimizer):
    x, y = batch
    model.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    losses, sizes = [], []
    for x, y in loader:
        x = x.to(device)
        y = y.to(device)
        losses.append(train_step(model, (x, y), loss_fn, optimizer))
        sizes.append(x.size(0))
    return sum(l * n for l, n in zip(losses, sizes)) / sum(sizes)


def evaluate(model, loader, loss_fn, device="cpu"):
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0.0, 0
    with torch.inference_mode():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=-1) == y).float().sum().item()
            count += len(y)
    model.train(was_training)
    return total / count, correct / count
