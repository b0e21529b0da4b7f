"""``Student`` is the whole API a check has on student code (docs/writing-checks.md): the
checks reach the worker only through it, and keep-in-worker is spelt one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from autograder.checks.plugin import Student
from autograder.sandbox.client import Ref, WorkerSettings

from helpers import make_worker

CHECKS = Path(__file__).resolve().parent.parent / "autograder" / "checks"
STUDENT_CODE = "def double(x):\n    return 2 * x\n\ndef files(root):\n    import os\n    return sorted(os.listdir(root))\n"


def test_no_check_reaches_past_student_to_the_worker():
    """Only the plugin, which owns ``Student``, touches the worker handle; no check or
    helper imports ``Worker`` or reads ``.worker`` / ``._worker``."""
    offenders = []
    for path in sorted(CHECKS.rglob("*.py")):
        if path.name == "plugin.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("worker", "_worker"):
                offenders.append(f"{path.relative_to(CHECKS)}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.ImportFrom) and any(a.name == "Worker" for a in node.names):
                offenders.append(f"{path.relative_to(CHECKS)}:{node.lineno} imports Worker")
            if isinstance(node, ast.keyword) and node.arg == "_keep":
                offenders.append(f"{path.relative_to(CHECKS)}:{node.lineno} _keep=")
    assert offenders == []
    assert not hasattr(Student(None, set()), "worker")      # type: ignore[arg-type]


@pytest.fixture
def student(zygote, tmp_path):
    worker = make_worker(zygote, tmp_path, STUDENT_CODE)
    yield Student(worker, {"tensors"})
    worker.kill()


def test_keep_is_one_keyword_on_every_way_in(student):
    layer = student.call("torch.nn.Linear", 2, 3, keep=True)     # a library path: no module to import
    assert isinstance(layer, Ref) and layer.type_name == "torch.nn.modules.linear.Linear"
    assert isinstance(student.call("tensors.double", torch.ones(2), keep=True), Ref)
    assert torch.equal(student.call("tensors.double", torch.ones(2)), torch.full((2,), 2.0))
    assert isinstance(layer.attr("weight", keep=True), Ref)
    assert isinstance(layer.attr("weight"), torch.Tensor)
    assert isinstance(layer.method("parameters", keep=True), Ref)
    assert isinstance(student.getattr((layer, "bias"), keep=True), Ref)
    assert student.describe(layer)["num_parameters"] == 9
    assert set(student.parameters(layer)) == {"weight", "bias"}


def test_a_shared_folder_is_seen_by_the_students_code_and_removed_after(student):
    with student.shared_folder("fake_data") as (here, there):
        (here / "a.txt").write_text("a")
        (here / "b").mkdir()
        assert student.call("tensors.files", there) == ["a.txt", "b"]
        assert here.is_dir()
    assert not here.exists()
    for bad in ("", "../up", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            with student.shared_folder(bad):
                pass


def test_the_workers_threads_are_readable_without_the_worker(student):
    assert student.threads == WorkerSettings().threads
