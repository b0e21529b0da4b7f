"""The wire format between grader and worker: only data crosses.

A frame is an 8-byte big-endian length and a payload. The payload is a small JSON
document (the structure) followed by the raw bytes of the tensors it names:

    4-byte header length | JSON header | tensor bytes ...

JSON can only describe numbers, strings, lists and objects, and tensors are rebuilt
from raw bytes with a dtype from a fixed list, so decoding can never run code or build
an object of an arbitrary class: a safe loader by construction, like
``torch.load(weights_only=True)`` but without pickle and several times faster.
:func:`check_data` accepts only tensors, ``None``, ``bool``, ``int``, ``float``,
``str``, ``bytes`` and lists, tuples and dicts of them, within a depth limit.

Values that are not plain data are tagged with small marker dicts (``"__kind__"`` key):
``ref`` (an object that stays in the worker), ``ndarray``, ``dtype``, ``device``,
``size``, ``scalar``, ``tensor`` (on a device other than the CPU), ``namedtuple``.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from typing import Any

import torch

__all__ = ["ProtocolError", "send_frame", "recv_frame", "encode", "decode", "check_data", "MAX_FRAME"]

MAX_FRAME = 512 * 1024 * 1024     # a result larger than this is refused, not buffered
MAX_DEPTH = 32
KIND = "__kind__"
_HEADER = struct.Struct(">Q")
_JSON_LEN = struct.Struct(">I")
_SCALARS = (type(None), bool, int, float, str, bytes)
_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}


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


def _float(value: float) -> Any:
    return value if math.isfinite(value) else {"$f": repr(value)}


def _pack(value: Any, blobs: list[bytes]) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return _float(value)
    if kind is bytes:
        blobs.append(value)
        return {"$b": len(blobs) - 1}
    if kind is list:
        return [_pack(v, blobs) for v in value]
    if kind is tuple:
        return {"$tuple": [_pack(v, blobs) for v in value]}
    if kind is dict:
        return {"$dict": [[_pack(k, blobs), _pack(v, blobs)] for k, v in value.items()]}
    tensor: torch.Tensor = value
    dtype = str(tensor.dtype).removeprefix("torch.")
    if dtype not in _DTYPES:
        raise ProtocolError(f"tensors of dtype {tensor.dtype} cannot be sent")
    head = {"$t": None, "dtype": dtype, "shape": list(tensor.shape),
            "grad": bool(tensor.requires_grad), "param": kind is torch.nn.Parameter}
    if tensor.device.type == "meta":
        head["meta"] = True
        return head
    data = tensor.detach().to("cpu").contiguous()
    blobs.append(data.view(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    head["$t"] = len(blobs) - 1
    return head


def encode(value: Any) -> bytes:
    """Serialize plain data (checked first) into a payload."""
    check_data(value)
    blobs: list[bytes] = []
    packed = _pack(value, blobs)
    offsets = []
    position = 0
    for blob in blobs:
        offsets.append([position, len(blob)])
        position += len(blob)
    header = json.dumps({"v": packed, "o": offsets}, separators=(",", ":"), allow_nan=False).encode()
    return _JSON_LEN.pack(len(header)) + header + b"".join(blobs)


def _unpack(value: Any, body: memoryview, offsets: list, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [_unpack(v, body, offsets, depth + 1) for v in value]
    if kind is not dict:
        raise ProtocolError("malformed frame")
    if "$tuple" in value:
        return tuple(_unpack(v, body, offsets, depth + 1) for v in value["$tuple"])
    if "$dict" in value:
        out = {}
        for key, item in value["$dict"]:
            key = _unpack(key, body, offsets, depth + 1)
            if type(key) not in (str, int):
                raise ProtocolError("malformed dict key")
            out[key] = _unpack(item, body, offsets, depth + 1)
        return out
    if "$f" in value:
        return float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[value["$f"]])
    if "$b" in value:
        start, size = offsets[value["$b"]]
        return bytes(body[start:start + size])
    if "$t" in value:
        dtype = _DTYPES[value["dtype"]]
        shape = [int(s) for s in value["shape"]]
        if any(s < 0 for s in shape):
            raise ProtocolError("negative tensor size")
        if value.get("meta"):
            tensor = torch.empty(shape, dtype=dtype, device="meta")
        else:
            start, size = offsets[value["$t"]]
            count = math.prod(shape)
            if size != count * torch.empty((), dtype=dtype).element_size():
                raise ProtocolError("tensor size does not match its shape")
            raw = bytearray(body[start:start + size])
            tensor = torch.frombuffer(raw, dtype=dtype).reshape(shape) if count else torch.empty(shape, dtype=dtype)
        if value.get("param"):
            return torch.nn.Parameter(tensor, requires_grad=bool(value.get("grad")))
        if value.get("grad") and (dtype.is_floating_point or dtype.is_complex):
            tensor.requires_grad_(True)
        return tensor
    raise ProtocolError("malformed frame")


def decode(payload: bytes) -> Any:
    """Deserialize a payload; only plain data can come out (see module docstring)."""
    try:
        (size,) = _JSON_LEN.unpack_from(payload, 0)
        header = json.loads(payload[4:4 + size])
        body = memoryview(payload)[4 + size:]
        offsets = header["o"]
        for start, length in offsets:
            if not (isinstance(start, int) and isinstance(length, int) and 0 <= start and start + length <= len(body)):
                raise ProtocolError("tensor bytes out of range")
        value = _unpack(header["v"], body, offsets, 0)
    except ProtocolError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, struct.error, RecursionError, RuntimeError) as exc:
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
