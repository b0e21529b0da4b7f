"""The worker: the only place student code is imported or run (untrusted side).

It serves generic primitives over the bridge and nothing else: import a student module,
call a function or method, read or set an attribute, describe an object, read a
module's parameters, patch a library function to return a constant, seed the RNGs.
Objects that are not plain data stay here and are named by reference ids. Nothing in
this module knows any assignment or any answer, so a submission that imports it gains
nothing.
"""

from __future__ import annotations

import collections
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import random
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import machine as _machine
from .protocol import Codec, Kept, ProtocolError, recv_frame, send_frame

__all__ = ["serve", "STUDENT_MODULES"]

STUDENT_MODULES = ("tensors", "linear", "activations", "training", "mnist_cnn", "devices")
MAX_MESSAGE = 4000


class _SubmissionFinder(importlib.abc.MetaPathFinder):
    """Finds top-level modules among the submission's own ``.py`` files.

    Two instances: one first on ``sys.meta_path`` for the six assignment modules (no
    library is named like them), one last for any other file of the submission, so a
    student's ``random.py`` or ``timeit.py`` can never shadow a real module.
    """

    def __init__(self, folder: str, names: set[str]):
        self.folder, self.names = folder, names

    def find_spec(self, name, path=None, target=None):
        if path is not None or name not in self.names:
            return None
        file = os.path.join(self.folder, name + ".py")
        if not os.path.isfile(file):
            return None
        return importlib.util.spec_from_file_location(name, file)


def install_finders(folder: str) -> None:
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.path.abspath(folder)]
    others = {p.stem for p in Path(folder).glob("*.py") if p.stem.isidentifier()} - set(STUDENT_MODULES)
    sys.meta_path.insert(0, _SubmissionFinder(folder, set(STUDENT_MODULES)))
    sys.meta_path.append(_SubmissionFinder(folder, others))


def _type_name(obj: Any) -> str:
    return _type_name_of(type(obj))


def _type_name_of(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


class Session(Codec):
    """The worker's state: loaded student modules, objects kept by reference, patches.

    It is the worker's side of the codec (:class:`~autograder.sandbox.protocol.Codec`):
    whatever is not data stays here and crosses as a reference; a reference decodes to
    the object it names; a tensor of another device goes back to it; a NumPy scalar and
    a named tuple are rebuilt as such.
    """

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder
        self.objects: dict[int, Any] = {}
        self.next_id = 1
        self.patches: list[tuple[Any, str, Any]] = []
        self.machine: list[_machine.Patch | _machine.Swap] = []

    # -- the codec's hooks -----------------------------------------------------------
    def keep(self, obj: Any) -> Kept:
        ref = self.next_id
        self.next_id += 1
        self.objects[ref] = obj
        return Kept(ref, _type_name(obj))

    other = too_deep = keep

    def ref(self, id: int, type_name: str) -> Any:
        try:
            return self.objects[id]
        except KeyError:
            raise LookupError(f"reference {id} is not held by this worker") from None

    def device_tensor(self, tensor: torch.Tensor, device: str) -> torch.Tensor:
        return tensor.to(device)

    def scalar(self, type_name: str, value: Any) -> Any:
        module, _, name = type_name.partition(".")
        kind = getattr(np, name, None) if module == "numpy" else None
        if isinstance(kind, type) and issubclass(kind, np.generic):
            return kind(value)
        return value

    def namedtuple_type(self, name: str, fields: tuple[str, ...]) -> type:
        return collections.namedtuple(name, fields)

    # -- targets -------------------------------------------------------------------
    def resolve(self, target: dict) -> Any:
        if "ref" in target:
            obj = self.ref(target["ref"], "")
        else:
            obj = self.resolve_path(target["path"])
        for name in target.get("attrs", ()):
            obj = getattr(obj, name)
        return obj

    def resolve_path(self, path: str) -> Any:
        parts = path.split(".")
        if parts[0] in STUDENT_MODULES:
            if parts[0] not in sys.modules:
                raise LookupError(f"module {parts[0]!r} has not been imported")
            obj, rest = sys.modules[parts[0]], parts[1:]
        else:
            for cut in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                rest = parts[cut:]
                break
            else:
                raise LookupError(f"cannot resolve {path!r}")
        for name in rest:
            obj = getattr(obj, name)
        return obj

    # -- operations ----------------------------------------------------------------
    def op_ping(self, req):
        return "pong"

    def op_folder(self, req):
        """Where the submission's files are, as this worker sees them (its working
        directory is a scratch folder: see :func:`scratch_working_directory`)."""
        return self.folder

    def op_import(self, req):
        name = req["module"]
        if name not in STUDENT_MODULES:
            raise ValueError(f"{name!r} is not an assignment module")
        if not os.path.isfile(os.path.join(self.folder, name + ".py")):
            raise ModuleNotFoundError(f"{name}.py was not submitted")
        importlib.import_module(name)
        return None

    def op_call(self, req):
        func = self.resolve(req["target"])
        args, kwargs = list(req.get("args", [])), dict(req.get("kwargs", {}))
        result = func(*args, **kwargs)
        value = self.keep(result) if req.get("keep") else result
        if req.get("return_args"):   # the arguments as they are after the call (in-place changes)
            return {"result": value, "args": args, "kwargs": kwargs}
        return value

    def op_getattr(self, req):
        value = self.resolve(req["target"])
        return self.keep(value) if req.get("keep") else value

    def op_setattr(self, req):
        setattr(self.resolve(req["target"]), req["name"], req["value"])

    def op_put(self, req):
        return self.keep(req["value"])

    def op_free(self, req):
        for ref in req["ids"]:
            self.objects.pop(ref, None)

    def op_params(self, req):
        module = self.resolve(req["target"])
        every_name = req.get("every_name") is True
        out, objects = {}, {}
        named = module.named_parameters(remove_duplicate=False) if every_name else module.named_parameters()
        for name, p in named:
            out[name] = {
                "value": p,            # crosses as a plain tensor that requires grad as p does
                "grad": p.grad,
                "is_parameter": isinstance(p, torch.nn.Parameter),
                "device": str(p.device),
            }
            if every_name:             # which names are one parameter (a layer shared by two paths)
                out[name]["object"] = objects.setdefault(id(p), len(objects))
        return out

    def op_grad(self, req):
        """Call a function with some arguments as fresh leaves requiring grad, back-propagate
        ``upstream`` through the output, return the output, its description and the grads.

        The output is described before the backward pass; when it is not a tensor
        connected to the graph, no backward pass runs and the grads are None.
        """
        func = self.resolve(req["target"])
        args, kwargs = list(req.get("args", [])), dict(req.get("kwargs", {}))
        leaves = {}
        for index in req["wrt"]:
            leaves[index] = args[index].detach().clone().requires_grad_(True)
            args[index] = leaves[index]
        output = func(*args, **kwargs)
        info = describe(output)
        grads = [None] * len(req["wrt"])
        upstream = req.get("upstream")
        fits = output.numel() == 1 if upstream is None else tuple(upstream.shape) == tuple(output.shape) \
            if isinstance(output, torch.Tensor) else False
        if isinstance(output, torch.Tensor) and output.requires_grad and fits:
            output.backward(upstream)
            grads = [leaves[i].grad for i in req["wrt"]]
        value = output.detach() if isinstance(output, torch.Tensor) else output
        return {"output": value, "info": info, "grads": grads}

    def op_describe(self, req):
        return describe(self.resolve(req["target"]))

    def op_patch(self, req):
        owner_path, _, attr = req["path"].rpartition(".")
        owner = self.resolve_path(owner_path)
        value = req["value"]
        self.patches.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, lambda *args, **kwargs: value)

    def op_machine(self, req):
        """Simulate a machine with or without CUDA and MPS: every public probe agrees
        (see :mod:`autograder.sandbox.machine`), including probes the submission's modules
        imported by name. Undone by ``unpatch``."""
        _machine.restore(self.machine)
        prefix = self.folder.rstrip("/") + "/"
        student = tuple(m for m in list(sys.modules.values())
                        if str(getattr(m, "__file__", "") or "").startswith(prefix))
        self.machine = _machine.install(_machine.Machine(cuda=bool(req["cuda"]), mps=bool(req["mps"])), student)

    def op_unpatch(self, req):
        _machine.restore(self.machine)
        self.machine = []
        while self.patches:
            owner, attr, original = self.patches.pop()
            setattr(owner, attr, original)

    def op_seed(self, req):
        seed = int(req["seed"])
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)

    def handle(self, frame: bytes) -> bytes:
        """Decode a request, run it, encode the response: any exception on the way (the
        student's code raising, or a result that is not data) is the response's error.
        Encoding is inside: it can run student code (a tensor subclass, a ``__str__``)."""
        sending = False
        try:
            req = self.decode(frame)
            op = getattr(self, "op_" + str(req.get("op")), None) if isinstance(req, dict) else None
            if op is None:
                raise ValueError(f"unknown operation {req.get('op') if isinstance(req, dict) else req!r}")
            result = op(req)
            sending = True
            return self.encode({"ok": result})
        except BaseException as exc:  # SystemExit too: it is the student's exception
            error = describe_exception(exc, self.folder)
            if sending:
                error["message"] = f"the result could not be sent: {error['message']}"[:MAX_MESSAGE]
            try:
                return self.encode({"error": error})
            except BaseException:       # an exception whose text is not a plain str
                return self.encode({"error": {"type": "Exception", "mro": ["Exception"], "traceback": "",
                                              "message": "<the exception could not be described>"}})


def describe(obj: Any, depth: int = 0) -> dict:
    """A structural description of any object: types, shapes, devices, fields, mode."""
    info: dict[str, Any] = {"type": _type_name(obj)}
    if depth > 6:
        return info
    if isinstance(obj, torch.Tensor):
        info.update(shape=[int(s) for s in obj.shape], dtype=str(obj.dtype), device=str(obj.device),
                    requires_grad=bool(obj.requires_grad), is_leaf=bool(obj.is_leaf),
                    grad_fn=None if obj.grad_fn is None else type(obj.grad_fn).__name__)
    elif isinstance(obj, torch.nn.Module):
        params = list(obj.parameters())
        info.update(training=bool(obj.training), num_parameters=sum(p.numel() for p in params),
                    bases=[_type_name_of(k) for k in type(obj).__mro__[1:]],   # a subclass of nn.Sequential is one
                    devices=sorted({str(p.device) for p in params} | {str(b.device) for b in obj.buffers()}),
                    # Every registered child under each of its names: named_children() lists a
                    # module once, so a ReLU used twice in an nn.Sequential would go missing.
                    children={name: describe(child, depth + 1) for name, child in _children(obj)})
    elif isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        info.update(fields=list(type(obj)._fields), items=[describe(v, depth + 1) for v in obj])
    elif isinstance(obj, (list, tuple)):
        info.update(items=[describe(v, depth + 1) for v in list(obj)[:1000]])
    elif isinstance(obj, dict):
        info.update(keys=[str(k) for k in list(obj)[:1000]],
                    values={str(k): describe(v, depth + 1) for k, v in list(obj.items())[:1000]})
    elif isinstance(obj, torch.device):
        info.update(value=str(obj))
    elif isinstance(obj, (bool, int, float, str)) or obj is None:
        info.update(value=obj)
    if callable(obj):     # modules too: a torchvision v2 transform is an nn.Module
        info.update(callable=True)
    return info


def _children(module: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """(name, child) for every registered child slot, in order, a shared one under each name."""
    registered = getattr(module, "_modules", None)
    if not isinstance(registered, dict):
        return list(module.named_children())
    return [(str(name), child) for name, child in registered.items() if isinstance(child, torch.nn.Module)]


def describe_exception(exc: BaseException, folder: str) -> dict:
    """Type, message and a traceback limited to the student's own files."""
    try:
        message = str(exc)
    except BaseException:
        message = "<the exception's message could not be read>"
    frames = []
    prefix = folder.rstrip("/") + "/"
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(prefix):
            frames.append(f'  File "{frame.filename[len(prefix):]}", line {frame.lineno}, in {frame.name}\n'
                          f"    {(frame.line or '').strip()}")
    if isinstance(exc, SyntaxError) and exc.filename and str(exc.filename).startswith(prefix):
        frames.append(f'  File "{exc.filename[len(prefix):]}", line {exc.lineno}\n    {(exc.text or "").strip()}')
    return {
        "type": type(exc).__name__,
        "mro": [k.__name__ for k in type(exc).__mro__],
        "message": message[:MAX_MESSAGE],
        "traceback": "\n".join(frames)[-MAX_MESSAGE:],
    }


def scratch_working_directory(folder: str) -> str:
    """Work in a fresh, writable folder that shows the submission's files.

    The submission is mounted read-only, yet real code writes next to itself at import
    (``os.makedirs("out")``, a log file, checkpoints). The working directory becomes a new
    folder in the worker's own ``/tmp`` (a size-limited tmpfs in the sandbox) holding a
    link to each entry of the submission, so relative reads still find the student's files
    and writes land in scratch space that dies with the worker.
    """
    import tempfile

    work = tempfile.mkdtemp(prefix="work-")
    for entry in sorted(os.listdir(folder)):
        try:
            os.symlink(os.path.join(folder, entry), os.path.join(work, entry))
        except OSError:
            pass
    os.chdir(work)
    return work


def serve(sock: socket.socket, folder: str, hello: dict) -> None:
    """Answer requests until the grader closes the connection."""
    sys.dont_write_bytecode = True
    if not os.access(folder, os.W_OK):      # the sandbox's read-only mount (elsewhere: a copy)
        try:
            scratch_working_directory(folder)
        except OSError:
            pass            # no writable /tmp: stay in the submission folder
    install_finders(folder)
    session = Session(folder)
    send_frame(sock, session.encode(hello))
    while True:
        try:
            frame = recv_frame(sock)
        except (EOFError, OSError, ProtocolError):
            return
        send_frame(sock, session.handle(frame))
