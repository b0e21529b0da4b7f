"""Public checks of assignment 4, ``training``: run ``pytest`` in your starter folder.

Each check builds a small model, loss and optimizer from stock PyTorch pieces, runs one of
your functions and compares the result with the same computation done by hand. Passing
them is a good sign, not a guarantee: the grader runs more checks on the same tasks.
"""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from training import evaluate, sgd_step, train_epoch, train_step


def linear(in_features, out_features, seed=0):
    """An ``nn.Linear`` with weights drawn from a fixed seed."""
    torch.manual_seed(seed)
    return nn.Linear(in_features, out_features)


def batch(n=4, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=generator), torch.randn(n, 2, generator=generator)


def gradients(model, inputs, targets):
    """The gradient of the MSE loss of ``model`` on one batch, for every parameter."""
    loss = nn.functional.mse_loss(model(inputs), targets)
    return loss.item(), [g.detach() for g in torch.autograd.grad(loss, list(model.parameters()))]


# -- sgd_step ----------------------------------------------------------------------------
def test_sgd_step_matches_torch_sgd():
    model, twin = linear(3, 2), linear(3, 2)
    inputs, targets = batch()
    for m in (model, twin):
        nn.functional.mse_loss(m(inputs), targets).backward()
    result = sgd_step(model.parameters(), lr=0.1)
    torch.optim.SGD(twin.parameters(), lr=0.1).step()
    assert result is None, f"sgd_step should return None, but returned {type(result).__name__}"
    for (name, got), want in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(got, want, atol=1e-6), (
            f"after sgd_step, {name} differs from one step of torch.optim.SGD: update in place with "
            "p -= lr * p.grad inside torch.no_grad()")
        assert got.is_leaf and got.requires_grad, f"after sgd_step, {name} must still be a leaf that requires grad"


def test_sgd_step_skips_parameters_without_grad():
    with_grad = nn.Parameter(torch.tensor([1.0, 2.0]))
    without_grad = nn.Parameter(torch.tensor([3.0]))
    with_grad.grad = torch.tensor([1.0, -1.0])
    sgd_step([with_grad, without_grad], lr=0.5)
    assert torch.equal(without_grad.detach(), torch.tensor([3.0])), \
        "sgd_step changed a parameter whose grad is None; skip it"
    assert torch.allclose(with_grad.detach(), torch.tensor([0.5, 2.5])), \
        f"sgd_step should give [0.5, 2.5] for p = [1, 2], grad = [1, -1], lr = 0.5; got {with_grad.tolist()}"


# -- train_step --------------------------------------------------------------------------
def test_train_step_returns_the_loss_as_a_float():
    model = linear(3, 2)
    inputs, targets = batch()
    expected, _ = gradients(linear(3, 2), inputs, targets)
    got = train_step(model, (inputs, targets), nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1))
    assert type(got) is float, f"train_step should return a Python float (loss.item()), not {type(got).__name__}"
    assert math.isclose(got, expected, rel_tol=1e-5), \
        f"train_step returned {got}; expected the batch's loss before the update, {expected}"


@pytest.mark.parametrize("stale", [False, True], ids=["fresh_model", "gradients_left_over"])
def test_train_step_updates_with_this_batchs_gradient(stale):
    """One step must move every parameter by -lr * (this batch's gradient), even when an
    earlier backward pass left gradients in .grad."""
    model = linear(3, 2)
    inputs, targets = batch()
    _, grads = gradients(linear(3, 2), inputs, targets)
    expected = [p.detach() - 0.1 * g for p, g in zip(model.parameters(), grads)]
    if stale:
        other_inputs, other_targets = batch(seed=2)
        nn.functional.mse_loss(model(other_inputs), other_targets).backward()
    train_step(model, (inputs, targets), nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1))
    for (name, got), want in zip(model.named_parameters(), expected):
        assert torch.allclose(got.detach(), want, atol=1e-6), (
            f"after train_step, {name} is not p - lr * grad of this batch. Forgot zero_grad, or called "
            "optimizer.step() before loss.backward()? The order is: forward, loss, zero_grad, backward, step")


# -- train_epoch -------------------------------------------------------------------------
def test_train_epoch_returns_the_mean_loss_per_sample():
    """5 samples in batches of 2, 2 and 1; with lr = 0 the model does not change."""
    model = nn.Linear(1, 1)
    nn.init.constant_(model.weight, 1.0)
    nn.init.constant_(model.bias, 0.0)
    inputs = torch.zeros(5, 1)
    targets = torch.tensor([[1.0], [1.0], [2.0], [2.0], [4.0]])
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=2)
    got = train_epoch(model, loader, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.0))
    # batch losses 1, 4 and 16 over 2, 2 and 1 samples: (2 * 1 + 2 * 4 + 1 * 16) / 5 = 5.2
    assert type(got) is float, f"train_epoch should return a Python float, not {type(got).__name__}"
    assert math.isclose(got, 5.2, rel_tol=1e-6), (
        f"train_epoch returned {got}; expected the mean loss per sample, 5.2 (the mean of the three batch "
        "losses would be 7.0: weight each batch's loss by its size)")


def test_train_epoch_puts_the_model_in_training_mode():
    model = nn.Sequential(nn.Linear(1, 1), nn.Dropout(0.5))
    model.eval()
    loader = DataLoader(TensorDataset(torch.ones(4, 1), torch.ones(4, 1)), batch_size=2)
    train_epoch(model, loader, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.0))
    assert model.training, "train_epoch should call model.train() (the model was in evaluation mode)"


def test_train_epoch_fits_a_line():
    """The lecture's example: y = 3x + 2 + noise, 30 epochs of SGD."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, generator=generator) * 2 - 1
    y = 3 * x + 2 + 0.1 * torch.randn(64, 1, generator=generator)
    model = nn.Linear(1, 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    losses = [train_epoch(model, loader, nn.MSELoss(), optimizer) for _ in range(30)]
    assert losses[-1] < 0.05 * losses[0], f"the epoch loss should fall; it went from {losses[0]} to {losses[-1]}"
    assert abs(model.weight.item() - 3) < 0.1 and abs(model.bias.item() - 2) < 0.1, (
        f"after 30 epochs the model should be near y = 3x + 2; it learned weight {model.weight.item():.3f} "
        f"and bias {model.bias.item():.3f}")


# -- evaluate ----------------------------------------------------------------------------
def classifier():
    """Logits equal to the inputs: the prediction is the arg-max input feature."""
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.zero_()
    return model


def classification_loader():
    """4 samples, 3 classified right, in batches of 3 and 1."""
    inputs = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    return DataLoader(TensorDataset(inputs, torch.tensor([0, 1, 1, 1])), batch_size=3)


def test_evaluate_returns_the_mean_loss_and_the_accuracy():
    loader = classification_loader()
    inputs, targets = loader.dataset.tensors
    expected_loss = nn.functional.cross_entropy(inputs, targets).item()
    got = evaluate(classifier(), loader, nn.CrossEntropyLoss())
    assert isinstance(got, tuple) and len(got) == 2, "evaluate should return a tuple (mean loss, accuracy)"
    loss, accuracy = got
    assert type(loss) is float and type(accuracy) is float, "evaluate should return two Python floats"
    assert math.isclose(accuracy, 0.75), (
        f"evaluate returned the accuracy {accuracy}; expected 0.75 (3 of 4 samples right): a fraction in [0, 1] "
        "over all samples, not a percentage or a mean over batches")
    assert math.isclose(loss, expected_loss, rel_tol=1e-5), (
        f"evaluate returned the loss {loss}; expected the mean loss per sample, {expected_loss}, with dropout "
        "off (model.eval())")


@pytest.mark.parametrize("training", [True, False], ids=["from_training_mode", "from_eval_mode"])
def test_evaluate_leaves_the_mode_as_it_found_it(training):
    model = classifier()
    model.train(training)
    evaluate(model, classification_loader(), nn.CrossEntropyLoss())
    assert all(m.training is training for m in model.modules()), (
        f"the model was in {'training' if training else 'evaluation'} mode before evaluate and should be "
        "again afterwards: remember model.training and restore it with model.train(...)")


def test_evaluate_runs_without_autograd():
    model = classifier()
    grad_enabled = []
    model.register_forward_hook(lambda module, args, output: grad_enabled.append(torch.is_grad_enabled()))
    evaluate(model, classification_loader(), nn.CrossEntropyLoss())
    assert grad_enabled and not any(grad_enabled), \
        "evaluate should run the model inside `with torch.no_grad():` (no autograd graph)"
    assert torch.is_grad_enabled(), "autograd should be on again after evaluate"
