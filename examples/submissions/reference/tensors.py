"""Assignment 1: tensors and their operations.

Students learn what a tensor is (data plus a shape, a dtype and a device), how
to create one from Python lists and NumPy arrays without copying, how to
reshape and index it, how broadcasting lines up shapes, and how to turn a
model's logits into predicted labels and an accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "to_tensor",
    "describe",
    "add_batch_dim",
    "flatten_images",
    "normalize",
    "one_hot",
    "predicted_labels",
    "accuracy",
    "safe_add",
]


def to_tensor(data: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Create a tensor from a nested Python list or a NumPy array.

    A NumPy array must NOT be copied: the result shares its memory, so writing
    into the array is visible in the tensor (and the other way round).  A
    nested list is copied into a new tensor whose dtype PyTorch infers
    (``int64`` for ints, ``float32`` for floats, ``bool`` for bools).

    Args:
        data: a nested list of numbers, or a ``numpy.ndarray``.
        dtype: when given, the result is converted to this dtype (a NumPy
            input is then shared only if the dtype already matches).

    Returns:
        A CPU tensor holding ``data``.

    Example:
        >>> a = np.zeros(3, dtype=np.float32)
        >>> t = to_tensor(a)
        >>> a[0] = 5.0
        >>> t[0].item()
        5.0
        >>> to_tensor([[1, 2], [3, 4]], dtype=torch.float64).dtype
        torch.float64
    """
    ### BEGIN SOLUTION
    if isinstance(data, np.ndarray):
        t = torch.from_numpy(data)
    else:
        t = torch.tensor(data)
    if dtype is not None:
        t = t.to(dtype)
    return t
    ### END SOLUTION


def describe(t: torch.Tensor) -> dict[str, Any]:
    """Summarise a tensor's shape, dtype and device.

    Args:
        t: any tensor.

    Returns:
        ``{"shape": tuple[int, ...], "dtype": str, "device": str}``, with the
        shape as a plain tuple of ints and the dtype and device as the strings
        PyTorch prints.

    Example:
        >>> describe(torch.zeros(2, 3, dtype=torch.int64))
        {'shape': (2, 3), 'dtype': 'torch.int64', 'device': 'cpu'}
    """
    ### BEGIN SOLUTION
    return {"shape": tuple(t.shape), "dtype": str(t.dtype), "device": str(t.device)}
    ### END SOLUTION


def add_batch_dim(x: torch.Tensor) -> torch.Tensor:
    """Add a new leading axis of size 1 (a batch of one).

    Args:
        x: a tensor of shape ``[*S]``.

    Returns:
        The same data with shape ``[1, *S]``, e.g. ``[1, 28, 28]`` becomes
        ``[1, 1, 28, 28]``.
    """
    ### BEGIN SOLUTION
    return x.unsqueeze(0)
    ### END SOLUTION


def flatten_images(x: torch.Tensor) -> torch.Tensor:
    """Flatten each image of a batch into one row.

    Args:
        x: a batch of images, shape ``[B, C, H, W]``, for any ``B`` including
            0 and 1.

    Returns:
        Shape ``[B, C*H*W]``; row ``i`` holds image ``i`` in row-major order.

    Example:
        >>> flatten_images(torch.zeros(0, 1, 28, 28)).shape
        torch.Size([0, 784])
    """
    ### BEGIN SOLUTION
    b, c, h, w = x.shape
    return x.reshape(b, c * h * w)
    ### END SOLUTION


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Normalise every channel: ``(x[..., c, :, :] - mean[c]) / std[c]``.

    Use broadcasting (reshape ``mean`` and ``std`` to ``[C, 1, 1]``), not a
    Python loop over the pixels.

    Args:
        x: a float image ``[C, H, W]`` or a batch of images ``[B, C, H, W]``.
        mean: ``C`` numbers, one per channel.
        std: ``C`` non-zero numbers, one per channel.

    Returns:
        A tensor of the shape and dtype of ``x``.

    Raises:
        ValueError: if ``x`` is not 3-D or 4-D, or ``len(mean)`` or
            ``len(std)`` is not the number of channels ``C``.
    """
    ### BEGIN SOLUTION
    if x.dim() not in (3, 4):
        raise ValueError(f"expected x of shape [C, H, W] or [B, C, H, W], got {tuple(x.shape)}")
    channels = x.shape[-3]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(
            f"mean and std need one value per channel ({channels}), "
            f"got {len(mean)} and {len(std)}"
        )
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).reshape(channels, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).reshape(channels, 1, 1)
    return (x - mean_t) / std_t
    ### END SOLUTION


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Encode integer class labels as one-hot rows.

    Args:
        labels: int64 tensor of shape ``[N]`` with values in ``[0, num_classes)``.
        num_classes: the number of classes ``K``.

    Returns:
        A float32 tensor ``out`` of shape ``[N, K]`` with ``out[i, labels[i]] = 1``
        and zeros elsewhere.

    Raises:
        ValueError: if a label is negative or ``>= num_classes``.

    Not allowed: ``torch.nn.functional.one_hot``.

    Example:
        >>> one_hot(torch.tensor([2, 0]), 3)
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
    """
    ### BEGIN SOLUTION
    if ((labels < 0) | (labels >= num_classes)).any():
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got values from "
            f"{labels.min().item()} to {labels.max().item()}"
        )
    out = torch.zeros(labels.shape[0], num_classes, dtype=torch.float32, device=labels.device)
    out[torch.arange(labels.shape[0], device=labels.device), labels] = 1.0
    return out
    ### END SOLUTION


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    """Return the predicted class of each row: the index of its largest logit.

    Args:
        logits: shape ``[B, K]``, one row of class scores per example.

    Returns:
        int64 tensor of shape ``[B]``.
    """
    ### BEGIN SOLUTION
    return logits.argmax(dim=1)
    ### END SOLUTION


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose arg-max class equals the label.

    Args:
        logits: shape ``[B, K]``.
        labels: int64 tensor of shape ``[B]``.

    Returns:
        A Python ``float`` in ``[0, 1]`` (not a tensor); ``0.0`` for an empty
        batch.

    Example:
        >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
        0.5
    """
    ### BEGIN SOLUTION
    if labels.numel() == 0:
        return 0.0
    correct = logits.argmax(dim=1) == labels
    return correct.float().mean().item()
    ### END SOLUTION


def safe_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Add two tensors whose shapes broadcast; fail clearly otherwise.

    Broadcasting compares shapes from the right: two sizes match when they
    are equal or one of them is 1, and a missing leading axis counts as 1.
    So ``[4, 3] + [3]`` gives ``[4, 3]``, while ``[4, 3] + [4]`` is an error.

    Args:
        a: any tensor.
        b: any tensor.

    Returns:
        ``a + b``.

    Raises:
        ValueError: if the shapes do not broadcast; the message names both
            shapes, e.g. ``"cannot broadcast shapes (4, 3) and (4,)"``.
    """
    ### BEGIN SOLUTION
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(
            f"cannot broadcast shapes {tuple(a.shape)} and {tuple(b.shape)}"
        ) from None
    return a + b
    ### END SOLUTION
