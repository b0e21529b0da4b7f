"""Public checks of assignment 5, ``mnist_cnn``: run ``pytest`` in your starter folder.

They need no download: the loader checks write a tiny fake MNIST (a few random images in
torchvision's raw file format) into a temporary folder. The one check that reads the real
MNIST runs only when the environment variable ``AUTOGRADER_MNIST_ROOT`` names a folder
holding ``MNIST/raw/``. Passing them is a good sign, not a guarantee: the grader runs more
(hidden) checks on the same tasks, and trains your ``Net`` on real MNIST.
"""

import os
import struct

import pytest
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from mnist_cnn import Net, make_loaders, mnist_transform, predict

MEAN, STD = 0.1307, 0.3081
SHAPES = {
    "conv1.weight": (10, 1, 5, 5), "conv1.bias": (10,),
    "conv2.weight": (20, 10, 5, 5), "conv2.bias": (20,),
    "fc1.weight": (50, 320), "fc1.bias": (50,),
    "fc2.weight": (10, 50), "fc2.bias": (10,),
}


def random_images(n, seed):
    """uint8 images ``[n, 28, 28]`` drawn from a fixed seed."""
    return torch.randint(0, 256, (n, 28, 28), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def normalized(images):
    """What ToTensor + Normalize((0.1307,), (0.3081,)) make of uint8 images: ``[n, 1, 28, 28]``."""
    return (images.float() / 255 - MEAN).div(STD).unsqueeze(1)


# -- mnist_transform ---------------------------------------------------------------------
def test_mnist_transform_maps_black_and_white():
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[14:] = 255
    x = mnist_transform()(Image.fromarray(image.numpy()))
    assert isinstance(x, torch.Tensor) and x.shape == (1, 28, 28) and x.dtype == torch.float32, \
        f"mnist_transform() of a 28x28 image should give a float32 tensor [1, 28, 28], got {x!r:.80}"
    black, white = (0 - MEAN) / STD, (1 - MEAN) / STD
    assert torch.allclose(x[0, :14], torch.full((14, 28), black), atol=1e-5), \
        f"black pixels (0) should become (0 - 0.1307) / 0.3081 = {black:.4f}, got {x[0, 0, 0].item():.4f}"
    assert torch.allclose(x[0, 14:], torch.full((14, 28), white), atol=1e-5), \
        f"white pixels (255) should become (1 - 0.1307) / 0.3081 = {white:.4f}, got {x[0, -1, -1].item():.4f}"


def test_mnist_transform_normalizes_every_pixel():
    image = random_images(1, seed=0)[0]
    x = mnist_transform()(Image.fromarray(image.numpy()))
    assert torch.allclose(x, normalized(image[None])[0], atol=1e-5), \
        "mnist_transform() should be ToTensor() (pixels / 255) followed by Normalize((0.1307,), (0.3081,))"


# -- make_loaders on a fake MNIST root ---------------------------------------------------
def write_idx(path, array):
    path.write_bytes(struct.pack(f">I{array.dim()}I", 0x0800 | array.dim(), *array.shape) + array.numpy().tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    """A torchvision MNIST root with 20 training and 12 test images (sorted training labels)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    data = {
        "train_images": random_images(20, seed=1), "train_labels": torch.arange(20, dtype=torch.uint8) // 2,
        "test_images": random_images(12, seed=2), "test_labels": torch.arange(12, dtype=torch.uint8) % 10,
    }
    write_idx(raw / "train-images-idx3-ubyte", data["train_images"])
    write_idx(raw / "train-labels-idx1-ubyte", data["train_labels"])
    write_idx(raw / "t10k-images-idx3-ubyte", data["test_images"])
    write_idx(raw / "t10k-labels-idx1-ubyte", data["test_labels"])
    return tmp_path, data


def test_make_loaders_returns_train_and_test_loaders(fake_mnist):
    root, _ = fake_mnist
    loaders = make_loaders(root, batch_size=4)
    assert isinstance(loaders, tuple) and len(loaders) == 2, "make_loaders should return (train_loader, test_loader)"
    train_loader, test_loader = loaders
    assert isinstance(train_loader, DataLoader) and isinstance(test_loader, DataLoader), \
        "both loaders should be torch.utils.data.DataLoader"
    assert train_loader.batch_size == 4 and test_loader.batch_size == 4, "pass batch_size to both DataLoaders"
    assert isinstance(train_loader.sampler, RandomSampler), "the training loader should shuffle (shuffle=True)"
    assert isinstance(test_loader.sampler, SequentialSampler), "the test loader should not shuffle (shuffle=False)"
    assert make_loaders(root)[0].batch_size == 64, "the default batch_size is 64"


def test_make_loaders_test_batches_are_normalized_and_in_order(fake_mnist):
    root, data = fake_mnist
    _, test_loader = make_loaders(root, batch_size=5)
    batches = list(test_loader)
    assert [len(x) for x, _ in batches] == [5, 5, 2], "12 test images in batches of 5 should give batches of 5, 5, 2"
    images = torch.cat([x for x, _ in batches])
    labels = torch.cat([y for _, y in batches])
    assert images.shape == (12, 1, 28, 28) and images.dtype == torch.float32, \
        f"the test images should be float32 [B, 1, 28, 28], got {images.dtype} {list(images.shape)}"
    expected = torch.stack([mnist_transform()(Image.fromarray(image.numpy())) for image in data["test_images"]])
    assert torch.allclose(images, expected, atol=1e-5), \
        "the test images should be the test split under root, in order, transformed by mnist_transform()"
    assert labels.dtype == torch.int64 and torch.equal(labels, data["test_labels"].long()), \
        "the test labels should be int64, in the order of the test split"


def test_make_loaders_train_loader_shuffles(fake_mnist):
    root, data = fake_mnist
    torch.manual_seed(0)
    train_loader, _ = make_loaders(root, batch_size=8)
    labels = torch.cat([y for _, y in train_loader])
    assert sorted(labels.tolist()) == sorted(data["train_labels"].tolist()), \
        "one pass over the training loader should give every training image once"
    assert not torch.equal(labels, data["train_labels"].long()), \
        "the training loader gives the images in file order: it should shuffle (shuffle=True)"


@pytest.mark.skipif(not os.environ.get("AUTOGRADER_MNIST_ROOT"), reason="AUTOGRADER_MNIST_ROOT is unset")
def test_make_loaders_on_real_mnist():
    train_loader, test_loader = make_loaders(os.environ["AUTOGRADER_MNIST_ROOT"], batch_size=32)
    assert len(test_loader.dataset) == 10_000, "the test loader should hold the 10,000 MNIST test images"
    images, labels = next(iter(test_loader))
    assert images.shape == (32, 1, 28, 28) and labels.shape == (32,)
    first = mnist_transform()(Image.fromarray(test_loader.dataset.data[0].numpy()))
    assert torch.allclose(images[0], first, atol=1e-5), "the test loader should use mnist_transform(), unshuffled"


# -- Net -----------------------------------------------------------------------------------
def test_net_has_21840_parameters():
    count = sum(p.numel() for p in Net().parameters())
    assert count == 21_840, f"Net should have 21,840 parameters, it has {count:,}"


def test_net_layers_have_the_specified_shapes():
    shapes = {name: tuple(p.shape) for name, p in Net().named_parameters()}
    assert shapes == SHAPES, (
        f"Net's parameters should be {SHAPES}, got {shapes}: conv1 = nn.Conv2d(1, 10, kernel_size=5), "
        "conv2 = nn.Conv2d(10, 20, kernel_size=5), fc1 = nn.Linear(320, 50), fc2 = nn.Linear(50, 10)")


@pytest.mark.parametrize("batch", [1, 3])
def test_net_outputs_logits(batch):
    out = Net()(torch.randn(batch, 1, 28, 28))
    assert isinstance(out, torch.Tensor) and out.shape == (batch, 10), \
        f"Net should map [{batch}, 1, 28, 28] images to [{batch}, 10] logits"


def test_net_forward_follows_the_specification():
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(4, 1, 28, 28)
    h = F.relu(F.max_pool2d(net.conv1(x), 2))
    h = F.relu(F.max_pool2d(net.conv2(h), 2)).flatten(1)
    expected = net.fc2(F.relu(net.fc1(h)))
    assert torch.allclose(net(x), expected, atol=1e-5), \
        "in evaluation mode Net should compute conv1 -> max-pool 2 -> ReLU -> conv2 -> max-pool 2 -> ReLU -> " \
        "flatten -> fc1 -> ReLU -> fc2 (dropout off), and return the logits"


def test_net_dropout_only_in_training_mode():
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(4, 1, 28, 28)
    net.eval()
    assert torch.equal(net(x), net(x)), "in evaluation mode Net should be deterministic (dropout off)"
    net.train()
    assert not torch.equal(net(x), net(x)), "in training mode Net should apply dropout"


# -- accuracy_threshold: a sanity check that Net can learn -----------------------------------
def easy_batch(n=50):
    """Ten easy classes: class k is a bright square at one of ten places, plus noise."""
    g = torch.Generator().manual_seed(21)
    labels = torch.arange(n) % 10
    images = torch.randn(n, 1, 28, 28, generator=g) * 0.3 - 0.4
    for i, k in enumerate(labels.tolist()):
        row, col = divmod(k, 5)
        images[i, 0, 2 + 12 * row: 10 + 12 * row, 1 + 5 * col: 9 + 5 * col] += 2.5
    return images, labels


def test_net_loss_drops_when_trained_on_easy_images():
    torch.manual_seed(0)
    net = Net().train()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.005)
    images, labels = easy_batch()
    losses = []
    for _ in range(12):
        loss = F.cross_entropy(net(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], (
        f"12 Adam steps on easy images should at least halve the loss; it went from {losses[0]:.3f} to "
        f"{losses[-1]:.3f}. Return logits (no softmax, no detach) so that the gradient reaches every layer")


# -- predict ----------------------------------------------------------------------------------
def small_model():
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))


def test_predict_returns_int64_labels_of_eval_mode():
    model, images = small_model(), torch.randn(64, 1, 28, 28)
    with torch.no_grad():
        expected = model.eval()(images).argmax(dim=1)
    model.train()
    labels = predict(model, images)
    assert isinstance(labels, torch.Tensor) and labels.dtype == torch.int64 and labels.shape == (64,), \
        "predict should return int64 labels of shape [B]"
    assert torch.equal(labels, expected), \
        "predict should return the arg-max of the logits computed in evaluation mode (call model.eval())"


def test_predict_runs_without_autograd():
    model, images = small_model(), torch.randn(5, 1, 28, 28)
    seen = []
    model[-1].register_forward_pre_hook(lambda module, args: seen.append(args[0].requires_grad))
    labels = predict(model, images)
    assert seen, "predict should run the model on the images"
    assert not labels.requires_grad and not any(seen), "predict should run the model under torch.no_grad()"
