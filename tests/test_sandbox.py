"""The sandbox on its own: what a worker can see and do, and the wire format."""

from __future__ import annotations

import json
import os
import struct
import sys
from pathlib import Path

import pytest
import torch

from autograder.sandbox.client import StudentError, Worker, WorkerSettings, WorkerTimeout, Zygote
from autograder.sandbox.protocol import ProtocolError, decode, encode

ROOT = Path(__file__).resolve().parent.parent
HYPOTHESIS_DIR = str(Path(__import__("hypothesis").__file__).parent)

PROBE = '''
import os, socket, sys
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
def connect():
    socket.create_connection(("127.0.0.1", 9), timeout=1)
def sleep():
    import time
    time.sleep(60)
def allocate(gb):
    return len(bytearray(int(gb * 2**30)))
def path():
    return list(sys.path)
'''


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    yield z
    z.close()


@pytest.fixture
def worker(zygote, tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "submission" / "tensors.py").write_text(PROBE)
    settings = WorkerSettings(memory_bytes=1 << 30, hide=(HYPOTHESIS_DIR,))
    w = Worker(zygote, str(tmp_path / "submission"), str(tmp_path / "root"), settings, call_timeout_s=5)
    w.import_module("tensors")
    yield w
    w.kill()


def _full(worker) -> bool:
    return worker.isolations[-1]["filesystem"] == "private-root"


def test_isolation_is_reported_per_start(worker):
    iso = worker.isolations[-1]
    assert set(iso) >= {"filesystem", "network", "processes", "user", "memory_limit_bytes", "notes"}
    if os.geteuid() == 0:   # CI runs as root, where every layer must be in place
        assert (iso["filesystem"], iso["network"], iso["processes"], iso["user"]) == \
            ("private-root", "none", "private", "nobody")


def test_the_project_and_solutions_are_not_visible(worker):
    if not _full(worker):
        pytest.skip("no private root on this machine")
    assert not worker.call("tensors.exists", str(ROOT / "solutions"))
    assert not worker.call("tensors.exists", str(ROOT / "autograder" / "checks"))
    assert worker.call("tensors.listdir", "/submission") == ["tensors.py"]
    with pytest.raises(StudentError, match="ModuleNotFoundError|No module named"):
        worker.call("builtins.__import__", "solutions")


def test_hidden_folders_inside_mounted_ones_are_empty(worker):
    if not _full(worker):
        pytest.skip("no private root on this machine")
    assert worker.call("tensors.listdir", HYPOTHESIS_DIR) == []


def test_submission_is_read_only_and_tmp_is_writable(worker):
    if not _full(worker):
        pytest.skip("no private root on this machine")
    with pytest.raises(StudentError, match="Read-only|Permission"):
        worker.call("tensors.write", "/submission/new.py")
    assert worker.call("tensors.write", "/tmp/scratch.txt") is True


def test_no_network(worker):
    with pytest.raises(StudentError, match="OSError|unreachable|refused"):
        worker.call("tensors.connect")


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
