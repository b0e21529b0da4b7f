"""Assignment 4: the training loop.

Students write the four steps that train every PyTorch model (forward pass,
loss, backward pass, parameter update), a plain SGD update by hand, one epoch
over a DataLoader, and an evaluation pass that builds no autograd graph and
reports the mean loss per sample and the accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

__all__ = ["sgd_step", "train_step", "train_epoch", "evaluate"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sgd_step(params: Iterable[torch.Tensor], lr: float) -> None:
    """One step of plain gradient descent, in place: ``p -= lr * p.grad``.

    The update must not be recorded by autograd (wrap it in
    ``torch.no_grad()``), must modify each tensor in place (the model keeps
    references to its parameters), and must skip parameters whose ``grad``
    is ``None`` (they took no part in the loss).

    Args:
        params: any iterable of tensors, e.g. ``model.parameters()`` (a
            generator, so iterate it only once).
        lr: the learning rate.

    Returns:
        None.  One call equals one ``torch.optim.SGD(params, lr=lr).step()``.
    """
    ### BEGIN SOLUTION
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
    ### END SOLUTION


def train_step(
    model: nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
) -> float:
    """Train on one mini-batch.

    In this order: forward pass, loss, ``optimizer.zero_grad()``,
    ``loss.backward()``, ``optimizer.step()``.  Without ``zero_grad`` the
    gradients of every earlier batch would be added to this one's.

    Args:
        model: the network; its mode and device are left as they are.
        batch: ``(inputs, targets)``, already on the model's device.
        loss_fn: ``loss_fn(outputs, targets)`` returns a 0-d (mean) loss.
        optimizer: an optimizer over ``model.parameters()``.

    Returns:
        The batch's loss as a Python ``float`` (``loss.item()``), not a tensor.
    """
    ### BEGIN SOLUTION
    inputs, targets = batch
    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


def train_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    device: str | torch.device = "cpu",
) -> float:
    """Train for one pass over ``loader``.

    Put the model in training mode (``model.train()``), move each batch's
    inputs and targets to ``device``, and call ``train_step`` on it.  The
    model itself must already be on ``device``.

    Args:
        model: the network.
        loader: yields ``(inputs, targets)`` batches, e.g. a ``DataLoader``;
            at least one batch.
        loss_fn: returns the MEAN loss of a batch.
        optimizer: an optimizer over ``model.parameters()``.
        device: where the batches are moved.

    Returns:
        The mean loss per SAMPLE over the epoch, as a Python float: weight each
        batch's loss by its batch size, since the last batch may be smaller.
        E.g. batches of 3 and 1 samples with losses 1.0 and 2.0 give
        ``(3 * 1.0 + 1 * 2.0) / 4 = 1.25``, not 1.5.
    """
    ### BEGIN SOLUTION
    model.train()
    total_loss, total_samples = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = train_step(model, (inputs, targets), loss_fn, optimizer)
        total_loss += loss * inputs.shape[0]
        total_samples += inputs.shape[0]
    return total_loss / total_samples
    ### END SOLUTION


def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: LossFn,
    device: str | torch.device = "cpu",
) -> tuple[float, float]:
    """Measure a classifier's loss and accuracy on ``loader`` without training it.

    Switch to evaluation mode (``model.eval()``: dropout off), build no
    autograd graph (``torch.no_grad()``), move each batch to ``device``, and
    afterwards put the model back in the mode it was in (remember
    ``model.training`` first), even if an exception is raised.

    Args:
        model: a classifier returning logits ``[B, K]``, already on ``device``.
        loader: yields ``(inputs, targets)`` with int64 targets ``[B]``; at
            least one batch.
        loss_fn: returns the MEAN loss of a batch.
        device: where the batches are moved.

    Returns:
        ``(mean loss per sample, accuracy)`` as Python floats; batch losses are
        weighted by batch size, and the accuracy (fraction of samples whose
        arg-max logit equals the target) lies in ``[0, 1]``.
    """
    ### BEGIN SOLUTION
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
    ### END SOLUTION
