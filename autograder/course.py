"""The course: six assignments and their task ids, as fixed by the handout.

This is the contract shared by the solutions, the template, the configuration and the
checks. Task ids are ``"<module>.<name>"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Assignment", "ASSIGNMENTS", "MODULES", "TASK_IDS", "assignment_for", "project_root"]


@dataclass(frozen=True)
class Assignment:
    """One assignment: its folder under ``assignments/``, its module and its task names."""

    number: int
    module: str
    folder: str
    tasks: tuple[str, ...]

    @property
    def task_ids(self) -> tuple[str, ...]:
        return tuple(f"{self.module}.{name}" for name in self.tasks)


ASSIGNMENTS: tuple[Assignment, ...] = (
    Assignment(1, "tensors", "01_tensors", (
        "to_tensor", "describe", "add_batch_dim", "flatten_images", "normalize",
        "one_hot", "predicted_labels", "accuracy", "safe_add")),
    Assignment(2, "linear", "02_linear", ("linear_forward", "Linear", "make_mlp")),
    Assignment(3, "activations", "03_activations", (
        "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softmax", "log_softmax",
        "mse_loss", "binary_cross_entropy", "cross_entropy")),
    Assignment(4, "training", "04_training", ("sgd_step", "train_step", "train_epoch", "evaluate")),
    Assignment(5, "mnist_cnn", "05_mnist_cnn", (
        "mnist_transform", "make_loaders", "Net", "accuracy_threshold", "predict")),
    Assignment(6, "devices", "06_devices", ("get_device", "to_device", "model_device", "to_numpy")),
)

MODULES: tuple[str, ...] = tuple(a.module for a in ASSIGNMENTS)
TASK_IDS: frozenset[str] = frozenset(t for a in ASSIGNMENTS for t in a.task_ids)


def assignment_for(module: str) -> Assignment:
    """The assignment whose module is ``module``; ``KeyError`` naming the choices otherwise."""
    for assignment in ASSIGNMENTS:
        if assignment.module == module:
            return assignment
    raise KeyError(f"unknown assignment {module!r}; choose from {', '.join(MODULES)}")


def project_root() -> Path:
    """The folder holding ``assignments/``, ``solutions/`` and ``student_template/``."""
    return Path(__file__).resolve().parent.parent
