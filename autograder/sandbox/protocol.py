"""The wire format between grader and worker: one codec for both sides; only data crosses.

A frame is an 8-byte big-endian length and a payload. The payload is a small JSON
document (the structure) followed by the raw bytes of the tensors and byte strings it
names:

    4-byte header length | JSON header {"v": value, "o": [[start, length], ...]} | bytes ...

Values, as they appear in the JSON structure (every JSON object is a tag, so a dict of
the data can never be mistaken for one):

=============================  ====================================================
``None``, bool, int, str        themselves
float                           itself; ``{"$f": "nan" | "inf" | "-inf"}`` when not finite
bytes                           ``{"$b": blob}``
list                            a JSON list
tuple                           ``{"$tuple": [...]}``
dict (str or int keys)          ``{"$dict": [[key, value], ...]}``
tensor                          ``{"$t": blob, "dtype", "shape"[, "grad"][, "device"][, "meta"]}``
other kinds                     ``{"$k": kind, ...}``, kind one of :data:`KINDS`
=============================  ====================================================

The kinds: ``ref`` (an object that stays in the worker, named by id), ``dtype``,
``device``, ``size`` (``torch.Size``), ``ndarray`` (a NumPy array of a tensor dtype),
``scalar`` (a plain number or string whose real type is another, e.g. ``numpy.float64``),
``namedtuple``, ``ordereddict``.

Both sides use :class:`Codec`; they differ only in its hooks: what to do with a value
that is not data (the worker keeps it and sends a ``ref``; the grader refuses it), what a
``ref`` decodes to, where a tensor of another device lands, and what type a scalar or a
named tuple is rebuilt as. Decoding never runs code and never builds an object of a
class named by the payload: JSON can only describe numbers, strings, lists and objects;
tensors are rebuilt from raw bytes with a dtype from a fixed list; the grader rebuilds a
named tuple as a plain ``tuple`` subclass (no ``eval``) and a foreign scalar as
:class:`Foreign`. So the grader can decode anything a hostile worker sends: a malformed
or oversized payload is a :class:`ProtocolError`, never an object. Nesting is limited to
:data:`MAX_DEPTH` on both sides (the worker keeps what is deeper as a ``ref``).
"""

from __future__ import annotations

import json
import keyword
import math
import operator
import re
import socket
import struct
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["ProtocolError", "Codec", "Kept", "Foreign", "KINDS", "send_frame", "recv_frame", "encode",
           "decode", "record_type", "MAX_FRAME", "MAX_DEPTH"]

MAX_FRAME = 512 * 1024 * 1024     # a result larger than this is refused, not buffered
MAX_DEPTH = 32
MAX_FIELDS = 256                  # of a named tuple
KINDS = ("ref", "dtype", "device", "size", "ndarray", "scalar", "namedtuple", "ordereddict")
_HEADER = struct.Struct(">Q")
_JSON_LEN = struct.Struct(">I")
_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}
_DTYPE_NAMES = {d: name for name, d in _DTYPES.items()}
_DEVICE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(:[0-9]{1,4})?")
_NOT_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_PLAIN_SCALARS = (bool, int, float, str)
_ALL_DTYPES: dict[str, torch.dtype] = {}


class ProtocolError(Exception):
    """The other side sent something that is not a valid frame of data, or a value to send
    is not data."""


@dataclass(frozen=True)
class Kept:
    """An object that stays in the worker, named by ``id``: what :meth:`Codec.other`
    returns for a value that is not data, and what crosses as a ``ref``."""

    id: int
    type_name: str = ""


@dataclass(frozen=True)
class Foreign:
    """A scalar whose real type is not a plain Python one (e.g. ``numpy.float64``)."""

    type_name: str
    value: Any


def _all_dtypes() -> dict[str, torch.dtype]:
    """Every dtype torch names (a fixed table: decoding never looks a name up in ``torch``,
    whose module ``__getattr__`` would import submodules)."""
    if not _ALL_DTYPES:
        _ALL_DTYPES.update({str(d).removeprefix("torch."): d for d in vars(torch).values()
                            if isinstance(d, torch.dtype)})
    return _ALL_DTYPES


def _valid_names(name: Any, fields: Any) -> bool:
    """``name`` and ``fields`` are what ``collections.namedtuple`` accepts without renaming."""
    if type(name) is not str or type(fields) not in (list, tuple) or len(fields) > MAX_FIELDS:
        return False
    names = [name, *fields]
    return (all(type(n) is str and n.isidentifier() and not keyword.iskeyword(n) for n in names)
            and not any(f.startswith("_") for f in fields) and len(set(fields)) == len(fields))


def record_type(name: str, fields: tuple[str, ...]) -> type:
    """A named-tuple class built without ``eval``: a ``tuple`` subclass with ``_fields``,
    one read-only property per field, ``_asdict`` and a named ``repr``.

    The grader rebuilds the worker's named tuples with it: ``collections.namedtuple``
    compiles source text made from the names it is given, and the names come from the
    untrusted side.
    """
    fields = tuple(fields)
    if not _valid_names(name, fields):
        raise ProtocolError(f"not a valid named tuple: {name!r} with fields {fields!r}")

    def __new__(cls, *args, **kwargs):
        if kwargs:
            missing = [f for f in fields[len(args):] if f not in kwargs]
            if missing or len(args) + len(kwargs) != len(fields):
                raise TypeError(f"{name}() takes the fields {', '.join(fields)}")
            args = args + tuple(kwargs[f] for f in fields[len(args):])
        if len(args) != len(fields):
            raise TypeError(f"{name}() takes {len(fields)} values ({len(args)} given)")
        return tuple.__new__(cls, args)

    def __repr__(self):
        return f"{name}(" + ", ".join(f"{f}={v!r}" for f, v in zip(fields, self)) + ")"

    def _asdict(self):
        return dict(zip(fields, self))

    namespace: dict[str, Any] = {"__slots__": (), "_fields": fields, "__new__": __new__, "__repr__": __repr__,
                                 "_asdict": _asdict, "__getnewargs__": lambda self: tuple(self),
                                 "__module__": "autograder.sandbox.protocol"}
    for index, field_name in enumerate(fields):
        namespace[field_name] = property(operator.itemgetter(index), doc=f"field {index}")
    return type(name, (tuple,), namespace)


def _tensor_bytes(plain: torch.Tensor) -> memoryview:
    """The elements of a CPU tensor as raw bytes in row-major order (a dense copy of a
    broadcast, conjugated, negated or otherwise strided view)."""
    if plain.layout != torch.strided:
        plain = plain.to_dense()
    if plain.is_conj():
        plain = plain.resolve_conj()
    if plain.is_neg():
        plain = plain.resolve_neg()
    if not plain.is_contiguous():
        plain = plain.contiguous()
    flat = plain.reshape(-1)
    if flat.stride(0) != 1:
        # "Contiguous" yet strided: a dimension of size 1 may have any stride (a 0-d tensor
        # broadcast to shape (1,) has stride 0), and contiguous() leaves it as it is.
        flat = torch.empty(flat.shape, dtype=flat.dtype).copy_(flat)
    return memoryview(flat.view(torch.uint8).numpy())


class Codec:
    """Encode values into payloads and decode payloads into values (see module docstring).

    The hooks are what tells the two sides apart; the defaults are the strict ones: a
    value that is not data is refused, a ``ref`` is refused, a tensor of another device
    is left on the CPU, a foreign scalar is a :class:`Foreign`, a named tuple a
    :func:`record_type`.
    """

    def __init__(self) -> None:
        self._types: dict[tuple, type] = {}

    # -- hooks ---------------------------------------------------------------------
    def other(self, value: Any) -> Any:
        """A value that is not data: return a :class:`Kept` (it crosses as a ``ref``) or a
        data value to send instead; raise :class:`ProtocolError` to refuse it."""
        raise ProtocolError(f"a value of type {type(value).__name__} is not data")

    def too_deep(self, value: Any) -> Any:
        """A container nested deeper than :data:`MAX_DEPTH`: like :meth:`other`."""
        raise ProtocolError("value nested too deeply")

    def ref(self, id: int, type_name: str) -> Any:
        """What a ``ref`` decodes to."""
        raise ProtocolError("a reference to an object in the worker is not expected here")

    def device_tensor(self, tensor: torch.Tensor, device: str) -> torch.Tensor:
        """A decoded CPU tensor that was on ``device`` on the other side."""
        return tensor

    def scalar(self, type_name: str, value: Any) -> Any:
        """What a ``scalar`` of the given real type decodes to."""
        return Foreign(type_name, value)

    def namedtuple_type(self, name: str, fields: tuple[str, ...]) -> type:
        """The class a ``namedtuple`` decodes to (one per name and fields)."""
        return record_type(name, fields)

    # -- encoding ------------------------------------------------------------------
    def encode(self, value: Any) -> bytes:
        """Serialize ``value`` into a payload (:class:`ProtocolError` if it is not data)."""
        blobs: list[Any] = []
        packed = self._pack(value, blobs, 0)
        offsets = []
        position = 0
        for blob in blobs:
            offsets.append([position, len(blob)])
            position += len(blob)
        try:
            header = json.dumps({"v": packed, "o": offsets}, separators=(",", ":"), allow_nan=False).encode()
        except (ValueError, TypeError, RecursionError) as exc:     # e.g. an int of 5,000 digits
            raise ProtocolError(f"cannot be sent: {exc}") from None
        return b"".join([_JSON_LEN.pack(len(header)), header, *blobs])

    def _pack(self, value: Any, blobs: list, depth: int) -> Any:
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$f": repr(value)}
        if depth > MAX_DEPTH and kind in (list, tuple, dict, OrderedDict):
            return self._pack_other(self.too_deep(value), blobs, depth)
        if kind is list:
            return [self._pack(v, blobs, depth + 1) for v in value]
        if kind is tuple:
            return {"$tuple": [self._pack(v, blobs, depth + 1) for v in value]}
        if kind is dict or kind is OrderedDict:
            if not all(type(k) is str or type(k) is int for k in value):
                return self._pack_other(self.other(value), blobs, depth)
            items = [[k, self._pack(v, blobs, depth + 1)] for k, v in value.items()]
            return {"$dict": items} if kind is dict else {"$k": "ordereddict", "items": items}
        if isinstance(value, torch.Tensor):
            return self._pack_tensor(value, blobs)
        if kind is bytes:
            blobs.append(value)
            return {"$b": len(blobs) - 1}
        if kind is Kept:
            return {"$k": "ref", "id": value.id, "type": value.type_name}
        if kind is torch.dtype:
            return {"$k": "dtype", "name": str(value).removeprefix("torch.")}
        if kind is torch.device:
            return {"$k": "device", "name": str(value)}
        if kind is torch.Size:
            return {"$k": "size", "dims": [int(v) for v in value]}
        if kind is Foreign:
            return {"$k": "scalar", "type": value.type_name, "value": self._pack(value.value, blobs, depth + 1)}
        if isinstance(value, tuple):
            fields = getattr(kind, "_fields", None)
            if fields is not None and _valid_names(kind.__name__, fields) and len(fields) == len(value):
                if depth > MAX_DEPTH:
                    return self._pack_other(self.too_deep(value), blobs, depth)
                return {"$k": "namedtuple", "name": kind.__name__, "fields": list(fields),
                        "values": [self._pack(v, blobs, depth + 1) for v in value]}
        elif kind.__module__ == "numpy":
            if kind.__name__ == "ndarray":
                return self._pack_ndarray(value, blobs, depth)
            plain = value.item() if hasattr(value, "item") else None
            if type(plain) in _PLAIN_SCALARS:
                return {"$k": "scalar", "type": f"numpy.{kind.__name__}", "value": self._pack(plain, blobs, depth)}
        elif isinstance(value, _PLAIN_SCALARS):
            # A subclass of a plain scalar (an IntEnum, a str subclass): tell the other side
            # what it really is, along with its plain value.
            plain = next(t for t in kind.__mro__ if t in _PLAIN_SCALARS)(value)
            if type(plain) in _PLAIN_SCALARS:
                return {"$k": "scalar", "type": f"{kind.__module__}.{kind.__qualname__}",
                        "value": self._pack(plain, blobs, depth)}
        return self._pack_other(self.other(value), blobs, depth)

    def _pack_other(self, substitute: Any, blobs: list, depth: int) -> Any:
        if type(substitute) is Kept:
            return {"$k": "ref", "id": substitute.id, "type": substitute.type_name}
        return self._pack(substitute, blobs, depth)

    def _pack_tensor(self, value: torch.Tensor, blobs: list) -> dict:
        grad = bool(value.requires_grad)
        plain = value.detach()
        if type(plain) is not torch.Tensor:
            plain = plain.as_subclass(torch.Tensor)
        dtype = _DTYPE_NAMES.get(plain.dtype)
        if dtype is None:
            raise ProtocolError(f"tensors of dtype {plain.dtype} cannot be sent")
        node: dict[str, Any] = {"$t": None, "dtype": dtype, "shape": list(plain.shape)}
        if grad:
            node["grad"] = True
        device = plain.device.type
        if device == "meta":
            node["meta"] = True
            return node
        if device != "cpu":
            node["device"] = str(plain.device)
            plain = plain.cpu()
        blobs.append(_tensor_bytes(plain) if plain.numel() else b"")
        node["$t"] = len(blobs) - 1
        return node

    def _pack_ndarray(self, value: Any, blobs: list, depth: int) -> Any:
        try:
            native = value.astype(value.dtype.newbyteorder("="), copy=True)
            tensor = torch.from_numpy(native)
            if tensor.dtype not in _DTYPE_NAMES:
                raise TypeError(f"dtype {value.dtype}")
        except (TypeError, ValueError, RuntimeError):
            return self._pack_other(self.other(value), blobs, depth)
        return {"$k": "ndarray", "value": self._pack_tensor(tensor, blobs)}

    # -- decoding ------------------------------------------------------------------
    def decode(self, payload: bytes) -> Any:
        """Deserialize a payload; only data (and what the hooks make of refs) comes out."""
        try:
            (size,) = _JSON_LEN.unpack_from(payload, 0)
            header = json.loads(payload[4:4 + size])
            if type(header) is not dict:
                raise ProtocolError("malformed frame")
            body = memoryview(payload)[4 + size:]
            offsets = header["o"]
            if type(offsets) is not list:
                raise ProtocolError("malformed frame")
            for entry in offsets:
                if not (type(entry) is list and len(entry) == 2 and all(type(x) is int for x in entry)
                        and 0 <= entry[0] and 0 <= entry[1] and entry[0] + entry[1] <= len(body)):
                    raise ProtocolError("bytes out of range")
            return self._unpack(header["v"], body, offsets, 0)
        except ProtocolError:
            raise
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, struct.error, RecursionError,
                RuntimeError, OverflowError, MemoryError) as exc:
            raise ProtocolError(f"refused to decode a frame: {type(exc).__name__}: {exc}") from None

    def _unpack(self, node: Any, body: memoryview, offsets: list, depth: int) -> Any:
        kind = type(node)
        if kind is str or kind is int or kind is bool or kind is float or node is None:
            return node
        # Containers deeper than MAX_DEPTH are refused (the encoder never makes them); a
        # leaf tag (a tensor, a ref) may sit one level below the deepest container.
        if kind is list:
            if depth > MAX_DEPTH:
                raise ProtocolError("value nested too deeply")
            return [self._unpack(v, body, offsets, depth + 1) for v in node]
        if kind is not dict:
            raise ProtocolError("malformed frame")
        if depth > MAX_DEPTH + 1 or depth > MAX_DEPTH and ("$dict" in node or "$tuple" in node or "$k" in node
                                                         and node["$k"] in ("namedtuple", "ordereddict")):
            raise ProtocolError("value nested too deeply")
        if "$dict" in node:
            return {key: self._unpack(item, body, offsets, depth + 1) for key, item in _items(node["$dict"])}
        if "$tuple" in node:
            return tuple(self._unpack(v, body, offsets, depth + 1) for v in _list(node["$tuple"]))
        if "$t" in node:
            return self._unpack_tensor(node, body, offsets)
        if "$f" in node:
            return _NOT_FINITE[node["$f"]]
        if "$b" in node:
            start, size = _blob(offsets, node["$b"])
            return bytes(body[start:start + size])
        tag = node.get("$k")
        if tag == "ref":
            if type(node["id"]) is not int or type(node.get("type", "")) is not str:
                raise ProtocolError("malformed reference")
            return self.ref(node["id"], node.get("type", ""))
        if tag == "dtype":
            name = node["name"]
            if type(name) is not str:
                raise ProtocolError("malformed dtype")
            dtype = _all_dtypes().get(name)
            return dtype if dtype is not None else Foreign("torch.dtype", name)
        if tag == "device":
            name = node["name"]
            if type(name) is not str or not _DEVICE.fullmatch(name):
                raise ProtocolError("malformed device")
            return torch.device(name)
        if tag == "size":
            return torch.Size(_dims(node["dims"]))
        if tag == "ndarray":
            inner = node["value"]
            if type(inner) is not dict or "$t" not in inner or "device" in inner or "meta" in inner:
                raise ProtocolError("malformed array")
            return self._unpack_tensor(inner, body, offsets).numpy()
        if tag == "scalar":
            type_name, value = node["type"], self._unpack(node["value"], body, offsets, depth + 1)
            if type(type_name) is not str or type(value) not in _PLAIN_SCALARS:
                raise ProtocolError("malformed scalar")
            return self.scalar(type_name, value)
        if tag == "namedtuple":
            name, fields, values = node["name"], _list(node["fields"]), _list(node["values"])
            if not _valid_names(name, fields) or len(fields) != len(values):
                raise ProtocolError("malformed named tuple")
            key = (name, tuple(fields))
            made = self._types.get(key)
            if made is None:
                made = self.namedtuple_type(name, key[1])
                if len(self._types) < 1024:     # a hostile worker may invent names without end
                    self._types[key] = made
            return made(*[self._unpack(v, body, offsets, depth + 1) for v in values])
        if tag == "ordereddict":
            return OrderedDict((key, self._unpack(item, body, offsets, depth + 1)) for key, item in _items(node["items"]))
        raise ProtocolError("malformed frame")

    def _unpack_tensor(self, node: dict, body: memoryview, offsets: list) -> torch.Tensor:
        dtype = _DTYPES[node["dtype"]]
        shape = _dims(node["shape"])
        if node.get("meta"):
            return torch.empty(shape, dtype=dtype, device="meta")
        count = math.prod(shape)
        if node["$t"] is None:
            raise ProtocolError("a tensor without its bytes")
        start, size = _blob(offsets, node["$t"])
        if size != count * dtype.itemsize:
            raise ProtocolError("tensor size does not match its shape")
        if not count:
            tensor = torch.empty(shape, dtype=dtype)
        elif dtype is torch.bool:
            # Any byte other than 0 and 1 would be a bool that is neither: normalise.
            tensor = torch.frombuffer(bytearray(body[start:start + size]), dtype=torch.uint8).ne(0).reshape(shape)
        else:
            tensor = torch.frombuffer(bytearray(body[start:start + size]), dtype=dtype).reshape(shape)
        device = node.get("device")
        if device is not None:
            if type(device) is not str or not _DEVICE.fullmatch(device):
                raise ProtocolError("malformed device")
            tensor = self.device_tensor(tensor, device)
        if node.get("grad") is True and (dtype.is_floating_point or dtype.is_complex):
            tensor.requires_grad_(True)
        return tensor


def _list(value: Any) -> list:
    if type(value) is not list:
        raise ProtocolError("malformed frame")
    return value


def _items(value: Any) -> list:
    """``[[key, value], ...]`` with str or int keys."""
    for item in _list(value):
        if type(item) is not list or len(item) != 2 or type(item[0]) not in (str, int):
            raise ProtocolError("malformed dict")
    return value


def _dims(value: Any) -> list[int]:
    dims = _list(value)
    if len(dims) > 64 or not all(type(d) is int and d >= 0 for d in dims):
        raise ProtocolError("malformed shape")
    return dims


def _blob(offsets: list, index: Any) -> tuple[int, int]:
    if type(index) is not int or not 0 <= index < len(offsets):
        raise ProtocolError("bytes out of range")
    start, size = offsets[index]
    return start, size


_PLAIN = Codec()


def encode(value: Any) -> bytes:
    """Serialize plain data (no refs) with the strict codec."""
    return _PLAIN.encode(value)


def decode(payload: bytes) -> Any:
    """Deserialize a payload of plain data (no refs) with the strict codec."""
    return _PLAIN.decode(payload)


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
