"""Hidden checks of assignment 5, ``mnist_cnn``: the transform, the loaders (on a small fake
MNIST written into the student's folder), the network's architecture and forward pass
(against the reference ``Net`` loaded with the student's weights), its accuracy after
training with the grader's budget, and ``predict`` (on a stock model built in the worker).

The real MNIST data never enters the worker except the training images and the test
*images* of the accuracy check; the test labels stay in the grader.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from solutions import mnist_cnn as ref

from autograder.checks.api import describe_value, expect_tensor, fail
from autograder.checks.mnist_data import (Budget, NotTrainable, RemoteTrainer, normalize, one_thread,
                                          predict_labels, train)
from autograder.sandbox.client import Ref, SandboxError, StudentError

M = "mnist_cnn"
SHAPES = {
    "conv1.weight": (10, 1, 5, 5), "conv1.bias": (10,),
    "conv2.weight": (20, 10, 5, 5), "conv2.bias": (20,),
    "fc1.weight": (50, 320), "fc1.bias": (50,),
    "fc2.weight": (10, 50), "fc2.bias": (10,),
}
LAYERS = {"conv1": "nn.Conv2d(1, 10, kernel_size=5)", "conv2": "nn.Conv2d(10, 20, kernel_size=5)",
          "fc1": "nn.Linear(320, 50)", "fc2": "nn.Linear(50, 10)"}
NUM_PARAMETERS = 21_840
FORWARD_HINT = ("conv1 -> max-pool 2 -> ReLU -> conv2 -> max-pool 2 -> ReLU -> flatten -> fc1 -> ReLU -> "
                "dropout -> fc2, returning the logits (no softmax at the end)")
DATALOADER = "torch.utils.data.dataloader.DataLoader"
FAKE_ROOT = "fake_mnist"          # the name of the folder shared with the student's code (FakeMnist)


@pytest.fixture(autouse=True)
def _one_thread(student):
    """Every check of this module runs PyTorch on one thread, in the grader and in the
    worker, as the reference is trained: the accuracy check then repeats the reference's
    numbers exactly, and the small tensors here gain nothing from more threads (on a busy
    machine, a second OpenMP thread makes each small operation up to 100 times slower)."""
    with one_thread():
        try:
            student.call("torch.set_num_threads", 1)
            yield
        finally:
            try:
                student.call("torch.set_num_threads", student.threads)
            except SandboxError:
                pass


def _images(n: int, seed: int) -> torch.Tensor:
    """uint8 ``[n, 28, 28]`` pictures: random pixels between a black top and a white bottom."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
    images[:, :4] = 0
    images[:, -3:] = 255
    return images


# -- mnist_transform ---------------------------------------------------------------------
def _transform(student) -> Ref:
    t = student.call(f"{M}.mnist_transform")
    if not isinstance(t, Ref) or not student.describe(t).get("callable"):
        fail(f"mnist_transform() should return a transform (a callable such as transforms.Compose), "
             f"but returned {describe_value(t)}.")
    return t


def _apply(student, transform: Ref, image: torch.Tensor):
    """``transform(PIL image)`` in the worker, the image built there from a uint8 array."""
    pil = student.call("PIL.Image.fromarray", image.numpy(), keep=True)
    return transform(pil)


@pytest.mark.task(f"{M}.mnist_transform")
@pytest.mark.public
def test_mnist_transform_black_and_white_pixels(student):
    t = _transform(student)
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[14:] = 255
    want = ref.mnist_transform()(Image.fromarray(image.numpy()))
    expect_tensor(_apply(student, t, image), want, what="mnist_transform() of an image half 0, half 255",
                  hint="ToTensor() maps 0..255 to [0, 1]; then Normalize((0.1307,), (0.3081,)) computes "
                       "(x - 0.1307) / 0.3081: black becomes -0.4242, white 2.8215")


@pytest.mark.task(f"{M}.mnist_transform")
@pytest.mark.weight(2)
def test_mnist_transform_matches_reference(student):
    t = _transform(student)
    for image in _images(3, seed=5):
        want = ref.mnist_transform()(Image.fromarray(image.numpy()))
        expect_tensor(_apply(student, t, image), want, what="mnist_transform() of a 28x28 greyscale image",
                      hint="transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])"
                           ": a float32 tensor [1, 28, 28]")


# -- make_loaders on a fake MNIST root ----------------------------------------------------
def _write_idx(path: Path, array: torch.Tensor) -> None:
    magic = 0x0800 | array.dim()
    path.write_bytes(struct.pack(f">I{array.dim()}I", magic, *array.shape) + array.numpy().tobytes())


class FakeMnist:
    """A torchvision MNIST root with a few images (raw IDX files), in a folder shared with
    the student's code (:meth:`Student.shared_folder`); ``root`` is its path there."""

    def __init__(self, student, n_train: int = 40, n_test: int = 24):
        self.student = student
        self.root = ""
        self.train_images = _images(n_train, seed=11)
        self.train_labels = torch.arange(n_train, dtype=torch.uint8) * 10 // n_train   # sorted: 0, 0, 0, 0, 1, ...
        self.test_images = _images(n_test, seed=12)
        self.test_labels = torch.randint(0, 10, (n_test,), generator=torch.Generator().manual_seed(13),
                                         dtype=torch.uint8)

    def __enter__(self) -> "FakeMnist":
        self._shared = self.student.shared_folder(FAKE_ROOT)
        folder, self.root = self._shared.__enter__()
        raw = folder / "MNIST" / "raw"
        raw.mkdir(parents=True)
        _write_idx(raw / "train-images-idx3-ubyte", self.train_images)
        _write_idx(raw / "train-labels-idx1-ubyte", self.train_labels)
        _write_idx(raw / "t10k-images-idx3-ubyte", self.test_images)
        _write_idx(raw / "t10k-labels-idx1-ubyte", self.test_labels)
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return self

    def __exit__(self, *exc) -> None:
        self._shared.__exit__(*exc)


def _loaders(student, fake: FakeMnist, *args, **kwargs) -> tuple[Ref, Ref]:
    got = student.call(f"{M}.make_loaders", fake.root, *args, **kwargs)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"make_loaders should return a tuple (train_loader, test_loader), but returned {describe_value(got)}.")
    for name, loader in zip(("train_loader", "test_loader"), got):
        kind = loader.type_name if isinstance(loader, Ref) else describe_value(loader)
        if kind != DATALOADER:
            fail(f"make_loaders should return two torch.utils.data.DataLoader, but its {name} is {kind}.")
    return got[0], got[1]


def _epoch(student, loader: Ref, what: str, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every batch of one pass over ``loader`` (one round trip), checked and concatenated."""
    batches = student.call("builtins.list", loader)
    images, labels = [], []
    for batch in batches:
        if not isinstance(batch, (list, tuple)) or len(batch) != 2 or \
                not all(isinstance(v, torch.Tensor) for v in batch):
            fail(f"each batch of the {what} should be (images, labels) tensors, but one is {describe_value(batch)}.",
                 hint="use transform=mnist_transform() so that the dataset yields tensors")
        x, y = batch
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28) or x.dtype != torch.float32:
            fail(f"the images of a batch of the {what} should be float32 [B, 1, 28, 28], but are "
                 f"{describe_value(x, shape=True)}.")
        if y.dtype != torch.int64 or tuple(y.shape) != (len(x),):
            fail(f"the labels of a batch of the {what} should be int64 [B], but are {describe_value(y, shape=True)}.")
        images.append(x)
        labels.append(y)
    sizes = [len(x) for x in images]
    total = sum(sizes)
    want = [batch_size] * (total // batch_size) + ([total % batch_size] if total % batch_size else [])
    if sizes != want:
        fail(f"the {what} should give batches of batch_size images (the last one may be smaller), but its "
             "batches have other sizes.", hint="pass batch_size=batch_size to both DataLoaders",
             detail=f"batch_size={batch_size}, batches of {sizes}")
    if not images:
        fail(f"the {what} gave no batch at all.")
    return torch.cat(images), torch.cat(labels)


def _expected_images(student, fake: FakeMnist, train: bool) -> list[torch.Tensor]:
    """The images as the loaders should give them: the reference transform's, and the
    student's own ``mnist_transform()``'s when it works (a transform bug is that task's)."""
    raw = fake.train_images if train else fake.test_images
    options = [normalize(raw)]
    try:
        transform = student.call(f"{M}.mnist_transform")
        dataset = student.call("torchvision.datasets.MNIST", fake.root, train=train, transform=transform,
                               keep=True)
        items = student.call("builtins.list", dataset)
        own = torch.stack([item[0] for item in items])
        if own.shape == options[0].shape and own.dtype == torch.float32:
            options.append(own)
    except (StudentError, TypeError, IndexError, RuntimeError):
        pass
    return options


def _match(got: torch.Tensor, options: list[torch.Tensor]) -> torch.Tensor | None:
    """For each image of ``got``, its index among the expected images, or None if any is unknown."""
    for expected in options:
        distance = torch.cdist(got.flatten(1).double(), expected.flatten(1).double())
        best, index = distance.min(dim=1)
        if bool((best < 1e-3).all()):
            return index
    return None


def _expect_no_dropped_batch(images: torch.Tensor, index: torch.Tensor | None, total: int, batch_size: int,
                             what: str) -> None:
    """Name a loader that leaves out the last, incomplete batch (``drop_last=True``): its
    images are all distinct images of the split, and exactly that many are missing."""
    remainder = total % batch_size
    if remainder and len(images) == total - remainder and index is not None and \
            len(set(index.tolist())) == len(images):
        fail(f"one pass over the {what} left out the last, incomplete batch: every image of the split should "
             "come once per epoch.", hint="leave drop_last at its default, False",
             detail=f"{len(images)} of {total} images, batch size {batch_size}")


@pytest.mark.task(f"{M}.make_loaders")
@pytest.mark.public
def test_make_loaders_returns_two_dataloaders_with_batch_size(student):
    with FakeMnist(student) as fake:
        train_loader, test_loader = _loaders(student, fake, batch_size=16)
        for name, loader in (("training", train_loader), ("test", test_loader)):
            size = loader.attr("batch_size")
            if size != 16:
                fail(f"make_loaders(root, batch_size=16): the {name} loader has batch_size {size!r}; expected 16.",
                     hint="pass batch_size=batch_size to both DataLoaders")
        train_loader, test_loader = _loaders(student, fake)
        for name, loader in (("training", train_loader), ("test", test_loader)):
            size = loader.attr("batch_size")
            if size != 64:
                fail(f"make_loaders(root): the {name} loader has batch_size {size!r}; expected the default 64.")


@pytest.mark.task(f"{M}.make_loaders")
@pytest.mark.weight(2)
def test_make_loaders_test_loader_keeps_the_test_split_in_order(student):
    with FakeMnist(student) as fake:
        _, test_loader = _loaders(student, fake, batch_size=10)
        images, labels = _epoch(student, test_loader, "test loader", 10)
        _expect_no_dropped_batch(images, _match(images, _expected_images(student, fake, train=False)),
                                 len(fake.test_images), 10, "test loader")
        if len(images) != len(fake.test_images):
            fail(f"one pass over the test loader gave {'more' if len(images) > len(fake.test_images) else 'fewer'} "
                 "images than the test split under root holds.",
                 hint="the test loader reads datasets.MNIST(root, train=False, ...)",
                 detail=f"{len(images)} images, the test split holds {len(fake.test_images)}")
        options = _expected_images(student, fake, train=False)
        index = _match(images, options)
        if index is None:
            fail("the test loader's images are not the test images under root transformed by mnist_transform().",
                 hint="build both datasets with transform=mnist_transform()")
        if not torch.equal(index, torch.arange(len(images))):
            fail("the test loader gives the test images in another order than the dataset's: it should not "
                 "shuffle.", hint="DataLoader(test_set, batch_size=batch_size, shuffle=False)")
        expect_tensor(labels, fake.test_labels.long(), what="the test loader's labels")


@pytest.mark.task(f"{M}.make_loaders")
@pytest.mark.weight(2)
def test_make_loaders_train_loader_shuffles_the_training_split(student):
    with FakeMnist(student) as fake:
        student.module(M)
        student.seed(0)
        train_loader, _ = _loaders(student, fake, batch_size=16)
        options = _expected_images(student, fake, train=True)
        orders = []
        for epoch in (1, 2):
            images, labels = _epoch(student, train_loader, "training loader", 16)
            index = _match(images, options)
            _expect_no_dropped_batch(images, index, len(fake.train_images), 16, "training loader")
            if len(images) != len(fake.train_images) or index is None or \
                    sorted(index.tolist()) != list(range(len(fake.train_images))):
                fail("one pass over the training loader should give every training image under root once, "
                     "transformed by mnist_transform(); it does not.",
                     hint="the training loader reads datasets.MNIST(root, train=True, transform=mnist_transform())")
            if not torch.equal(labels, fake.train_labels.long()[index]):
                fail("the training loader's labels do not belong to its images.")
            orders.append(index)
        if torch.equal(orders[0], torch.arange(len(orders[0]))):
            fail("the training loader gives the images in the dataset's order: it should shuffle them.",
                 hint="DataLoader(train_set, batch_size=batch_size, shuffle=True)")
        if torch.equal(orders[0], orders[1]):
            fail("the training loader gives the same order in every epoch: it should reshuffle each epoch.",
                 hint="shuffle=True draws a new order every time the loader is iterated")


# -- Net: architecture and forward pass ---------------------------------------------------
def _net(student, seed: int = 0) -> Ref:
    student.module(M)
    student.seed(seed)
    return student.construct(f"{M}.Net")


def _parameters(student, net: Ref) -> dict:
    """Every name of each of ``net``'s parameters (see ``Student.parameters(every_name=True)``):
    the layers may also be reachable by other paths (``self.block1 = nn.Sequential(self.conv1,
    ...)``), in either order of assignment."""
    return student.parameters(net, every_name=True)


def _architecture_problem(params: dict) -> str | None:
    shapes = {name: tuple(p["value"].shape) for name, p in params.items()}
    for layer, spec in LAYERS.items():
        for kind in ("weight", "bias"):
            name = f"{layer}.{kind}"
            if name not in shapes:
                return (f"Net has no parameter {name}: it needs an attribute {layer} = {spec} "
                        f"(with exactly this name)")
            if shapes[name] != SHAPES[name]:
                return (f"Net.{name} has shape {list(shapes[name])}; expected {list(SHAPES[name])} "
                        f"for {layer} = {spec}")
    specified = {params[name]["object"] for name in SHAPES}
    extra = sorted(name for name, p in params.items() if p["object"] not in specified)
    if extra:
        return f"Net has parameters beyond conv1, conv2, fc1 and fc2: {', '.join(extra)}"
    return None


def _reference_with_weights(student, net: Ref) -> nn.Module:
    """The reference ``Net`` holding the student's parameters (in evaluation mode)."""
    params = _parameters(student, net)
    problem = _architecture_problem(params)
    if problem:
        fail(f"the forward pass cannot be compared with the specification: {problem}.")
    twin = ref.Net()
    twin.load_state_dict({name: params[name]["value"].detach() for name in SHAPES})
    return twin.eval()


def _inputs(batch: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.task(f"{M}.Net")
@pytest.mark.public
def test_net_has_21840_parameters(student):
    info = student.describe(_net(student))
    if info.get("num_parameters") != NUM_PARAMETERS:
        fail(f"Net() has {info.get('num_parameters')} parameters; the specified network has 21,840.",
             hint="conv1 260 + conv2 5,020 + fc1 16,050 + fc2 510 parameters")


@pytest.mark.task(f"{M}.Net")
@pytest.mark.weight(2)
def test_net_layers_have_the_specified_shapes(student):
    params = _parameters(student, _net(student))
    problem = _architecture_problem(params)
    if problem:
        fail(f"{problem}.", hint="conv1 = nn.Conv2d(1, 10, kernel_size=5), conv2 = nn.Conv2d(10, 20, kernel_size=5), "
                                 "fc1 = nn.Linear(320, 50), fc2 = nn.Linear(50, 10)")
    for name, p in params.items():
        if not p["is_parameter"] or not p["value"].requires_grad:
            fail(f"Net.{name} should be a trainable nn.Parameter.")


@pytest.mark.task(f"{M}.Net")
@pytest.mark.public
@pytest.mark.parametrize("batch", [1, 2, 7])
def test_net_outputs_logits_for_any_batch_size(student, batch):
    net = _net(student)
    for mode in (True, False):
        net.method("train", mode)
        out = net(_inputs(batch, seed=batch))
        what = f"Net in {'training' if mode else 'evaluation'} mode, for a batch of {batch} images"
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (batch, 10) or out.dtype != torch.float32:
            fail(f"{what}, should return float32 logits of shape [{batch}, 10], but returned {describe_value(out, shape=True)}.",
                 hint="flatten with torch.flatten(x, 1) or x.view(x.size(0), -1), never a fixed batch size")


@pytest.mark.task(f"{M}.Net")
@pytest.mark.weight(3)
def test_net_forward_matches_specification_with_same_weights(student):
    net = _net(student, seed=3)
    twin = _reference_with_weights(student, net)
    x = _inputs(6, seed=4)
    net.method("eval")
    got = net(x)
    with torch.no_grad():
        want = twin(x)
    if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype:
        # A normalisation at the end (pytorch/examples ends in log_softmax): say what was seen.
        for words, normalised in (("softmax", torch.softmax(want, dim=1)), ("log_softmax", torch.log_softmax(want, dim=1))):
            if not torch.allclose(want, normalised, rtol=1e-4, atol=1e-5) and \
                    torch.allclose(got, normalised, rtol=1e-4, atol=1e-5):
                fail(f"Net in evaluation mode returns the {words} of the specified logits, not the logits "
                     "themselves.", hint=f"return the output of fc2 as it is, without {words} at the end: the "
                                         "cross-entropy loss applies log-softmax itself")
    expect_tensor(got, want, what="Net in evaluation mode (compared with the specified forward pass, same weights)",
                  rtol=1e-4, atol=1e-5, hint=FORWARD_HINT)


def _observable_weights(student, net: Ref, seed: int) -> nn.Module | None:
    """Give the student's ``net`` the reference's initial weights for ``seed``, so that a
    behaviour check does not depend on the student's own initialisation (weights that make
    fc1's activations vanish hide any dropout); returns the reference ``Net`` holding the
    same weights (in evaluation mode), or None when the parameters do not fit."""
    params = _parameters(student, net)
    if _architecture_problem(params) is not None:
        return None
    with torch.random.fork_rng(devices=[]):     # the grader's own random state stays as it was
        torch.manual_seed(seed)
        twin = ref.Net().eval()
    state = {name: value.detach().clone() for name, value in twin.state_dict().items() if name in params}
    try:
        net.method("load_state_dict", state, strict=False)
    except StudentError:
        return None
    return twin


def _dropout_misplaced(student, net: Ref, twin: nn.Module, x: torch.Tensor) -> str | None:
    """Where the training-mode forward pass of ``net`` (holding ``twin``'s weights, the
    worker seeded) departs from the specified one, in which dropout acts on fc1's ReLU
    outputs alone: what fc1 receives must be what it receives in evaluation mode; what fc2
    receives, fc1's ReLU outputs each either zeroed or scaled by one common factor (any
    p); the output, fc2 of that. None when it does not, or when the layers are not called
    as modules (nothing to observe: the other checks grade the forward pass)."""
    record = student.call("builtins.dict", keep=True)
    layers = {name: student.getattr((net, name), keep=True) for name in ("fc1", "fc2")}
    for layer in layers.values():
        layer.method("register_forward_pre_hook", record.attr("__setitem__", keep=True))
    out = net(x)
    try:
        fc1_in, fc2_in = (record.method("__getitem__", layer)[0] for layer in layers.values())
    except (StudentError, IndexError, TypeError):
        return None
    if not all(isinstance(t, torch.Tensor) for t in (out, fc1_in, fc2_in)):
        return None
    seen: dict = {}                # what fc1 receives in the reference's own forward pass
    hook = twin.fc1.register_forward_pre_hook(lambda module, args: seen.setdefault("fc1", args[0]))
    try:
        with torch.no_grad():
            twin(x)
    finally:
        hook.remove()
    h = seen["fc1"]
    with torch.no_grad():
        relu_fc1 = torch.relu(twin.fc1(h))
        if tuple(fc1_in.shape) != tuple(h.shape) or not torch.allclose(fc1_in.detach(), h, rtol=1e-4, atol=1e-5):
            return "what fc1 receives differs from evaluation mode: dropout (or something else random) acts before fc1"
        fc2_in = fc2_in.detach()
        if tuple(fc2_in.shape) != tuple(relu_fc1.shape):
            return None
        clear = (fc2_in.abs() > 1e-3) & (relu_fc1 > 1e-3)          # kept, away from rounding
        if not bool(clear.any()):
            return None
        scale = (fc2_in[clear] / relu_fc1[clear]).median()
        dropped = fc2_in.abs() <= 1e-5
        scaled = torch.isclose(fc2_in, scale * relu_fc1, rtol=1e-3, atol=1e-5)
        if not bool((dropped | scaled).all()) or float(scale) < 1 - 1e-4:
            return ("what fc2 receives is not fc1's ReLU outputs with some of them zeroed by dropout (and the rest "
                    "scaled by 1 / (1 - p))")
        if tuple(out.shape) != (len(x), 10) or not torch.allclose(out.detach(), twin.fc2(fc2_in), rtol=1e-4, atol=1e-5):
            return "the output is not fc2 of what fc2 receives: dropout (or something else) acts after fc2"
    return None


@pytest.mark.task(f"{M}.Net")
@pytest.mark.weight(2)
def test_net_dropout_only_in_training_mode(student):
    net = _net(student, seed=5)
    # With these weights and inputs about half of fc1's ReLU outputs are positive, so
    # dropout changes the output whenever it is active.
    twin = _observable_weights(student, net, seed=5)
    known = twin is not None
    x = _inputs(8, seed=6)
    net.method("eval")
    first, second = net(x), net(x)
    for out in (first, second):
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (8, 10):
            fail(f"Net in evaluation mode returned {describe_value(out, shape=True)}; expected logits of shape [B, 10].",
                 detail="a batch of 8 images")
    if not torch.equal(first, second):
        fail("Net in evaluation mode gave different outputs for the same input: dropout must be off in "
             "evaluation mode.", hint="use an nn.Dropout(0.5) attribute, or F.dropout(x, 0.5, training=self.training)")
    net.method("train", True)
    student.seed(7)
    first, second = net(x), net(x)
    if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and torch.equal(first, second):
        state = ("with the specified layers holding weights under which fc1's activations are not all zero"
                 if known else "with its own weights")
        fail(f"Net in training mode gave the same output twice for the same input ({state}): dropout must be "
             "active in training mode.", hint="apply dropout (p=0.5) after the ReLU of fc1, e.g. nn.Dropout(0.5) "
                                              "or F.dropout(x, 0.5, training=self.training)")
    if known:
        student.seed(8)
        problem = _dropout_misplaced(student, net, twin, x)
        if problem:
            fail(f"Net in training mode does not apply dropout where the specification does (between the ReLU "
                 f"of fc1 and fc2, and nowhere else): {problem}.", detail="a batch of 8 images, the specified "
                 "layers holding the same weights in both passes",
                 hint="fc1 -> ReLU -> dropout -> fc2, with one dropout: no Dropout2d after conv2, nothing after fc2")


# -- accuracy_threshold -------------------------------------------------------------------
def _trainer(student, budget: Budget, images: torch.Tensor) -> RemoteTrainer:
    """The student's ``Net``, built right after seeding the worker, with Adam, ready to train.

    A throwaway ``Net`` first shows that the output has the shape of logits (before the
    seed, so that the real run is untouched)."""
    student.module(M)
    out = student.construct(f"{M}.Net")(images[:2])
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 10):
        fail(f"the grader could not train your Net: for a batch of 2 images it returned {describe_value(out, shape=True)}; "
             "expected logits of shape [2, 10].", hint=FORWARD_HINT)
    student.seed(budget.seed)
    return RemoteTrainer(student, student.construct(f"{M}.Net"), budget.lr)


def _train(trainer: RemoteTrainer, images, labels, budget: Budget) -> list[float]:
    try:
        return train(trainer, images, labels, budget)
    except NotTrainable as exc:
        fail(f"the grader could not train your Net: {exc}.",
             hint="return the logits of fc2 without detaching them (no .detach(), .item(), torch.tensor(...) "
                  "or .data in forward), so that the loss's gradient reaches every layer")


def _toy_batch(n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten easy classes: class k is a bright 8x8 square at one of ten places, plus noise."""
    g = torch.Generator().manual_seed(21)
    labels = torch.arange(n) % 10
    images = torch.randn(n, 1, 28, 28, generator=g) * 0.3 - 0.4
    for i, k in enumerate(labels.tolist()):
        row, col = divmod(k, 5)
        images[i, 0, 2 + 12 * row: 10 + 12 * row, 1 + 5 * col: 9 + 5 * col] += 2.5
    return images, labels


@pytest.mark.task(f"{M}.accuracy_threshold")
@pytest.mark.public
def test_net_loss_drops_when_trained_on_easy_images(student):
    budget = Budget(epochs=12, batch_size=50, lr=0.005, seed=0, margin=0.0)
    images, labels = _toy_batch()
    losses = _train(_trainer(student, budget, images), images, labels, budget)
    if not losses[-1] < 0.5 * losses[0]:
        fail(f"training Net with Adam (lr 0.005) for {budget.epochs} steps on a batch of easy images should "
             f"at least halve the cross-entropy (the reference's falls to about a tenth); it went from "
             f"{losses[0]:.3f} to {losses[-1]:.3f}.",
             hint=FORWARD_HINT)


@pytest.mark.task(f"{M}.accuracy_threshold")
@pytest.mark.weight(4)
def test_net_reaches_the_reference_accuracy(student, grading):
    data = grading.data
    if "reference_accuracy" not in data:
        raise RuntimeError("the MNIST data were not prepared (autograder.checks.mnist_data.prepare_mnist)")
    budget: Budget = data["budget"]
    trainer = _trainer(student, budget, data["train_images"])
    losses = _train(trainer, data["train_images"], data["train_labels"], budget)
    try:
        predicted = predict_labels(trainer, data["test_images"])
    except NotTrainable as exc:
        fail(f"the grader could not evaluate your trained Net: {exc}.", hint=FORWARD_HINT)
    accuracy = float((predicted == data["test_labels"]).to(torch.float64).mean())
    reference = data["reference_accuracy"]
    required = reference - budget.margin
    if accuracy < required:
        epochs = f"{budget.epochs} epoch{'s' if budget.epochs != 1 else ''}"
        fail(f"trained from scratch with the grader's budget ({epochs} of Adam, lr {budget.lr:g}, batches of "
             f"{budget.batch_size}, {len(data['train_images'])} training images), your Net reaches {accuracy:.1%} "
             f"accuracy on {len(predicted)} held-out test images; at least {required:.1%} is required (the "
             f"reference Net reaches {reference:.1%}, minus a margin of {budget.margin:.0%}).",
             hint=FORWARD_HINT + "; dropout only in training mode",
             detail=f"training loss, first/last step: student {losses[0]:.4f}/{losses[-1]:.4f}, reference "
                    f"{data['reference_losses'][0]:.4f}/{data['reference_losses'][-1]:.4f}")


# -- predict --------------------------------------------------------------------------------
def _model(student, seed: int, batchnorm: bool):
    """A small classifier built in the worker from stock layers, and its twin in the grader.

    With ``batchnorm`` it holds a BatchNorm1d (its running statistics change when it runs in
    training mode) and a Dropout (its output is random in training mode), and a record of
    the input of its last layer (to tell whether autograd was on).
    """
    layers = [("torch.nn.Flatten", ()), ("torch.nn.Linear", (784, 32))]
    if batchnorm:
        layers += [("torch.nn.BatchNorm1d", (32,)), ("torch.nn.ReLU", ()), ("torch.nn.Dropout", (0.5,))]
    else:
        layers += [("torch.nn.ReLU", ())]
    layers += [("torch.nn.Linear", (32, 10))]
    student.module(M)
    student.seed(seed)
    modules = [student.call(path, *args, keep=True) for path, args in layers]
    model = student.call("torch.nn.Sequential", *modules, keep=True)
    record = student.call("builtins.dict", keep=True)
    modules[-1].method("register_forward_pre_hook", record.attr("__setitem__", keep=True))
    twin = nn.Sequential(nn.Flatten(), nn.Linear(784, 32),
                         *([nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5)] if batchnorm else [nn.ReLU()]),
                         nn.Linear(32, 10))
    twin.load_state_dict({k: v["value"] for k, v in student.parameters(model).items()}, strict=False)
    return model, twin.eval(), record


def _predict(student, model, images) -> torch.Tensor:
    got = student.call(f"{M}.predict", model, images)
    if not isinstance(got, torch.Tensor):
        fail(f"predict should return a tensor of labels, but returned {describe_value(got)}.")
    if got.dtype != torch.int64 or tuple(got.shape) != (len(images),):
        fail(f"predict for a batch of {len(images)} images should return int64 labels of shape [{len(images)}], "
             f"but returned {describe_value(got, shape=True)}.", hint="logits.argmax(dim=1)")
    return got


@pytest.mark.task(f"{M}.predict")
@pytest.mark.public
@pytest.mark.parametrize("batch", [1, 5])
def test_predict_returns_the_argmax_labels(student, batch):
    model, twin, _ = _model(student, seed=31, batchnorm=False)
    images = _inputs(batch, seed=32)
    with torch.no_grad():
        want = twin(images).argmax(dim=1)
    expect_tensor(_predict(student, model, images), want, what=f"predict(model, images) for {batch} image(s)",
                  hint="the arg-max of each row of the logits: model(images).argmax(dim=1)")


@pytest.mark.task(f"{M}.predict")
@pytest.mark.weight(3)
@pytest.mark.parametrize("start_training", [True, False], ids=["from_training_mode", "from_eval_mode"])
def test_predict_runs_in_evaluation_mode(student, start_training):
    model, twin, _ = _model(student, seed=33, batchnorm=True)
    model.method("train", start_training)
    images = _inputs(64, seed=34)
    got = _predict(student, model, images)
    stats = {k: v["value"] for k, v in student.parameters(model).items()}   # parameters unchanged?
    running = model.method("__getitem__", 2, keep=True).attr("running_mean")
    if not torch.equal(running, torch.zeros(32)):
        fail("predict ran the model in training mode (its batch-norm statistics changed).",
             hint="call model.eval() before the forward pass")
    for name, value in stats.items():
        if not torch.equal(value, twin.state_dict()[name]):
            fail("predict changed the model's parameters.")
    with torch.no_grad():
        want = twin(images).argmax(dim=1)
    expect_tensor(got, want, what="predict(model, images) (the model has dropout and batch norm)",
                  hint="call model.eval() before the forward pass, so that dropout is off")


@pytest.mark.task(f"{M}.predict")
@pytest.mark.weight(2)
def test_predict_runs_without_autograd(student):
    model, _, record = _model(student, seed=35, batchnorm=True)
    model.method("eval")
    got = _predict(student, model, _inputs(6, seed=36))
    if got.requires_grad:
        fail("predict returned a tensor that requires grad.", hint="compute it under torch.no_grad()")
    seen = student.describe(record)
    inputs = [item for value in seen.get("values", {}).values() for item in value.get("items", [])]
    if not inputs:
        fail("predict did not run the model's forward pass (model(images)).")
    if any(item.get("requires_grad") for item in inputs):
        fail("predict ran the model with autograd on: it built a computation graph that is never used.",
             hint="wrap the forward pass in `with torch.no_grad():` (or torch.inference_mode())")

