"""MNIST for the ``mnist_cnn`` checks, prepared once per grading run in the grader.

The data: by default the slice shipped inside the package (``autograder/data/mnist/``:
the 3,000 training and 2,000 test images the accuracy check grades on, gzip-compressed
IDX files with their checksums in ``manifest.json``; see ``autograder/data/PROVENANCE.md``),
so grading is offline, needs no setting and gives the same numbers on every machine.
``--mnist-root`` (or ``AUTOGRADER_MNIST_ROOT``) points at a torchvision MNIST root
instead (a larger or different set, the full MNIST); the images are then drawn from it by
the seed. The shipped slice is exactly what that draw gives from its source root with
the default seed, so both give the same numbers there.

:func:`prepare_mnist` loads a fixed-seed subset of the training images and of the
held-out test images (normalised exactly like ``mnist_transform``: ``ToTensor`` then
``Normalize((0.1307,), (0.3081,))``), trains the *reference* ``Net`` from scratch with the
assignment's budget (``[accuracy]`` of its ``config.toml``) and measures its accuracy on
the test images. The ``accuracy_threshold`` check then trains the student's ``Net`` with
the very same procedure, :func:`train`, driving the student's worker step by step
through the bridge (:class:`RemoteTrainer`); only the grader ever sees the test labels.
It costs about a second of one core and is needed only when some student handed in
``mnist_cnn``: call it only then (nothing here runs at import).

The training procedure is fully determined by the seed: the initial weights
(``torch.manual_seed(seed)`` just before ``Net()``), the dropout masks (the same global
generator, used only by the forward passes), the training subset and the order of the
mini-batches (a separate generator, shared with the check as index lists). Adam with the
configured learning rate, mean cross-entropy, ``len(train) / batch_size`` steps per epoch
(the last batch may be smaller, as with a ``DataLoader``).

One step is ``zero_grad``, forward and backward, ``step``. The forward pass is
``log_softmax(net(x))`` and the backward pass starts from ``d loss / d log_softmax``,
which for the mean cross-entropy is ``-one_hot(y) / B``: the same gradients as
``F.cross_entropy(net(x), y).backward()``, computed in a single round trip to the worker.

Both sides compute on one thread (:func:`one_thread`, and the checks set the worker's
thread count): the reference submission then repeats the grader's losses bit for bit and
reaches exactly ``reference_accuracy``, whatever the machine's core count.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import struct
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.nn import functional as F

from ..config import AccuracyConfig, AssignmentConfig
from ..errors import AutograderError

__all__ = ["MEAN", "STD", "SLICE", "ENV_ROOT", "Budget", "Trainer", "LocalTrainer", "RemoteTrainer",
           "normalize", "load_split", "load_slice", "write_torchvision_root", "idx_bytes", "batch_order", "train",
           "predict_labels", "prepare_mnist", "one_thread", "NotTrainable", "ENV_CACHE", "machine_cache"]

MEAN, STD = 0.1307, 0.3081
SLICE = Path(__file__).resolve().parent.parent / "data" / "mnist"   # the shipped slice (package data)
ENV_ROOT = "AUTOGRADER_MNIST_ROOT"
ENV_CACHE = "AUTOGRADER_CACHE_DIR"
MACHINE_CACHE_FILE = "mnist-reference.json"
RAW_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
NUM_CLASSES = 10
EVAL_CHUNK = 1000          # test images per forward pass when predicting


@dataclass(frozen=True)
class Budget:
    """What a training run is allowed: the config's ``[accuracy]`` with the run's seed applied."""

    epochs: int
    batch_size: int
    lr: float
    seed: int
    margin: float

    @classmethod
    def from_config(cls, accuracy: AccuracyConfig, run_seed: int = 0) -> "Budget":
        return cls(epochs=accuracy.epochs, batch_size=accuracy.batch_size, lr=float(accuracy.lr),
                   seed=accuracy.seed + run_seed, margin=float(accuracy.margin))


# -- data --------------------------------------------------------------------------------
def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` to float32 ``[N, 1, 28, 28]``, as ``ToTensor`` + ``Normalize`` do."""
    x = images.to(torch.float32).div(255).unsqueeze(1)
    return x.sub_(MEAN).div_(STD)


def _resolve_root(root: Path | None) -> Path | None:
    """The torchvision root to read: ``root``, else ``$AUTOGRADER_MNIST_ROOT``; None means
    the shipped slice."""
    if root is None:
        root = os.environ.get(ENV_ROOT) or None
    return Path(root).expanduser() if root is not None else None


# -- the shipped slice -------------------------------------------------------------------
def idx_bytes(array: torch.Tensor) -> bytes:
    """``array`` (uint8, any number of dimensions) in MNIST's IDX format."""
    if array.dtype != torch.uint8:
        raise ValueError(f"IDX files here hold uint8 only, not {array.dtype}")
    header = struct.pack(f">I{array.dim()}I", 0x0800 | array.dim(), *array.shape)
    return header + array.contiguous().numpy().tobytes()


def _parse_idx(data: bytes, what: str) -> torch.Tensor:
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise AutograderError(f"{what} is not a uint8 IDX file")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    if len(body) != int(torch.tensor(shape).prod()):
        raise AutograderError(f"{what}: {len(body)} bytes of data for shape {list(shape)}")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(shape)


def load_slice(folder: Path = SLICE) -> dict[str, torch.Tensor]:
    """The shipped slice: ``train_images``/``test_images`` uint8 ``[N, 28, 28]`` and
    ``train_labels``/``test_labels`` int64 ``[N]``, each file checked against the SHA-256
    in ``manifest.json`` (a damaged or edited installation is an ``AutograderError``)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        out = {}
        for key, name in RAW_FILES.items():
            data = gzip.decompress((folder / f"{name}.gz").read_bytes())
            if hashlib.sha256(data).hexdigest() != manifest["sha256"][name]:
                raise AutograderError(f"{folder / name}.gz does not match its SHA-256 in {folder / 'manifest.json'}")
            out[key] = _parse_idx(data, str(folder / f"{name}.gz"))
    except (OSError, ValueError, KeyError, EOFError, gzip.BadGzipFile) as exc:
        raise AutograderError(
            f"the MNIST slice shipped with the grader ({folder}) cannot be read ({type(exc).__name__}: {exc}); "
            f"reinstall the package, or point --mnist-root (or {ENV_ROOT}) at a torchvision MNIST root") from None
    out["train_labels"] = out["train_labels"].to(torch.int64)
    out["test_labels"] = out["test_labels"].to(torch.int64)
    return out


def write_torchvision_root(folder: Path, source: Path = SLICE) -> Path:
    """Write the shipped slice as a torchvision MNIST root: ``folder/MNIST/raw/`` with the
    four IDX files, which ``torchvision.datasets.MNIST(folder, train=..., download=False)``
    reads (3,000 training and 2,000 test images). Returns ``folder``."""
    data = load_slice(source)
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for key, name in RAW_FILES.items():
        array = data[key] if key.endswith("images") else data[key].to(torch.uint8)
        (raw / name).write_bytes(idx_bytes(array))
    return folder


def load_split(root: Path, train: bool, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images ``[N, 28, 28]`` and int64 labels ``[N]`` of one MNIST split under ``root``.

    With ``download`` torchvision fetches the files that are missing (nothing when all
    four are there, so a read-only folder is fine)."""
    from torchvision import datasets

    split = "training" if train else "test"
    try:
        dataset = datasets.MNIST(str(root), train=train, download=download)
    except Exception as exc:  # RuntimeError (missing), URLError/OSError (no internet), bad files
        reason = " ".join(str(exc).split())[:300]
        raise AutograderError(
            f"MNIST ({split} split) is not under {root}"
            f"{' and could not be downloaded there' if download else ''} ({type(exc).__name__}: {reason}). "
            f"Point --mnist-root (or the environment variable {ENV_ROOT}) at a folder holding MNIST/raw/ "
            "with the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)."
        ) from None
    return dataset.data, dataset.targets.to(torch.int64)


def _subset(n_total: int, n: int, seed: int, what: str, where: Path | str) -> torch.Tensor:
    """``n`` of ``n_total`` indices drawn by ``seed``, in increasing order."""
    if n < 1:
        raise AutograderError(f"[accuracy] {what} must be at least 1 (got {n})")
    if n > n_total:
        raise AutograderError(f"[accuracy] {what} = {n}, but {where} holds only {n_total} such images")
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=generator)[:n].sort().values


def batch_order(n: int, budget: Budget) -> list[torch.Tensor]:
    """The index tensor of every training step: a fresh permutation per epoch, cut into batches."""
    generator = torch.Generator().manual_seed(budget.seed + 1)
    steps = []
    for _ in range(budget.epochs):
        steps.extend(torch.randperm(n, generator=generator).split(budget.batch_size))
    return steps


# -- training ----------------------------------------------------------------------------
class Trainer(Protocol):
    """One model and its optimizer, wherever they live."""

    def zero_grad(self) -> None: ...

    def forward_backward(self, images: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
        """``out = log_softmax(model(images), dim=1)``; ``out.backward(upstream)``; return ``out``."""

    def step(self) -> None: ...

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of ``images`` in evaluation mode, without autograd."""


def train(trainer: Trainer, images: torch.Tensor, labels: torch.Tensor, budget: Budget) -> list[float]:
    """Train with ``budget`` (Adam already built by ``trainer``); returns the loss of every step."""
    losses = []
    for index in batch_order(len(images), budget):
        x, y = images[index], labels[index]
        upstream = F.one_hot(y, NUM_CLASSES).to(torch.float32).div_(-len(y))
        trainer.zero_grad()
        log_probs = trainer.forward_backward(x, upstream)
        trainer.step()
        losses.append(float(-log_probs.gather(1, y[:, None]).mean()))
    return losses


def predict_labels(trainer: Trainer, images: torch.Tensor) -> torch.Tensor:
    """Arg-max labels of ``images`` (in chunks of ``EVAL_CHUNK``)."""
    return torch.cat([trainer.predict(chunk).argmax(dim=1) for chunk in images.split(EVAL_CHUNK)])


class LocalTrainer:
    """A model and its Adam optimizer in this process (the reference)."""

    def __init__(self, model: torch.nn.Module, lr: float):
        self.model = model
        self.wrapped = torch.nn.Sequential(model, torch.nn.LogSoftmax(dim=1))
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def forward_backward(self, images: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
        out = self.wrapped(images)
        out.backward(upstream)
        return out.detach()

    def step(self) -> None:
        self.optimizer.step()

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return self.model(images)
        finally:
            self.model.train(was_training)


class NotTrainable(Exception):
    """The student's model cannot be trained (its output is not a usable tensor)."""


class RemoteTrainer:
    """The same steps on a model in a student's worker: 3 round trips per step.

    ``net`` is a Ref to the student's ``Net`` (built right after ``student.seed(seed)``);
    the optimizer is ``torch.optim.Adam`` built in the worker; each step sends the batch
    (data) and the upstream gradient, never a ready-made training loop.
    """

    def __init__(self, student: Any, net: Any, lr: float):
        self.student = student          # the check's Student
        self.net = net
        log_softmax = student.construct("torch.nn.LogSoftmax", dim=1)
        self.wrapped = student.construct("torch.nn.Sequential", net, log_softmax)
        params = net.method("parameters", keep=True)
        self.optimizer = student.construct("torch.optim.Adam", params, lr=lr)
        net.method("train", True)

    def zero_grad(self) -> None:
        self.optimizer.method("zero_grad")

    def forward_backward(self, images: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
        result = self.student.grad(self.wrapped, [images], [], upstream)
        info, out = result["info"], result["output"]
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(upstream.shape):
            shape = list(out.shape) if isinstance(out, torch.Tensor) else None
            raise NotTrainable(f"Net returned {info.get('type')} of shape {shape} for a batch of "
                               f"{len(images)} images; expected logits of shape {list(upstream.shape)}")
        if not info.get("requires_grad"):
            raise NotTrainable("the output of Net is not connected to its parameters (it does not require "
                               "grad), so no gradient reaches them and it cannot learn")
        return out

    def step(self) -> None:
        self.optimizer.method("step")

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        self.net.method("eval")
        self.student.call("torch.set_grad_enabled", False)
        try:
            out = self.net(images)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(images), NUM_CLASSES):
                shape = list(out.shape) if isinstance(out, torch.Tensor) else None
                raise NotTrainable(f"in evaluation mode, Net returned an object of shape {shape} for a batch of "
                                   f"{len(images)} images; expected logits of shape [{len(images)}, {NUM_CLASSES}]")
            return out
        finally:
            self.student.call("torch.set_grad_enabled", True)
            self.net.method("train", True)


# -- the run's data ----------------------------------------------------------------------
def prepare_mnist(root: Path | None, config: AssignmentConfig, seed: int, cache: Path | None = None) -> dict:
    """Load the data and train the reference ``Net`` once per grading run (about a second
    of one core): call it only when ``mnist_cnn`` is graded for at least one student who
    handed it in, before the grading processes fork (it runs PyTorch, on one thread).

    ``root``: a torchvision MNIST root (``--mnist-root``); None means the environment
    variable ``AUTOGRADER_MNIST_ROOT`` when it is set and not empty, else the slice shipped
    with the grader (offline, no setting, the same numbers on every machine). From a
    root, files missing there are downloaded where there is internet; otherwise
    ``AutograderError`` says how to point the grader at the data. The images are drawn by
    the seed (``[accuracy] seed`` + ``seed``): ``train_images`` of the training split and
    ``test_images`` of the test split, each subset in the data's order; the shipped slice
    holds exactly the default draw, so it gives what its source root gives.

    Returns ``train_images`` float32 ``[N, 1, 28, 28]``, ``train_labels`` int64 ``[N]``,
    ``test_images``, ``test_labels`` (grader only), ``budget`` (a :class:`Budget`),
    ``reference_accuracy`` (float in [0, 1]), ``reference_losses``, ``reference_seconds``
    (of the training that computed them), ``reference_key`` (see :func:`reference_key`)
    and ``source`` (where the images came from, for the record). The reference is
    trained only when its key is not cached yet: in this process, in the JSON file
    ``cache`` (the grading run passes one in its output folder), or in this machine's
    cache (:func:`machine_cache`); a result found or computed is written to both files.
    """
    with one_thread():
        return _prepare(root, config, seed, cache)


def _prepare(root: Path | None, config: AssignmentConfig, seed: int, cache: Path | None) -> dict:
    if config.accuracy is None:
        raise AutograderError(f"{config.source}: missing table [accuracy]")
    budget = Budget.from_config(config.accuracy, seed)
    if budget.epochs < 1 or budget.batch_size < 1 or not budget.lr > 0:
        raise AutograderError(f"{config.source}: [accuracy] needs epochs >= 1, batch_size >= 1 and lr > 0")
    folder = _resolve_root(root)
    if folder is None:
        shipped = load_slice()
        train_raw, train_labels = shipped["train_images"], shipped["train_labels"]
        test_raw, test_labels = shipped["test_images"], shipped["test_labels"]
        where = (f"the MNIST slice shipped with the grader (use --mnist-root or {ENV_ROOT} "
                 "for a larger set)")
        source = "shipped slice"
    else:
        train_raw, train_labels = load_split(folder, True)
        test_raw, test_labels = load_split(folder, False)
        where, source = str(folder), str(folder)
    train_index = _subset(len(train_raw), config.accuracy.train_images, budget.seed, "train_images", where)
    test_index = _subset(len(test_raw), config.accuracy.test_images, budget.seed + 2, "test_images", where)
    data = {
        "train_images": normalize(train_raw[train_index]),
        "train_labels": train_labels[train_index].clone(),
        "test_images": normalize(test_raw[test_index]),
        "test_labels": test_labels[test_index].clone(),
        "budget": budget,
        "source": source,
    }
    key = reference_key(data, budget)
    machine = machine_cache()
    cached = _cached_reference(key, cache) or _cached_reference(key, machine)
    if cached is None:
        started = time.perf_counter()
        accuracy, losses = reference_accuracy(data, budget)
        cached = {"accuracy": accuracy, "losses": losses, "seconds": round(time.perf_counter() - started, 3)}
    for path in (None, cache, machine):      # None: this process
        if not _cached_in(key, path):
            _store_reference(key, cached, path)
    data.update(reference_accuracy=cached["accuracy"], reference_losses=list(cached["losses"]),
                reference_seconds=cached["seconds"], reference_key=key)
    return data


# -- the reference's result, cached ------------------------------------------------------
# The reference's accuracy under a budget is a pure function of the data, the budget, the
# reference and training code and the PyTorch build (on one thread the losses repeat bit
# for bit), so it is computed once per key and kept: in this process, and in a small JSON
# file (the grading run's is in its course record: a course is graded all term with the
# same key), and in one more per machine, for the runs that have no record or a new one
# (`autograder try`, a Dask worker, a new output folder). Each file keeps the last
# CACHE_ENTRIES keys. The key names the CPU's kernels too: a cache in a home folder that
# several machines share keeps one result per kind of CPU.
_REFERENCES: dict[str, dict] = {}
CACHE_ENTRIES = 16


def reference_key(data: dict, budget: Budget) -> str:
    """What the reference's result depends on: the images and labels it trains and is
    measured on, the budget, the reference ``Net`` and this training code, and PyTorch."""
    from solutions import mnist_cnn

    digest = hashlib.sha256()
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        tensor = data[name].contiguous()
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)}\0".encode())
        digest.update(tensor.numpy().tobytes())
    digest.update(json.dumps([budget.epochs, budget.batch_size, budget.lr, budget.seed]).encode())
    for source in (Path(mnist_cnn.__file__), Path(__file__)):
        digest.update(source.read_bytes())
    digest.update(f"torch {torch.__version__} {platform.machine()} {torch.backends.cpu.get_cpu_capability()}".encode())
    return digest.hexdigest()


def machine_cache() -> Path | None:
    """This machine's cache file of reference results: ``$AUTOGRADER_CACHE_DIR`` (set and
    empty: none), else ``$XDG_CACHE_HOME/autograder``, else ``~/.cache/autograder``; the
    file is ``mnist-reference.json``. A folder that cannot be made only costs the training
    (as an unwritable file does). Student code never sees it: a worker's private root holds
    no home folder."""
    folder = os.environ.get(ENV_CACHE)
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = str(Path(base) / "autograder")
    if not folder:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return Path(folder) / MACHINE_CACHE_FILE


def _valid_reference(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("accuracy"), float)
            and 0.0 <= value["accuracy"] <= 1.0 and isinstance(value.get("losses"), list)
            and all(isinstance(v, float) for v in value["losses"])
            and isinstance(value.get("seconds"), (int, float)))


def _read_cache(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _cached_in(key: str, path: Path | None) -> bool:
    """Does the file ``path`` (None: this process) hold a valid result for ``key``?"""
    if path is None:
        return key in _REFERENCES
    return _valid_reference(_read_cache(path).get(f"mnist-reference {key}"))


def _cached_reference(key: str, path: Path | None) -> dict | None:
    if key in _REFERENCES:
        return _REFERENCES[key]
    value = _read_cache(path).get(f"mnist-reference {key}")
    if not _valid_reference(value):   # damaged or missing: computed again
        return None
    _REFERENCES[key] = value
    return value


def _store_reference(key: str, value: dict, path: Path | None) -> None:
    _REFERENCES[key] = value
    if path is None:
        return
    entries = {k: v for k, v in _read_cache(path).items() if k.startswith("mnist-reference ") and _valid_reference(v)}
    entries[f"mnist-reference {key}"] = value
    kept = dict(list(entries.items())[-CACHE_ENTRIES:])
    try:   # an unwritable cache only costs the next run the training again
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        part.write_text(json.dumps(kept, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(part, path)
    except OSError:
        pass


def reference_accuracy(data: dict, budget: Budget) -> tuple[float, list[float]]:
    """Train the reference ``Net`` from scratch with ``budget``; its test accuracy and losses."""
    from solutions.mnist_cnn import Net

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(budget.seed)
        trainer = LocalTrainer(Net(), budget.lr)
        losses = train(trainer, data["train_images"], data["train_labels"], budget)
        predicted = predict_labels(trainer, data["test_images"])
    return float((predicted == data["test_labels"]).to(torch.float64).mean()), losses


@contextmanager
def one_thread():
    """PyTorch on one thread for a while: the same numbers on every machine, whatever its
    core count, and no OpenMP stalls on small tensors when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
