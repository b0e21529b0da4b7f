"""Assignment 4, written defensively: argument checks, the mode restored in a finally
block, explicit float conversion, annotations for every local that matters."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]
Batch = tuple[Tensor, Tensor]


def sgd_step(params: Iterable[Tensor], lr: float) -> None:
    if not isinstance(lr, (int, float)):
        raise TypeError(f"lr must be a number, got {type(lr).__name__}")
    with torch.no_grad():
        for param in params:
            grad: Tensor | None = param.grad
            if grad is None:
                continue
            param.sub_(grad * lr)
    return None


def train_step(model: nn.Module, batch: Batch, loss_fn: LossFn, optimizer: torch.optim.Optimizer) -> float:
    if len(batch) != 2:
        raise ValueError(f"batch must be (inputs, targets), got {len(batch)} items")
    inputs, targets = batch
    outputs: Tensor = model(inputs)
    loss: Tensor = loss_fn(outputs, targets)
    if loss.dim() != 0:
        raise ValueError(f"loss_fn must return a 0-d tensor, got shape {tuple(loss.shape)}")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    value: float = float(loss.detach().item())
    return value


def train_epoch(model: nn.Module, loader: Iterable[Batch], loss_fn: LossFn,
                optimizer: torch.optim.Optimizer, device: str | torch.device = "cpu") -> float:
    model.train()
    weighted_sum: float = 0.0
    samples: int = 0
    for inputs, targets in loader:
        inputs = inputs.to(device)
        targets = targets.to(device)
        batch_size: int = int(inputs.shape[0])
        weighted_sum += train_step(model, (inputs, targets), loss_fn, optimizer) * batch_size
        samples += batch_size
    if samples == 0:
        raise ValueError("the loader yielded no samples")
    return weighted_sum / samples


def evaluate(model: nn.Module, loader: Iterable[Batch], loss_fn: LossFn,
             device: str | torch.device = "cpu") -> tuple[float, float]:
    previous_mode: bool = model.training
    model.eval()
    weighted_sum: float = 0.0
    hits: int = 0
    samples: int = 0
    try:
        with torch.no_grad():
            for inputs, targets in loader:
                inputs, targets = inputs.to(device), targets.to(device)
                logits: Tensor = model(inputs)
                batch_size: int = int(targets.shape[0])
                weighted_sum += float(loss_fn(logits, targets)) * batch_size
                hits += int((logits.argmax(dim=1) == targets).sum())
                samples += batch_size
    finally:
        model.train(previous_mode)
    if samples == 0:
        raise ValueError("the loader yielded no samples")
    return weighted_sum / samples, hits / samples
