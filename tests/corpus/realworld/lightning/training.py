# Lightning's automatic optimisation, by hand: the closure runs forward, loss,
# zero_grad and backward, and optimizer.step(closure) runs it and then updates.
from __future__ import annotations

from typing import Callable, Iterable, Tuple

import torch
from torch import Tensor, nn


def sgd_step(params: Iterable[Tensor], lr: float) -> None:
    params_with_grad = [p for p in params if p.grad is not None]
    if not params_with_grad:
        return
    with torch.no_grad():
        for p in params_with_grad:
            p.copy_(p - lr * p.grad)


def train_step(model: nn.Module, batch: Tuple[Tensor, Tensor], loss_fn: Callable, optimizer) -> float:
    x, y = batch
    result = {}

    def closure():
        logits = model(x)
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        result["loss"] = loss.detach()
        return loss

    optimizer.step(closure)
    return result["loss"].item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu") -> float:
    model.train()
    outputs = []
    for batch_idx, batch in enumerate(loader):
        x, y = (t.to(device) for t in batch)
        outputs.append((train_step(model, (x, y), loss_fn, optimizer), x.size(0)))
    # on_train_epoch_end: weight each batch by its size
    return sum(loss * n for loss, n in outputs) / sum(n for _, n in outputs)


def evaluate(model, loader, loss_fn, device="cpu") -> Tuple[float, float]:
    training = model.training
    model.eval()
    try:
        losses, hits, count = [], 0, 0
        with torch.inference_mode():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                logits = model(x)
                losses.append(loss_fn(logits, y) * x.size(0))
                hits += int((logits.argmax(-1) == y).sum())
                count += x.size(0)
        return float(torch.stack(losses).sum()) / count, hits / count
    finally:
        model.train(training)
