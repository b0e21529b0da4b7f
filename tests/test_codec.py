"""The one codec of the wire format, as both sides use it: every kind of value round-trips
in both directions, and the grader's side decodes whatever a hostile worker sends into
data or a ProtocolError, never an object of the payload's choosing.

These run in this process, with the grader's codec (``client._GraderCodec``) and the
worker's (``worker.Session``) talking to each other directly: no process is started.
"""

from __future__ import annotations

import builtins
import collections
import enum
import json
import math
import random
import struct

import numpy as np
import pytest
import torch

from autograder.sandbox import protocol
from autograder.sandbox.client import Foreign, Ref, RemoteDeviceTensor, Worker, WorkerCrash, _GraderCodec
from autograder.sandbox.protocol import KINDS, MAX_DEPTH, Codec, ProtocolError, decode, encode
from autograder.sandbox.worker import Session

Point = collections.namedtuple("Point", ["x", "y"])


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


class Opaque:
    """An object that is not data: it stays in the worker."""


@pytest.fixture
def sides(tmp_path):
    worker = Worker(None, str(tmp_path), str(tmp_path))   # never started: only its codec is used
    worker.sock = object()                                   # a live generation for its refs
    return _GraderCodec(worker), Session(str(tmp_path)), worker


def _kinds(payload: bytes) -> set[str]:
    """The tags a payload's JSON structure uses."""
    (size,) = struct.unpack_from(">I", payload)
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            found.update(k for k in node if k.startswith("$"))
            if "$k" in node:
                found.add(node["$k"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(payload[4:4 + size])["v"])
    return found


def _same(a, b) -> bool:
    """Equal values, tensors by dtype, shape, values and requires_grad."""
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor) or a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.requires_grad != b.requires_grad or (a.device.type == "meta") != (b.device.type == "meta"):
            return False
        return a.device.type == "meta" or torch.equal(a.detach().resolve_conj().resolve_neg().cpu(),
                                                      b.detach().resolve_conj().resolve_neg().cpu())
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(a) is type(b) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _values():
    """One value of every kind both sides send as data."""
    base = torch.arange(12.0).reshape(3, 4)
    return {
        "none": None, "bool": True, "int": -(2 ** 70), "float": -2.5, "nan": math.nan, "inf": math.inf,
        "-inf": -math.inf, "str": "é\0", "bytes": b"\x00\xffb", "list": [1, [2, []]], "tuple": (1, ("a",), ()),
        "dict": {"a": 1, 3: {"b": None}}, "ordereddict": collections.OrderedDict([("w", 1), ("b", [2])]),
        "float32 needing grad": torch.randn(2, 3, requires_grad=True),
        "int64 empty": torch.zeros(0, 4, dtype=torch.int64), "0-d": torch.tensor(7),
        "bool tensor": torch.tensor([True, False]), "bfloat16": torch.ones(3, dtype=torch.bfloat16),
        "float16": torch.ones(2, dtype=torch.float16), "complex": torch.tensor([1 + 2j], dtype=torch.complex64),
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "transposed": base.t(), "sliced": base[:, 1::2], "broadcast": torch.ones(1, 3).expand(4, 3),
        "0-d broadcast": torch.broadcast_to(torch.tensor(9.5), (1,)), "size-1 strided": torch.ones(3, 1)[1:2, :].t(),
        "conjugated": torch.tensor([1 + 1j, 2 - 1j]).conj(), "negated": torch.tensor([1 + 1j])._neg_view(),
        "meta": torch.empty(2, 5, device="meta"),
        "dtype": torch.float64, "device": torch.device("cpu"), "size": torch.Size([2, 0, 3]),
        "ndarray": np.arange(6, dtype=np.int32).reshape(2, 3), "bool ndarray": np.array([True]),
        "big-endian ndarray": np.arange(3, dtype=">f8"),
        "namedtuple": Point(torch.ones(2), {"k": [1]}),
    }


def test_every_kind_round_trips_from_grader_to_worker_and_back(sides):
    grader, session, _ = sides
    values = _values()
    payload = grader.encode(values)
    assert _kinds(payload) >= {"$f", "$b", "$tuple", "$dict", "$t"} | (set(KINDS) - {"ref", "scalar"})
    received = session.decode(payload)
    assert type(received["namedtuple"]) is not Point and isinstance(received["namedtuple"], tuple)
    assert received["namedtuple"]._fields == ("x", "y") and type(received["namedtuple"]).__name__ == "Point"
    assert type(received["namedtuple"]).__module__ == "collections" or hasattr(received["namedtuple"], "_replace")
    assert isinstance(received["ordereddict"], collections.OrderedDict)
    assert received["size"] == torch.Size([2, 0, 3]) and type(received["size"]) is torch.Size
    assert received["big-endian ndarray"].dtype == np.float64 and list(received["big-endian ndarray"]) == [0, 1, 2]
    back = grader.decode(session.encode(received))
    for key, value in values.items():
        got = back[key]
        if key == "big-endian ndarray":      # the worker sees it in native byte order
            value = value.astype("=f8")
        if key in ("transposed", "sliced", "broadcast", "0-d broadcast", "size-1 strided", "conjugated", "negated"):
            assert got.is_contiguous() and not got.is_conj() and not got.is_neg(), key
        if key == "namedtuple":
            assert got._fields == ("x", "y") and _same(got.x, value.x) and got.y == value.y, key
            assert repr(got).startswith("Point(x=tensor(")
            continue
        assert _same(value, got), key


def test_scalars_of_another_type_keep_their_type_name(sides):
    grader, session, _ = sides
    sent = session.encode([np.float64(0.5), np.float32(1.5), np.int64(3), np.bool_(True), Colour.RED, Name("n")])
    assert "scalar" in _kinds(sent)
    got = grader.decode(sent)
    assert got == [Foreign("numpy.float64", 0.5), Foreign("numpy.float32", 1.5), Foreign("numpy.int64", 3),
                   Foreign("numpy.bool", True) if np.__version__ >= "2" else Foreign("numpy.bool_", True),
                   Foreign(f"{__name__}.Colour", 1), Foreign(f"{__name__}.Name", "n")]
    # and back: a NumPy scalar is rebuilt as one in the worker; any other as its plain value
    again = session.decode(grader.encode(got))
    assert [type(v) for v in again] == [np.float64, np.float32, np.int64, np.bool_, int, str]
    assert again[0] == 0.5 and again[4] == 1


def test_objects_that_are_not_data_cross_as_references(sides):
    grader, session, worker = sides
    opaque, module = Opaque(), torch.nn.Linear(2, 1)
    got = grader.decode(session.encode({"ok": [opaque, module, {(1, 2): "tuple key"}, collections.defaultdict(int)]}))
    assert "ref" in _kinds(session.encode([opaque]))
    refs = got["ok"]
    assert all(isinstance(r, Ref) for r in refs)
    assert refs[0].type_name == f"{__name__}.Opaque" and refs[1].type_name == "torch.nn.modules.linear.Linear"
    assert refs[0].generation == worker.generation
    # a reference sent back names the very object the worker holds
    call = session.decode(grader.encode({"args": [refs[1], (refs[0], 1)]}))
    assert call["args"][0] is module and call["args"][1][0] is opaque


def test_a_reference_into_a_restarted_worker_is_refused(sides):
    grader, session, worker = sides
    ref = grader.decode(session.encode(Opaque()))
    worker.generation += 1
    with pytest.raises(WorkerCrash, match="restarted"):
        grader.encode([ref])


def test_the_grader_sends_subclasses_of_containers_as_plain_ones(sides):
    grader, session, _ = sides

    class Items(list):
        pass

    got = session.decode(grader.encode([Items([1, 2]), collections.defaultdict(list, a=[1])]))
    assert got == [[1, 2], {"a": [1]}] and type(got[0]) is list and type(got[1]) is dict


def test_a_tensor_of_another_device_names_it_on_the_grader(sides):
    grader, session, _ = sides
    payload = session.encode(torch.arange(3.0))
    (size,) = struct.unpack_from(">I", payload)
    header = json.loads(payload[4:4 + size])
    header["v"]["device"] = "cuda:1"
    raw = json.dumps(header).encode()
    got = grader.decode(struct.pack(">I", len(raw)) + raw + payload[4 + size:])
    if torch.cuda.device_count() > 1:
        assert got.device == torch.device("cuda:1")
    else:
        assert isinstance(got, RemoteDeviceTensor) and got.remote_device == "cuda:1"
        assert torch.equal(got.as_subclass(torch.Tensor), torch.arange(3.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_gpu_tensor_round_trips_on_its_device(sides):
    grader, session, _ = sides
    value = torch.arange(4.0, device="cuda").requires_grad_()
    received = session.decode(grader.encode(value))
    assert received.device.type == "cuda" and received.requires_grad
    back = grader.decode(session.encode(received * 2))
    assert back.device.type == "cuda" and torch.equal(back.detach().cpu(), torch.arange(4.0) * 2)


def test_nesting_is_limited_the_same_way_on_both_sides(sides):
    grader, session, _ = sides

    def nest(depth):
        value: list = []
        for _ in range(depth):
            value = [value]
        return value

    assert grader.decode(grader.encode(nest(MAX_DEPTH))) == nest(MAX_DEPTH)
    with pytest.raises(ProtocolError, match="deeply"):
        grader.encode(nest(MAX_DEPTH + 1))
    # the worker keeps what is deeper as a reference, which the grader can decode
    got = grader.decode(session.encode(nest(MAX_DEPTH + 5)))
    for _ in range(MAX_DEPTH + 1):
        got = got[0]
    assert isinstance(got, Ref) and got.type_name == "builtins.list"


@pytest.mark.parametrize("bad", [object(), print, {1.5: 2}, [lambda: 0], {True: 1}, Opaque(),
                                 torch.zeros(2, dtype=torch.uint16), pytest.param(10 ** 5000, id="an int of 5000 digits")])
def test_the_grader_refuses_to_send_what_is_not_data(sides, bad):
    grader, _, _ = sides
    with pytest.raises(ProtocolError):
        grader.encode([bad])


def _frame(value, offsets=(), body: bytes = b"") -> bytes:
    raw = json.dumps({"v": value, "o": [list(o) for o in offsets]}).encode()
    return struct.pack(">I", len(raw)) + raw + body


HOSTILE = {
    "a pickle": b"\x80\x04\x95pickle",
    "a reduce tag": _frame({"__reduce__": "os.system"}),
    "an unknown kind": _frame({"$k": "pickle", "data": "gASV"}),
    "a named tuple named by code": _frame({"$k": "namedtuple", "name": "__import__('os').system('x')",
                                           "fields": ["a"], "values": [1]}),
    "a named tuple with a dunder field": _frame({"$k": "namedtuple", "name": "P", "fields": ["__class__"],
                                                 "values": [1]}),
    "a named tuple with a keyword field": _frame({"$k": "namedtuple", "name": "P", "fields": ["def"], "values": [1]}),
    "a named tuple short of values": _frame({"$k": "namedtuple", "name": "P", "fields": ["a", "b"], "values": [1]}),
    "a named tuple with repeated fields": _frame({"$k": "namedtuple", "name": "P", "fields": ["a", "a"],
                                                  "values": [1, 2]}),
    "an object dtype": _frame({"$t": 0, "dtype": "object", "shape": [1]}, [(0, 8)], b"\0" * 8),
    "a size lie": _frame({"$t": 0, "dtype": "float32", "shape": [1000]}, [(0, 4)], b"\0" * 4),
    "a huge shape": _frame({"$t": 0, "dtype": "float32", "shape": [2 ** 62, 2 ** 62]}, [(0, 4)], b"\0" * 4),
    "a negative dimension": _frame({"$t": 0, "dtype": "float32", "shape": [-1]}, [(0, 4)], b"\0" * 4),
    "bytes out of range": _frame({"$t": 0, "dtype": "float32", "shape": [1]}, [(4, 4)], b"\0" * 4),
    "a negative blob index": _frame({"$b": -1}, [(0, 1)], b"x"),
    "a tensor without bytes": _frame({"$t": None, "dtype": "float32", "shape": [1]}),
    "a device that is not one": _frame({"$k": "device", "name": "cuda; import os"}),
    "a tensor on a device that is not one": _frame({"$t": 0, "dtype": "uint8", "shape": [1],
                                                    "device": "x y"}, [(0, 1)], b"\1"),
    "an array of another device": _frame({"$k": "ndarray", "value": {"$t": 0, "dtype": "uint8", "shape": [1],
                                                                     "device": "cuda"}}, [(0, 1)], b"\1"),
    "a scalar holding a list": _frame({"$k": "scalar", "type": "numpy.float64", "value": [1]}),
    "a reference with an id that is not an int": _frame({"$k": "ref", "id": "1", "type": "x"}),
    "a float that is not one": _frame({"$f": "1e999"}),
    "a dict with a list key": _frame({"$dict": [[[1], 2]]}),
    "a dict key that is a tag": _frame({"$dict": [[{"$b": 0}, 2]]}, [(0, 1)], b"x"),
    "deep lists": _frame(json.loads("[" * 40 + "1" + "]" * 40)),
    "deep tuples": _frame(json.loads('{"$tuple": [' * 40 + "1" + "]}" * 40)),
    "offsets that are not ints": _frame(1, [("0", 1)]),
    "a header that is a list": struct.pack(">I", 2) + b"[]",
    "an int of 5000 digits": struct.pack(">I", 5012) + b'{"v":' + b"9" * 5000 + b',"o":[]}',
    "a truncated header": struct.pack(">I", 100) + b'{"v":',
}


@pytest.mark.parametrize("what", list(HOSTILE))
def test_hostile_payloads_are_refused(sides, what):
    grader, _, _ = sides
    for codec in (grader, protocol._PLAIN):
        with pytest.raises(ProtocolError):
            codec.decode(HOSTILE[what])


def test_the_strict_codec_refuses_references():
    with pytest.raises(ProtocolError, match="reference"):
        decode(_frame({"$k": "ref", "id": 1, "type": "x"}))


def test_a_bool_tensor_is_normalised(sides):
    grader, _, _ = sides
    got = grader.decode(_frame({"$t": 0, "dtype": "bool", "shape": [3]}, [(0, 3)], b"\x00\x02\xff"))
    assert got.tolist() == [False, True, True] and got.view(torch.uint8).tolist() == [0, 1, 1]


def test_the_grader_decodes_without_eval(sides, monkeypatch):
    grader, session, _ = sides
    payload = session.encode([Point(1, 2), collections.OrderedDict(a=1), np.arange(2), torch.ones(1)])

    def forbidden(*args, **kwargs):
        raise AssertionError("the grader evaluated code while decoding")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    got = grader.decode(payload)
    assert got[0] == (1, 2) and got[0].y == 2 and got[0]._asdict() == {"x": 1, "y": 2}


def test_mutated_payloads_decode_to_data_or_a_protocol_error(sides):
    """A fuzz of real payloads with bytes flipped: nothing but ProtocolError escapes."""
    grader, session, _ = sides
    payloads = [session.encode(v) for v in ({"ok": [Point(torch.ones(2), 1), b"xy", (1.5, None)]},
                                            {"ok": collections.OrderedDict(w=torch.eye(2)), "n": np.float32(1)})]
    rng = random.Random(12)
    for _ in range(1500):
        data = bytearray(rng.choice(payloads))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            grader.decode(bytes(data))
        except ProtocolError:
            pass


def test_the_module_functions_are_the_strict_codec():
    value = {"a": [torch.arange(6.0).reshape(2, 3), 1, 2.5, None, "s", b"b", (True, float("inf"))]}
    assert _same(decode(encode(value)), value)
    with pytest.raises(ProtocolError):
        encode([Opaque()])
    assert isinstance(protocol._PLAIN, Codec)
