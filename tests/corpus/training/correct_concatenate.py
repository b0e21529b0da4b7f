# expect-lost: none
"""Correct, written differently: sgd_step over a list with sub_, evaluate on the
concatenated outputs (a mean loss over all samples), a tensor accumulator turned into a
float in train_epoch."""

import torch


def sgd_step(params, lr):
    params = [p for p in params if p.grad is not None]
    with torch.no_grad():
        for p in params:
            p.sub_(lr * p.grad)


def train_step(model, batch, loss_fn, optimizer):
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(batch[0]), batch[1])
    loss.backward()
    optimizer.step()
    return loss.detach().item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    total = torch.zeros((), dtype=torch.float64)
    samples = 0
    for batch in loader:
        batch = [t.to(device) for t in batch]
        total += train_step(model, batch, loss_fn, optimizer) * batch[0].shape[0]
        samples += batch[0].shape[0]
    return (total / samples).item()


def evaluate(model, loader, loss_fn, device="cpu"):
    before = model.training
    model.train(False)
    outputs, labels = [], []
    try:
        with torch.no_grad():
            for inputs, targets in loader:
                outputs.append(model(inputs.to(device)))
                labels.append(targets.to(device))
            logits, targets = torch.cat(outputs), torch.cat(labels)
            loss = loss_fn(logits, targets).item()
            accuracy = (logits.argmax(dim=1) == targets).double().mean().item()
    finally:
        model.train(before)
    return loss, accuracy
