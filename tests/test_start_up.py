"""What start-up leaves out, and that leaving it out changes no result.

- The stock optimizers skip their ``torch._dynamo`` import (``eager_optim``) and compute
  bit for bit what the unpatched ones compute.
- The zygote preloads torchvision (whose import includes ``torch._dynamo``) only for a
  run whose students may import it: mnist_cnn is graded, or a graded file names it.
- ``autograder check`` preloads it only for a file that imports it, itself or through a
  module of the student's beside it.
- nbformat is imported without the IRI grammar jsonschema would build (1.5 s), and still
  refuses a notebook that breaks its schema.
- The hidden check files are imported (assertions rewritten, as pytest does) at the
  warm-up, before the first student, and a grading session reuses them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import autograder.sandbox.zygotes as zygotes
from autograder.grading import GradeOptions, grade_submissions
from autograder.student_check import _mentions_torchvision

ROOT = Path(__file__).resolve().parent.parent

_TRAIN = r'''
import json, sys, torch
if sys.argv[1] == "eager":
    from autograder.sandbox.eager_optim import use_eager_optimizers
    assert use_eager_optimizers()
torch.manual_seed(0)
weights = []
for name, kwargs in [("SGD", {"lr": 0.1, "momentum": 0.9}), ("SGD", {"lr": 0.1, "momentum": 0.5, "nesterov": True}),
                     ("Adam", {"lr": 0.01}), ("AdamW", {}), ("RMSprop", {}), ("Adagrad", {})]:
    model = torch.nn.Linear(3, 2)
    optimizer = getattr(torch.optim, name)(model.parameters(), **kwargs)
    for _ in range(4):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).pow(2).sum().backward()
        optimizer.step()
    optimizer.load_state_dict(optimizer.state_dict())
    optimizer.step()
    weights.append(model.weight.detach().double().flatten().tolist())
print(json.dumps({"weights": weights, "dynamo": "torch._dynamo" in sys.modules,
                  "grad_enabled": torch.is_grad_enabled()}))
'''


def _train(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _TRAIN, mode], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_eager_optimizers_compute_what_the_stock_ones_do_without_importing_dynamo():
    eager, stock = _train("eager"), _train("stock")
    assert not eager["dynamo"] and stock["dynamo"]       # the stock ones do import it
    assert eager["weights"] == stock["weights"]           # bit for bit (floats compared exactly)
    assert eager["grad_enabled"] and stock["grad_enabled"]


def _spy_on_zygotes(monkeypatch) -> list[bool]:
    asked: list[bool] = []
    real = zygotes.zygotes_for

    def spy(count, optimizers=True, torchvision=True):
        asked.append(torchvision)
        return real(count, optimizers=optimizers, torchvision=torchvision)

    monkeypatch.setattr(zygotes, "zygotes_for", spy)
    return asked


@pytest.mark.parametrize("extra, preloaded", [("", False), ("\nimport torchvision  # noqa: F401,E402\n", True)])
def test_the_zygote_preloads_torchvision_only_for_students_who_name_it(monkeypatch, tmp_path, extra, preloaded):
    asked = _spy_on_zygotes(monkeypatch)
    student = tmp_path / "subs" / "ada"
    student.mkdir(parents=True)
    (student / "activations.py").write_text((ROOT / "solutions" / "activations.py").read_text() + extra)
    result = grade_submissions(tmp_path / "subs", tmp_path / "out", GradeOptions(modules=("activations",), workers=1))
    assert asked == [preloaded]
    (ada,) = result.students
    assert ada.points == ada.max_points      # importing torchvision works either way


def test_mentions_follow_the_students_own_imports(tmp_path):
    (tmp_path / "tensors.py").write_text("import helpers\nimport torch\n")
    (tmp_path / "helpers.py").write_text("from deeper import x\n")
    (tmp_path / "deeper.py").write_text("from torchvision import transforms\nx = 1\n")
    (tmp_path / "linear.py").write_text("import torch\nfrom torch import nn\n")
    (tmp_path / "mnist_cnn.py").write_text("import torchvision\n")       # beside, not imported
    assert _mentions_torchvision(tmp_path / "tensors.py", tmp_path)
    assert not _mentions_torchvision(tmp_path / "linear.py", tmp_path)


_MODULES = "\ndef loaded():\n    import sys\n    return sorted(sys.modules)\n"


@pytest.mark.parametrize("torchvision", [False, True])
def test_a_workers_first_gradient_check_imports_nothing_the_zygote_did_not(tmp_path, torchvision):
    """Each worker is forked per student: a module PyTorch imports lazily on first use
    (torch.fx's symbolic shapes and sympy at a first backward pass with a gradient, half a
    second; the meta device's kernels at a first operator on it, 1.4 s) must be preloaded
    by the zygote, or every student pays for it."""
    import torch

    from autograder.pipeline import grader_folders
    from autograder.sandbox.client import Worker, WorkerSettings
    from autograder.sandbox.zygotes import Zygote

    (tmp_path / "submission").mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "submission" / "activations.py").write_text(
        (ROOT / "solutions" / "activations.py").read_text() + _MODULES)
    zygote = Zygote(torchvision=torchvision)
    worker = Worker(zygote, str(tmp_path / "submission"), str(tmp_path / "root"),
                    WorkerSettings(isolate=True, memory_bytes=4 << 30, threads=1, gpu=False, seed=0,
                                   hide=grader_folders()))
    try:
        worker.import_module("activations")
        before = worker.call("activations.loaded")
        x = torch.randn(3, 4)
        worker.grad("activations.softmax", [x], [0], torch.ones(3, 4), None)
        worker.call("torch.nn.functional.cross_entropy", torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
        optimizer = worker.construct("torch.optim.SGD", [torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        optimizer.method("zero_grad")
        optimizer.method("step")
        meta = torch.empty(4, 1, device="meta")           # as the training and devices checks do
        dataset = worker.call("torch.utils.data.TensorDataset", meta, meta, keep=True)
        worker.call("builtins.list", worker.call("torch.utils.data.DataLoader", dataset, batch_size=2, keep=True))
        assert sorted(set(worker.call("activations.loaded")) - set(before)) == []
        assert ("torchvision" in before) == torchvision
    finally:
        worker.kill()
        zygote.close()


_NBFORMAT = r'''
import sys
from autograder.notebook_code import import_nbformat
nbformat = import_nbformat()
print("grammar" if "rfc3987_syntax" in sys.modules else "lean")
try:
    nbformat.reads('{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', as_version=4)
    print("accepted")
except nbformat.ValidationError:
    print("refused")
good = nbformat.reads('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', as_version=4)
print(len(good.cells))
import importlib.util
if importlib.util.find_spec("rfc3987_syntax") is not None:   # installed with nbconvert's dependencies
    import rfc3987_syntax  # noqa: F401  (whoever wants it later still can)
print("importable")
'''


def test_nbformat_is_imported_without_the_iri_grammar_and_still_validates():
    result = subprocess.run([sys.executable, "-c", _NBFORMAT], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lean", "refused", "0", "importable"]


_PRELOAD = r'''
import json, shutil, sys, tempfile
from pathlib import Path
import _pytest.assertion.rewrite as rewrite
from autograder.grading import GradeOptions, grade_submissions
from autograder.pipeline import warm_up

imported = []
real = rewrite.AssertionRewritingHook.exec_module

def spy(self, module):
    imported.append(module.__name__)
    return real(self, module)

rewrite.AssertionRewritingHook.exec_module = spy
warm_up(("tensors", "linear"))
at_warm_up = list(imported)
rewritten = any(name.startswith("@py_") for name in vars(sys.modules["test_tensors"]))   # pytest's helpers
tmp = Path(tempfile.mkdtemp())
shutil.copytree(Path(sys.argv[1]) / "examples" / "submissions" / "reference", tmp / "subs" / "ada")
result = grade_submissions(tmp / "subs", tmp / "out", GradeOptions(modules=("tensors", "linear"), workers=1))
print(json.dumps({"warm_up": sorted(at_warm_up), "later": imported[len(at_warm_up):], "rewritten": rewritten,
                  "points": [result.students[0].points, result.students[0].max_points]}))
'''


def test_the_check_files_are_imported_at_the_warm_up_and_reused_by_grading():
    result = subprocess.run([sys.executable, "-c", _PRELOAD, str(ROOT)], capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["warm_up"] == ["test_linear", "test_tensors"]      # imported as pytest imports them
    assert seen["rewritten"]                                        # assertions rewritten, as in a session
    assert seen["later"] == []                                      # the grading session imported none again
    assert seen["points"][0] == seen["points"][1] > 0
