"""The wire format between grader and worker: only data crosses.

A frame is an 8-byte big-endian length followed by a payload written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, PyTorch's safe
loader, which rebuilds tensors and plain containers and refuses every other class.
On top of that, :func:`check_data` walks what was decoded and accepts only tensors,
``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes`` and lists, tuples and dicts of
them, within a depth and size limit. Never a pickle of an arbitrary object, never a callable.

Values that are not plain data are tagged with small marker dicts (``"__kind__"`` key):
``ref`` (an object that stays in the worker), ``ndarray``, ``dtype``, ``device``,
``meta`` (a tensor on the ``meta`` device, by shape and dtype).
"""

from __future__ import annotations

import io
import socket
import struct
from typing import Any

import torch

__all__ = ["ProtocolError", "send_frame", "recv_frame", "encode", "decode", "check_data", "MAX_FRAME"]

MAX_FRAME = 512 * 1024 * 1024     # a result larger than this is refused, not buffered
MAX_DEPTH = 32
KIND = "__kind__"
_HEADER = struct.Struct(">Q")
_SCALARS = (type(None), bool, int, float, str, bytes)


class ProtocolError(Exception):
    """The other side sent something that is not a valid frame of data."""


def check_data(value: Any, depth: int = 0) -> None:
    """Raise ``ProtocolError`` unless ``value`` is plain data (see module docstring)."""
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    kind = type(value)
    if kind in _SCALARS or kind is torch.Tensor or kind is torch.nn.Parameter:
        return
    if kind in (list, tuple):
        for item in value:
            check_data(item, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) not in (str, int):
                raise ProtocolError(f"dict key of type {type(key).__name__} is not data")
            check_data(item, depth + 1)
        return
    raise ProtocolError(f"a value of type {kind.__name__} is not data")


def encode(value: Any) -> bytes:
    """Serialize plain data (checked first) into a payload."""
    check_data(value)
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def decode(payload: bytes) -> Any:
    """Deserialize a payload with the safe loader and check that it is plain data."""
    try:
        value = torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as exc:  # the safe loader refuses unknown globals with various errors
        raise ProtocolError(f"refused to decode a frame: {type(exc).__name__}: {exc}") from None
    check_data(value)
    return value


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks += chunk
    return bytes(chunks)


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def recv_frame(sock: socket.socket, limit: int = MAX_FRAME) -> bytes:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > limit:
        raise ProtocolError(f"frame of {size} bytes exceeds the limit of {limit}")
    return _recv_exact(sock, size)
