"""The reference solutions meet the handout (shared/spec/handout.md).

Values and gradients are compared with PyTorch's own functions; behaviour
(modes, zeroed gradients, per-sample means, devices) is checked directly.
Run from the repository root: ``python -m pytest tests/test_solutions.py``.
"""

from __future__ import annotations

import ast
import collections
import math
import re
import tomllib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from solutions import activations, devices, linear, mnist_cnn, tensors, training

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = {
    "tensors": "01_tensors",
    "linear": "02_linear",
    "activations": "03_activations",
    "training": "04_training",
    "mnist_cnn": "05_mnist_cnn",
    "devices": "06_devices",
}
MODULES = {
    "tensors": tensors,
    "linear": linear,
    "activations": activations,
    "training": training,
    "mnist_cnn": mnist_cnn,
    "devices": devices,
}
DTYPES = [torch.float32, torch.float64]


def tol(dtype: torch.dtype) -> dict[str, float]:
    if dtype == torch.float32:
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 1e-10, "atol": 1e-12}


def assert_close(received: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert received.shape == expected.shape, (
        f"{what}: shape {received.shape}, expected {expected.shape}"
    )
    assert received.dtype == expected.dtype, (
        f"{what}: dtype {received.dtype}, expected {expected.dtype}"
    )
    torch.testing.assert_close(
        received, expected, **tol(expected.dtype), msg=lambda m: f"{what}: {m}"
    )


def vjp(
    fn, *inputs: torch.Tensor, upstream: torch.Tensor | None = None
) -> tuple[torch.Tensor, ...]:
    """Output and the vector-Jacobian product of ``fn`` with a random upstream gradient."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    if upstream is None:
        g = torch.Generator().manual_seed(7)
        upstream = torch.randn(out.shape, dtype=out.dtype, generator=g)
    grads = torch.autograd.grad(out, leaves, upstream)
    return (out.detach(), *grads)


# --------------------------------------------------------------------------- tensors


def test_to_tensor_from_list_infers_dtype() -> None:
    assert tensors.to_tensor([[1, 2], [3, 4]]).dtype == torch.int64
    t = tensors.to_tensor([1.5, 2.5])
    assert t.dtype == torch.float32 and t.tolist() == [1.5, 2.5]


def test_to_tensor_shares_memory_with_numpy() -> None:
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = tensors.to_tensor(a)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0 and t.dtype == torch.float64
    assert np.shares_memory(a, t.numpy())


def test_to_tensor_converts_dtype() -> None:
    assert tensors.to_tensor([1, 2], dtype=torch.float64).dtype == torch.float64
    t = tensors.to_tensor(np.zeros(3, dtype=np.float64), dtype=torch.float32)
    assert t.dtype == torch.float32


def test_describe_returns_plain_types() -> None:
    d = tensors.describe(torch.zeros(2, 3, dtype=torch.int64))
    assert d == {"shape": (2, 3), "dtype": "torch.int64", "device": "cpu"}
    assert type(d["shape"]) is tuple
    assert tensors.describe(torch.tensor(1.0))["shape"] == ()


def test_add_batch_dim_adds_leading_axis() -> None:
    x = torch.randn(3, 28, 28)
    y = tensors.add_batch_dim(x)
    assert y.shape == (1, 3, 28, 28) and torch.equal(y[0], x)


@pytest.mark.parametrize("batch", [0, 1, 5])
def test_flatten_images_any_batch(batch: int) -> None:
    x = torch.randn(batch, 3, 4, 5)
    y = tensors.flatten_images(x)
    assert y.shape == (batch, 60)
    assert torch.equal(y, x.reshape(batch, 60))


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
def test_normalize_per_channel(shape: tuple[int, ...]) -> None:
    x = torch.randn(shape, dtype=torch.float64)
    mean, std = [0.1, -0.2, 0.3], [0.5, 2.0, 1.5]
    expected = (x - torch.tensor(mean, dtype=torch.float64).view(3, 1, 1)) / torch.tensor(
        std, dtype=torch.float64
    ).view(3, 1, 1)
    assert_close(tensors.normalize(x, mean, std), expected, "normalize")


def test_normalize_matches_torchvision() -> None:
    from torchvision.transforms import functional as TF

    x = torch.rand(2, 3, 8, 8)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    assert_close(tensors.normalize(x, mean, std), TF.normalize(x, mean, std), "normalize")


@pytest.mark.parametrize("mean,std", [([0.5, 0.5], [1.0, 1.0, 1.0]), ([0.5] * 3, [1.0] * 4)])
def test_normalize_rejects_wrong_lengths(mean: list[float], std: list[float]) -> None:
    with pytest.raises(ValueError):
        tensors.normalize(torch.zeros(3, 2, 2), mean, std)


def test_one_hot_matches_pytorch() -> None:
    labels = torch.tensor([2, 0, 4, 4, 1])
    out = tensors.one_hot(labels, 5)
    assert out.dtype == torch.float32
    assert torch.equal(out, F.one_hot(labels, 5).float())
    assert tensors.one_hot(torch.zeros(0, dtype=torch.int64), 3).shape == (0, 3)


@pytest.mark.parametrize("bad", [-1, 5])
def test_one_hot_rejects_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        tensors.one_hot(torch.tensor([0, bad]), 5)


def test_predicted_labels_and_accuracy() -> None:
    logits = torch.tensor([[0.1, 0.9, 0.0], [2.0, -1.0, 0.5], [0.0, 0.1, 0.2], [1.0, 0.0, 3.0]])
    pred = tensors.predicted_labels(logits)
    assert pred.dtype == torch.int64 and pred.tolist() == [1, 0, 2, 2]
    acc = tensors.accuracy(logits, torch.tensor([1, 0, 0, 2]))
    assert type(acc) is float and acc == pytest.approx(0.75)


def test_safe_add_broadcasts() -> None:
    a, b = torch.randn(4, 1, 3), torch.randn(5, 1)
    assert torch.equal(tensors.safe_add(a, b), a + b)


def test_safe_add_names_both_shapes() -> None:
    with pytest.raises(ValueError) as info:
        tensors.safe_add(torch.zeros(4, 3), torch.zeros(4))
    message = str(info.value)
    assert "(4, 3)" in message and "(4,)" in message, message


# --------------------------------------------------------------------------- linear


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape", [(5,), (4, 5), (2, 3, 5), (0, 5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_forward_matches_F_linear(dtype, x_shape, with_bias) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(x_shape, dtype=dtype, generator=g)
    w = torch.randn(3, 5, dtype=dtype, generator=g)
    inputs = (x, w, torch.randn(3, dtype=dtype, generator=g)) if with_bias else (x, w)
    received = vjp(linear.linear_forward, *inputs)
    expected = vjp(F.linear, *inputs)
    for name, r, e in zip(["value", "grad x", "grad weight", "grad bias"], received, expected):
        assert_close(r, e, f"linear_forward {name}")


def test_linear_parameters_are_registered() -> None:
    layer = linear.Linear(7, 3)
    names = dict(layer.named_parameters())
    assert set(names) == {"weight", "bias"}
    assert isinstance(layer.weight, nn.Parameter) and isinstance(layer.bias, nn.Parameter)
    assert layer.weight.shape == (3, 7) and layer.bias.shape == (3,)
    no_bias = linear.Linear(7, 3, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]


def test_linear_init_is_uniform_in_bounds() -> None:
    torch.manual_seed(0)
    layer = linear.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert p.abs().max().item() <= bound
        assert p.max().item() > 0.9 * bound and p.min().item() < -0.9 * bound
    assert abs(layer.weight.mean().item()) < 0.05 * bound


def test_linear_forward_pass_matches_F_linear() -> None:
    layer = linear.Linear(6, 4)
    x = torch.randn(2, 3, 6)
    assert_close(layer(x), F.linear(x, layer.weight, layer.bias), "Linear.forward")
    layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.bias.grad is not None


def test_make_mlp_structure() -> None:
    mlp = linear.make_mlp([784, 128, 64, 10])
    kinds = [type(m) for m in mlp]
    assert kinds == [linear.Linear, nn.ReLU, linear.Linear, nn.ReLU, linear.Linear]
    assert [(m.in_features, m.out_features) for m in mlp if isinstance(m, linear.Linear)] == [
        (784, 128),
        (128, 64),
        (64, 10),
    ]
    assert mlp(torch.randn(2, 784)).shape == (2, 10)
    assert [type(m) for m in linear.make_mlp([4, 2])] == [linear.Linear]


@pytest.mark.parametrize("sizes", [[], [10]])
def test_make_mlp_rejects_fewer_than_two_sizes(sizes: list[int]) -> None:
    with pytest.raises(ValueError):
        linear.make_mlp(sizes)


# --------------------------------------------------------------------------- activations

ELEMENTWISE = {
    "sigmoid": (activations.sigmoid, torch.sigmoid),
    "tanh": (activations.tanh, torch.tanh),
    "relu": (activations.relu, torch.relu),
    "leaky_relu": (activations.leaky_relu, F.leaky_relu),
    "leaky_relu_0.2": (lambda x: activations.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    "elu": (activations.elu, F.elu),
    "elu_0.5": (lambda x: activations.elu(x, alpha=0.5), lambda x: F.elu(x, alpha=0.5)),
    "softmax": (activations.softmax, lambda x: F.softmax(x, dim=-1)),
    "softmax_dim0": (lambda x: activations.softmax(x, dim=0), lambda x: F.softmax(x, dim=0)),
    "log_softmax": (activations.log_softmax, lambda x: F.log_softmax(x, dim=-1)),
    "log_softmax_dim1": (
        lambda x: activations.log_softmax(x, dim=1),
        lambda x: F.log_softmax(x, dim=1),
    ),
}
SHAPES = [(), (7,), (3, 4, 5)]
CASES = [
    (name, shape)
    for name in sorted(ELEMENTWISE)
    for shape in SHAPES
    if not (name.endswith("dim1") and len(shape) < 2)  # dim=1 needs two axes
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,shape", CASES)
def test_activation_values_and_gradients_match_pytorch(name, shape, dtype) -> None:
    mine, ref = ELEMENTWISE[name]
    x = 3 * torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(3))
    received, expected = vjp(mine, x), vjp(ref, x)
    assert_close(received[0], expected[0], f"{name} value")
    assert_close(received[1], expected[1], f"{name} gradient")


LARGE = torch.tensor(
    [[-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4], [1e4, 1e4, -1e4, -1e4, 0.0, 3.0, -3.0]]
)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_activation_finite_for_large_inputs(name) -> None:
    mine, ref = ELEMENTWISE[name]
    out, grad = vjp(mine, LARGE, upstream=torch.ones_like(LARGE))
    assert torch.isfinite(out).all(), f"{name} output {out}"
    assert torch.isfinite(grad).all(), f"{name} gradient {grad}"
    torch.testing.assert_close(out, ref(LARGE), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_gradient_at_zero_matches_pytorch(name, dtype) -> None:
    mine, ref = ELEMENTWISE[name]
    x = torch.zeros(4, dtype=dtype)
    up = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=dtype)
    assert_close(vjp(mine, x, upstream=up)[1], vjp(ref, x, upstream=up)[1], f"{name} gradient at 0")


def test_sigmoid_and_tanh_known_values() -> None:
    x = torch.tensor(0.0, requires_grad=True)
    activations.sigmoid(x).backward()
    assert x.grad.item() == pytest.approx(0.25)
    tiny = torch.tensor([1e-8, -1e-8])
    torch.testing.assert_close(activations.tanh(tiny), torch.tanh(tiny), rtol=1e-6, atol=0.0)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_rows_sum_to_one(dim: int) -> None:
    x = 100 * torch.randn(4, 5, 6)
    sums = activations.softmax(x, dim=dim).sum(dim=dim)
    torch.testing.assert_close(sums, torch.ones_like(sums))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_loss_matches_pytorch(dtype) -> None:
    g = torch.Generator().manual_seed(4)
    pred = torch.randn(3, 5, dtype=dtype, generator=g)
    target = torch.randn(3, 5, dtype=dtype, generator=g)
    received, expected = vjp(activations.mse_loss, pred, target), vjp(F.mse_loss, pred, target)
    for name, r, e in zip(["value", "grad pred", "grad target"], received, expected):
        assert_close(r, e, f"mse_loss {name}")
    assert received[0].dim() == 0


def clamped_bce(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(probs.clamp(1e-7, 1 - 1e-7), target)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_matches_pytorch(dtype) -> None:
    g = torch.Generator().manual_seed(5)
    probs = torch.rand(4, 6, dtype=dtype, generator=g)
    probs[0, :3] = torch.tensor([0.0, 1.0, 0.5], dtype=dtype)
    target = torch.randint(0, 2, (4, 6), generator=g).to(dtype)
    received = vjp(lambda p: activations.binary_cross_entropy(p, target), probs)
    expected = vjp(lambda p: clamped_bce(p, target), probs)
    assert received[0].dim() == 0
    assert_close(received[0], expected[0], "binary_cross_entropy value")
    assert_close(received[1], expected[1], "binary_cross_entropy gradient")
    assert torch.isfinite(received[1]).all()


def test_binary_cross_entropy_finite_at_confident_mistakes() -> None:
    loss = activations.binary_cross_entropy(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))
    assert torch.isfinite(loss) and loss.item() > 10


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [1, 8])
def test_cross_entropy_matches_pytorch(dtype, batch) -> None:
    g = torch.Generator().manual_seed(6)
    logits = 4 * torch.randn(batch, 10, dtype=dtype, generator=g)
    labels = torch.randint(0, 10, (batch,), generator=g)
    received = vjp(lambda z: activations.cross_entropy(z, labels), logits)
    expected = vjp(lambda z: F.cross_entropy(z, labels), logits)
    assert received[0].dim() == 0
    assert_close(received[0], expected[0], "cross_entropy value")
    assert_close(received[1], expected[1], "cross_entropy gradient")


def test_cross_entropy_finite_for_large_logits() -> None:
    labels = torch.tensor([0, 6])
    out, grad = vjp(lambda z: activations.cross_entropy(z, labels), LARGE)
    assert torch.isfinite(out) and torch.isfinite(grad).all()
    torch.testing.assert_close(out, F.cross_entropy(LARGE, labels))


# --------------------------------------------------------------------------- training


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))


def tiny_batches(sizes: list[int], seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)) for n in sizes]


def test_sgd_step_equals_torch_sgd() -> None:
    mine, ref = tiny_model(), tiny_model()
    x, y = tiny_batches([5])[0]
    for model in (mine, ref):
        model.eval()
        F.cross_entropy(model(x), y).backward()
    frozen = next(mine.parameters())
    frozen.grad = None
    next(ref.parameters()).grad = None
    result = training.sgd_step(mine.parameters(), lr=0.1)  # a generator
    torch.optim.SGD(ref.parameters(), lr=0.1).step()
    assert result is None
    for (name, p), q in zip(mine.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, msg=f"parameter {name}")
        assert p.is_leaf and p.grad_fn is None


def test_train_step_returns_float_and_steps() -> None:
    mine, ref = tiny_model(), tiny_model()
    mine.eval(), ref.eval()
    x, y = tiny_batches([6])[0]
    optimizer = torch.optim.SGD(mine.parameters(), lr=0.5)
    loss = training.train_step(mine, (x, y), F.cross_entropy, optimizer)
    assert type(loss) is float
    expected = F.cross_entropy(ref(x), y)
    assert loss == pytest.approx(expected.item())
    expected.backward()
    torch.optim.SGD(ref.parameters(), lr=0.5).step()
    for p, q in zip(mine.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)


def test_train_step_zeroes_gradients() -> None:
    model = tiny_model()
    model.eval()
    batch = tiny_batches([6])[0]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # parameters stay put
    for p in model.parameters():
        p.grad = torch.full_like(p, 100.0)  # stale gradients must not leak in
    training.train_step(model, batch, F.cross_entropy, optimizer)
    first = [p.grad.clone() for p in model.parameters()]
    training.train_step(model, batch, F.cross_entropy, optimizer)
    for g1, p in zip(first, model.parameters()):
        torch.testing.assert_close(p.grad, g1)
    model.zero_grad()
    F.cross_entropy(model(batch[0]), batch[1]).backward()
    for g1, p in zip(first, model.parameters()):
        torch.testing.assert_close(p.grad, g1)


def test_train_epoch_mean_per_sample_and_train_mode() -> None:
    model = tiny_model()
    model.eval()
    batches = tiny_batches([3, 1])  # unequal sizes: per-sample mean differs from per-batch mean
    modes = []
    model.register_forward_hook(lambda m, i, o: modes.append(m.training))
    model[2].p = 0.0  # no dropout noise, so the losses are reproducible
    with torch.no_grad():
        losses = [F.cross_entropy(model(x), y).item() for x, y in batches]
    modes.clear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    result = training.train_epoch(model, batches, F.cross_entropy, optimizer)
    assert type(result) is float
    assert result == pytest.approx((3 * losses[0] + 1 * losses[1]) / 4)
    assert result != pytest.approx(sum(losses) / 2)
    assert modes == [True, True] and model.training


def test_evaluate_per_sample_mean_accuracy_and_mode() -> None:
    model = tiny_model()
    batches = tiny_batches([5, 2, 1])
    model.eval()
    with torch.no_grad():
        outputs = [(model(x), y) for x, y in batches]
    n = sum(len(y) for _, y in outputs)
    expected_loss = sum(F.cross_entropy(o, y).item() * len(y) for o, y in outputs) / n
    expected_acc = sum((o.argmax(1) == y).sum().item() for o, y in outputs) / n
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append((m.training, torch.is_grad_enabled())))
    for start_training in (True, False):
        model.train(start_training)
        seen.clear()
        loss, acc = training.evaluate(model, batches, F.cross_entropy)
        assert type(loss) is float and type(acc) is float
        assert loss == pytest.approx(expected_loss) and acc == pytest.approx(expected_acc)
        assert seen == [(False, False)] * 3
        assert model.training is start_training


# --------------------------------------------------------------------------- mnist_cnn


def test_mnist_transform_is_to_tensor_then_normalize() -> None:
    from PIL import Image
    from torchvision import transforms

    t = mnist_cnn.mnist_transform()
    assert isinstance(t, transforms.Compose)
    assert [type(s) for s in t.transforms] == [transforms.ToTensor, transforms.Normalize]
    norm = t.transforms[1]
    assert tuple(norm.mean) == (0.1307,) and tuple(norm.std) == (0.3081,)
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    out = t(Image.fromarray(pixels))
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32
    expected = (torch.from_numpy(pixels).float() / 255 - 0.1307) / 0.3081
    torch.testing.assert_close(out[0], expected)


def test_net_has_the_handout_layers_and_parameter_count() -> None:
    net = mnist_cnn.Net()
    assert sum(p.numel() for p in net.parameters()) == 21_840
    assert isinstance(net.conv1, nn.Conv2d) and net.conv1.weight.shape == (10, 1, 5, 5)
    assert isinstance(net.conv2, nn.Conv2d) and net.conv2.weight.shape == (20, 10, 5, 5)
    assert net.fc1.weight.shape == (50, 320) and net.fc2.weight.shape == (10, 50)


@pytest.mark.parametrize("batch", [1, 3])
def test_net_outputs_logits(batch: int) -> None:
    net = mnist_cnn.Net()
    assert net(torch.randn(batch, 1, 28, 28)).shape == (batch, 10)


def test_net_matches_functional_forward_in_eval_mode() -> None:
    net = mnist_cnn.Net().eval()
    x = torch.randn(2, 1, 28, 28)
    h = F.relu(F.max_pool2d(net.conv1(x), 2))
    h = F.relu(F.max_pool2d(net.conv2(h), 2)).flatten(1)
    expected = net.fc2(F.relu(net.fc1(h)))
    torch.testing.assert_close(net(x), expected)


def test_net_dropout_only_in_training_mode() -> None:
    torch.manual_seed(0)
    net = mnist_cnn.Net()
    x = torch.randn(4, 1, 28, 28)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


def test_predict_eval_mode_int64_and_restores_mode() -> None:
    net = mnist_cnn.Net()
    x = torch.randn(5, 1, 28, 28)
    for start_training in (True, False):
        net.train(start_training)
        labels = mnist_cnn.predict(net, x)
        assert labels.dtype == torch.int64 and labels.shape == (5,) and not labels.requires_grad
        assert net.training is start_training
    with torch.no_grad():
        assert torch.equal(labels, net.eval()(x).argmax(1))


def test_make_loaders_on_offline_mnist(tmp_path) -> None:
    from torch.utils.data import RandomSampler, SequentialSampler

    from autograder.checks.mnist_data import write_torchvision_root

    # a torchvision root built from the slice shipped with the grader (3,000 + 2,000 images)
    train, test = mnist_cnn.make_loaders(str(write_torchvision_root(tmp_path)), batch_size=32)
    assert isinstance(train.sampler, RandomSampler) and isinstance(test.sampler, SequentialSampler)
    assert train.batch_size == 32 and test.batch_size == 32
    assert len(test.dataset) == 2_000 and len(train.dataset) == 3_000
    images, labels = next(iter(test))
    assert images.shape == (32, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert images.min().item() < -0.4 and images.max().item() > 2.7  # normalised, not in [0, 1]


# --------------------------------------------------------------------------- devices


@pytest.fixture
def fake_accelerators(monkeypatch):
    def set_available(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_available


@pytest.mark.parametrize(
    "prefer,cuda,mps,expected",
    [
        (None, False, False, "cpu"),
        (None, True, True, "cuda"),
        (None, False, True, "mps"),
        ("cpu", True, True, "cpu"),
        ("cuda", True, False, "cuda"),
        ("cuda", False, True, "mps"),
        ("cuda", False, False, "cpu"),
        ("mps", True, True, "mps"),
        ("mps", True, False, "cuda"),
        ("mps", False, False, "cpu"),
    ],
)
def test_get_device_preference_and_fallback(fake_accelerators, prefer, cuda, mps, expected) -> None:
    fake_accelerators(cuda, mps)
    device = devices.get_device(prefer)
    assert isinstance(device, torch.device) and device.type == expected


@pytest.mark.parametrize("name", ["gpu", "cuda:0", "CPU", "tpu", ""])
def test_get_device_rejects_unknown_names(name: str) -> None:
    with pytest.raises(ValueError):
        devices.get_device(name)


class Pair(NamedTuple):
    x: torch.Tensor
    extra: object


def test_to_device_tensor_and_containers() -> None:
    meta = torch.device("meta")
    assert devices.to_device(torch.zeros(2), meta).device == meta
    batch = {
        "pair": Pair(torch.zeros(2), [torch.ones(1), "label", 3]),
        "tuple": (torch.zeros(1), None),
        "ordered": collections.OrderedDict(b=torch.zeros(1), a=1.5),
    }
    moved = devices.to_device(batch, "meta")
    assert type(moved) is dict and list(moved) == ["pair", "tuple", "ordered"]
    pair = moved["pair"]
    assert type(pair) is Pair and pair.x.device == meta
    assert type(pair.extra) is list and pair.extra[0].device == meta
    assert pair.extra[1:] == ["label", 3]
    plain = moved["tuple"]
    assert type(plain) is tuple and plain[0].device == meta and plain[1] is None
    ordered = moved["ordered"]
    assert type(ordered) is collections.OrderedDict and list(ordered) == ["b", "a"]
    assert ordered["b"].device == meta and ordered["a"] == 1.5
    assert batch["pair"].x.device.type == "cpu"  # the input is not modified


def test_to_device_module_and_other_objects() -> None:
    model = nn.Linear(3, 2)
    assert devices.to_device(model, "meta") is model and model.weight.device.type == "meta"
    marker = object()
    for obj in (marker, "text", 3, None):
        assert devices.to_device(obj, "meta") is obj


def test_model_device() -> None:
    model = nn.Linear(3, 2)
    assert devices.model_device(model) == torch.device("cpu")
    assert devices.model_device(model.to("meta")).type == "meta"
    assert devices.model_device(nn.ReLU()) == torch.device("cpu")


def test_to_numpy_detaches_and_copies_to_cpu() -> None:
    t = torch.randn(3, 2, requires_grad=True)
    a = devices.to_numpy(t * 2)
    assert isinstance(a, np.ndarray) and a.shape == (3, 2)
    np.testing.assert_allclose(a, (t * 2).detach().numpy())
    if torch.cuda.is_available():
        np.testing.assert_allclose(devices.to_numpy(t.cuda() * 2), a)


# --------------------------------------------------------------------------- source structure


def load_config(module: str) -> dict:
    with open(REPO / "assignments" / ASSIGNMENTS[module] / "config.toml", "rb") as f:
        return tomllib.load(f)


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name for every import in ``tree``."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                aliases[a.asname or top] = a.name if a.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([aliases.get(node.id, node.id), *reversed(parts)])


def forbidden_uses(node: ast.AST, aliases: dict[str, str], banned: list[str]) -> list[str]:
    found = []
    for sub in ast.walk(node):
        names = []
        if isinstance(sub, (ast.Attribute, ast.Name)):
            names.append(dotted(sub, aliases))
        if isinstance(sub, ast.Import):
            names += [a.name for a in sub.names]
        if isinstance(sub, ast.ImportFrom) and sub.module:
            names += [f"{sub.module}.{a.name}" for a in sub.names]
        for entry in banned:
            if entry.startswith("."):
                if isinstance(sub, ast.Attribute) and sub.attr == entry[1:]:
                    found.append(entry)
            elif any(n and (n == entry or n.startswith(entry + ".")) for n in names):
                found.append(entry)
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_config_lists_every_task_and_sums_to_100(module: str) -> None:
    config = load_config(module)
    assert config["assignment"]["module"] == module
    assert sum(t["points"] for t in config["tasks"].values()) == 100
    public = set(MODULES[module].__all__)
    extra = {"accuracy_threshold"} if module == "mnist_cnn" else set()
    assert set(config["tasks"]) == public | extra


@pytest.mark.parametrize("module", sorted(MODULES))
def test_solutions_avoid_not_allowed_names(module: str) -> None:
    tree = ast.parse(Path(MODULES[module].__file__).read_text())
    aliases = import_aliases(tree)
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for task, spec in load_config(module)["tasks"].items():
        if task in top:
            bad = forbidden_uses(top[task], aliases, spec.get("not_allowed", []))
            assert not bad, f"{module}.{task} uses not-allowed {bad}"


def test_forbidden_uses_detects_aliases_and_methods() -> None:
    code = (
        "import torch.nn.functional as F\n"
        "from torch import sigmoid as s\n"
        "def f(x):\n"
        "    return F.relu(s(x)).tanh()\n"
    )
    tree = ast.parse(code)
    banned = ["torch.nn.functional", "torch.sigmoid", ".tanh", "torch.relu"]
    assert sorted(set(forbidden_uses(tree.body[2], import_aliases(tree), banned))) == sorted(
        ["torch.nn.functional", "torch.sigmoid", ".tanh"]
    )


REGION = re.compile(r"^(\s*)### (BEGIN|END) SOLUTION\s*$")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_solution_regions_make_valid_stubs(module: str) -> None:
    """Every public name holds a region after its docstring; stubbing the regions compiles."""
    source = Path(MODULES[module].__file__).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    assert ast.get_docstring(tree), "module docstring"
    regions, open_at = [], None
    for i, line in enumerate(lines, start=1):
        m = REGION.match(line)
        if m and m.group(2) == "BEGIN":
            assert open_at is None, f"nested region at line {i}"
            open_at = (i, m.group(1))
        elif m:
            assert open_at is not None and open_at[1] == m.group(1), f"unmatched END at line {i}"
            regions.append((open_at[0], i, open_at[1]))
            open_at = None
    assert open_at is None, "unclosed region"

    public = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    names = [n.name for n in public]
    assert names == list(MODULES[module].__all__), "public names in __all__ order"
    for node in public:
        assert ast.get_docstring(node), f"{node.name} docstring"
        bodies = [node] if isinstance(node, ast.FunctionDef) else [
            m for m in node.body if isinstance(m, ast.FunctionDef)
        ]
        for fn in bodies:
            # a region's END comment follows the body's last statement, so match on BEGIN
            inside = [r for r in regions if fn.lineno < r[0] <= fn.end_lineno]
            assert inside, f"{node.name}.{fn.name} has no solution region"
            assert fn.body[0].end_lineno < inside[0][0], (
                f"{fn.name}: docstring must precede the region"
            )

    stub, i = [], 0
    while i < len(lines):
        region = next((r for r in regions if r[0] == i + 1), None)
        if region:
            stub.append(f'{region[2]}raise NotImplementedError("{module}: stub")')
            i = region[1]
        else:
            stub.append(lines[i])
            i += 1
    compile("\n".join(stub), f"stub of {module}", "exec")
