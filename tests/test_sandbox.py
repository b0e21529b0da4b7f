"""The sandbox on its own: what a worker can see and do, and the wire format."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
import torch

from autograder.sandbox.client import StudentError, WorkerSettings, WorkerTimeout
from autograder.sandbox.protocol import ProtocolError, decode, encode
from helpers import Listener, machine_isolation, make_worker

ROOT = Path(__file__).resolve().parent.parent
HYPOTHESIS_DIR = str(Path(__import__("hypothesis").__file__).parent)

PROBE = '''
import errno, os, socket, sys
def listdir(path):
    return sorted(os.listdir(path))
def exists(path):
    return os.path.exists(path)
def ids():
    return [os.getuid(), os.getpid()]
def write(path):
    with open(path, "w") as handle:
        handle.write("x")
    return True
def connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))
    return "connected"
def interfaces():
    return sorted(name for _, name in socket.if_nameindex())
def sleep():
    import time
    time.sleep(60)
def allocate(gb):
    return len(bytearray(int(gb * 2**30)))
def path():
    return list(sys.path)
'''


MEMORY_BYTES = 1 << 30


@pytest.fixture(scope="module")
def machine() -> dict:
    """What this machine lets the sandbox enforce, probed without the sandbox (helpers)."""
    return machine_isolation()


@pytest.fixture
def worker(zygote, tmp_path):
    settings = WorkerSettings(memory_bytes=MEMORY_BYTES, hide=(HYPOTHESIS_DIR,))
    w = make_worker(zygote, tmp_path, PROBE, settings, call_timeout_s=5)
    w.import_module("tensors")
    yield w
    w.kill()


def _needs_private_root(machine, worker) -> None:
    """Skip only where the machine itself cannot give a private root; where it can, the
    worker must have one (a sandbox that lost it fails here rather than skipping)."""
    if machine["filesystem"] != "private-root":
        pytest.skip("this machine cannot give a worker a private root (no mount/PID namespaces)")
    assert worker.isolations[-1]["filesystem"] == "private-root", worker.isolations[-1]


def test_isolation_is_reported_per_start(worker, machine):
    iso = worker.isolations[-1]
    assert set(iso) >= {"filesystem", "network", "processes", "user", "memory_limit_bytes", "notes"}
    # Exactly what the machine allows: never less (a lost layer), never more (a claim).
    assert {k: iso[k] for k in machine} == machine, iso["notes"]
    assert iso["memory_limit_bytes"] == MEMORY_BYTES
    if os.geteuid() == 0:   # CI runs as root, where every layer must be in place
        assert (iso["filesystem"], iso["network"], iso["processes"], iso["user"]) == \
            ("private-root", "none", "private", "nobody")


def test_a_restarted_worker_reports_the_same_isolation(worker):
    worker.kill()
    worker.begin_check()
    assert worker.call("tensors.ids")[0] >= 0
    assert len(worker.isolations) == 2 and worker.isolations[1] == worker.isolations[0]


def test_the_worker_runs_as_the_reported_user(worker):
    uid, pid = worker.call("tensors.ids")
    iso = worker.isolations[-1]
    if iso["user"] == "nobody":
        assert uid == 65534
    if iso["processes"] == "private":
        assert pid == 1            # PID 1 of its own PID namespace
    else:
        assert pid == worker.pid


def test_the_project_and_solutions_are_not_visible(worker, machine):
    _needs_private_root(machine, worker)
    assert not worker.call("tensors.exists", str(ROOT / "solutions"))
    assert not worker.call("tensors.exists", str(ROOT / "autograder" / "checks"))
    assert worker.call("tensors.listdir", "/submission") == ["tensors.py"]
    with pytest.raises(StudentError, match="ModuleNotFoundError|No module named"):
        worker.call("builtins.__import__", "solutions")


def test_hidden_folders_inside_mounted_ones_are_empty(worker, machine):
    _needs_private_root(machine, worker)
    assert worker.call("tensors.listdir", HYPOTHESIS_DIR) == []


def test_submission_is_read_only_and_tmp_is_writable(worker, machine):
    _needs_private_root(machine, worker)
    with pytest.raises(StudentError, match="Read-only|Permission"):
        worker.call("tensors.write", "/submission/new.py")
    assert worker.call("tensors.write", "/tmp/scratch.txt") is True


def test_no_network(worker, machine):
    # A listener of the test's own, on the host's loopback: without a network namespace
    # the worker reaches it, so neither "refused" nor any other OSError proves anything.
    listener = Listener()
    try:
        outcome = worker.call("tensors.connect", listener.port)
    finally:
        listener.close()
    reported = worker.isolations[-1]["network"]
    if machine["network"] != "none":
        assert reported == "host" and outcome == "connected"   # what is reported is what holds
        pytest.skip("this machine cannot give a worker a network namespace")
    assert reported == "none"
    # A fresh network namespace: only a loopback device, and that one down, so even the
    # loopback is unreachable (not refused, which a port with no listener would give).
    assert worker.call("tensors.interfaces") == ["lo"]
    assert outcome == "ENETUNREACH"
    assert listener.connections == 0


def test_memory_is_capped(worker):
    with pytest.raises(StudentError, match="MemoryError"):
        worker.call("tensors.allocate", 2.5)   # above the 1 GiB budget, bounded if the cap failed
    assert worker.call("tensors.allocate", 0.1) == int(0.1 * 2**30)


def test_timeout_kills_and_the_next_call_restarts(worker):
    worker.call_timeout_s = 1
    with pytest.raises(WorkerTimeout):
        worker.call("tensors.sleep")
    worker.begin_check()
    assert worker.call("tensors.ids")[0] >= 0
    assert worker.starts == 2


def test_submission_folder_is_not_on_sys_path(worker):
    assert not any(p in ("", ".", "/submission", worker.folder) for p in worker.call("tensors.path"))


# -- the wire format ---------------------------------------------------------------
def test_round_trip_of_plain_data():
    value = {"a": [torch.arange(6.0).reshape(2, 3), 1, 2.5, None, "s", b"b", (True, float("inf"))],
             3: torch.zeros(0, 4, dtype=torch.int64), "meta": torch.empty(2, device="meta")}
    back = decode(encode(value))
    assert torch.equal(back["a"][0], value["a"][0]) and back["a"][1:6] == value["a"][1:6]
    assert back["a"][6] == (True, float("inf")) and back[3].shape == (0, 4) and back["meta"].is_meta


@pytest.mark.parametrize("bad", [object(), print, {1.5: 2}, [lambda: 0]])
def test_encode_refuses_what_is_not_data(bad):
    with pytest.raises(ProtocolError):
        encode(bad)


def _frame(header: dict, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack(">I", len(raw)) + raw + body


@pytest.mark.parametrize("payload", [
    b"\x80\x04\x95pickle",                                          # a pickle is not a frame
    _frame({"v": {"$t": 0, "dtype": "float32", "shape": [1000]}, "o": [[0, 4]]}, b"\0" * 4),  # size lie
    _frame({"v": {"$t": 0, "dtype": "object", "shape": [1]}, "o": [[0, 8]]}, b"\0" * 8),      # bad dtype
    _frame({"v": {"$t": 0, "dtype": "float32", "shape": [1]}, "o": [[4, 4]]}, b"\0" * 4),     # out of range
    _frame({"v": {"__reduce__": "os.system"}, "o": []}),
    _frame({"v": json.loads("[" * 40 + "1" + "]" * 40), "o": []}),
])
def test_decode_refuses_malformed_frames(payload):
    with pytest.raises(ProtocolError):
        decode(payload)


def test_modules_not_preloaded_still_import_in_the_worker(worker):
    # Lazy imports read the installation after the worker is confined: every folder of
    # the interpreter and the virtual environment must be visible, wherever it lives
    # (e.g. a venv under /tmp, which the worker's own /tmp must not cover).
    for name in ("PIL.ImageFile", "email.mime.text", "xml.dom.minidom"):
        worker.call("importlib.import_module", name)
