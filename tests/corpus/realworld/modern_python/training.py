"""The training loop with today's PyTorch: zero_grad(set_to_none=True), inference_mode,
a tqdm progress bar, a context manager that restores the model's mode."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm


def sgd_step(params: Iterable[Tensor], lr: float) -> None:
    # exactly what torch.optim.SGD (no momentum, no weight decay) does in one step
    with torch.no_grad():
        for p in (p for p in params if p.grad is not None):
            p.add_(p.grad, alpha=-lr)


def train_step(model: nn.Module, batch: tuple[Tensor, Tensor], loss_fn: Callable[[Tensor, Tensor], Tensor],
               optimizer: torch.optim.Optimizer) -> float:
    inputs, targets = batch
    loss = loss_fn(model(inputs), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


@contextlib.contextmanager
def mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    previous = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(previous)


def train_epoch(model: nn.Module, loader: Iterable, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                device: str | torch.device = "cpu") -> float:
    model.train()
    total = seen = 0
    for inputs, targets in (bar := tqdm(loader, desc="train", leave=False, disable=None)):
        inputs, targets = inputs.to(device), targets.to(device)
        loss = train_step(model, (inputs, targets), loss_fn, optimizer)
        total, seen = total + loss * len(inputs), seen + len(inputs)
        bar.set_postfix(loss=f"{loss:.3f}")
    return total / seen


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable,
             device: str | torch.device = "cpu") -> tuple[float, float]:
    total = correct = seen = 0
    with mode(model, training=False), torch.inference_mode():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            logits = model(inputs)
            total += loss_fn(logits, targets).item() * len(inputs)
            correct += (logits.argmax(1) == targets).sum().item()
            seen += len(inputs)
    return total / seen, correct / seen
