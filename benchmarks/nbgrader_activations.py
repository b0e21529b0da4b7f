"""The ``activations`` assignment as an instructor would write it for nbgrader, and a class
of students who submit it, for comparing ``nbgrader autograde`` with ``autograder grade``.

The course (``make_course``) is a plain nbgrader course: ``nbgrader_config.py``, a source
notebook ``source/activations/activations.ipynb`` and the release notebook that
``nbgrader generate_assignment`` makes of it. The source notebook holds:

- a locked set-up cell (``import torch``) and a locked cell of the instructor's test
  helpers (seeded inputs, comparisons with PyTorch's own functions, a check for the
  functions the assignment does not allow);
- one solution cell per task (the reference code of ``solutions/activations.py`` between
  ``### BEGIN SOLUTION`` / ``### END SOLUTION``, which nbgrader replaces by its stub);
- one autograded test cell per task, worth the task's points of
  ``assignments/03_activations/config.toml`` (so the notebook's maximum is 100), of plain
  ``assert`` statements.

The test cells check what the grader's hidden checks check, as an instructor would in a
notebook: values against PyTorch's functions on 12 seeded inputs per task (both float
dtypes, shapes from 0-d to 3-d, the keyword arguments of the hidden checks), the input
gradient against PyTorch's on 12 more, finite and right values and gradients for inputs
up to ±1e4, 0-d tensors and the default arguments, the input left unmodified, and no
forbidden function reached from the task's function (by its bytecode: globals that are
PyTorch's activations, losses or their modules, and method calls such as ``.sigmoid()``;
the student's own helpers are followed). nbgrader runs them in the student's kernel, as
nbgrader does; the cost of a test cell is milliseconds, so a run is dominated by what
nbgrader does per notebook (a kernel per notebook, the gradebook), which is what the
comparison measures.

A student's submission (``student_notebook``) is the release notebook with the student's
``activations.py`` filled in: the module's preamble (docstring, imports) into the first
solution cell, each task's function, with the helpers and statements just before it, into
the task's solution cell, and what follows the last task into that task's cell (so each
cell defines what its task needs, before the test cells run). A task the student did not
write keeps nbgrader's stub.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = "activations"
CONFIG = ROOT / "assignments" / "03_activations" / "config.toml"
SOLUTION = ROOT / "solutions" / f"{MODULE}.py"
BIN = Path(sys.executable).parent
# nbgrader's commands shell out to `alembic` (and jupyter), found on PATH: this environment's bin/ first.
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

__all__ = ["MODULE", "ENV", "NbgraderMissing", "require_nbgrader", "task_points", "source_notebook",
           "make_course", "student_notebook", "place_submissions", "autograde", "scores"]


class NbgraderMissing(RuntimeError):
    """nbgrader (the package or its ``nbgrader`` command) is not in this environment."""


def require_nbgrader() -> Path:
    """The ``nbgrader`` command of this environment; raises ``NbgraderMissing`` saying what to do."""
    import importlib.util

    command = BIN / "nbgrader"
    if importlib.util.find_spec("nbgrader") is None or not command.exists():
        raise NbgraderMissing(
            f"nbgrader is not installed in this environment ({sys.prefix}; no {command}): install it with "
            f"`{sys.executable} -m pip install nbgrader`, or leave the nbgrader comparison out (--only ...).")
    return command


def task_points() -> dict[str, int]:
    """{task: points} of the assignment, in the config's order (the notebook's cell order)."""
    with CONFIG.open("rb") as handle:
        return {task: int(table["points"]) for task, table in tomllib.load(handle)["tasks"].items()}


# -- the source notebook ------------------------------------------------------------------------
SETUP = "import torch"

HELPERS = '''\
# The instructor's test helpers (run this cell before the tests).
import dis
import types

import torch
import torch.nn.functional as F

DTYPES = (torch.float32, torch.float64)
SHAPES = ((), (1,), (7,), (3, 4), (2, 3, 5), (4, 1, 3))
LARGE = torch.tensor([-1e4, -1e3, -100.0, -20.0, -1.0, 0.0, 1.0, 20.0, 100.0, 1e3, 1e4])
N = 12   # inputs per check, as many as the grader's hidden checks draw

# Not allowed in this assignment: PyTorch's own activations and losses, in any spelling.
_NN = torch.nn
FORBIDDEN_OBJECTS = (torch.sigmoid, torch.tanh, torch.relu, torch.softmax, torch.log_softmax, torch.logsumexp,
                     F, torch.special, _NN.Sigmoid, _NN.Tanh, _NN.ReLU, _NN.LeakyReLU, _NN.ELU, _NN.Softmax,
                     _NN.LogSoftmax, _NN.MSELoss, _NN.BCELoss, _NN.CrossEntropyLoss, _NN.NLLLoss)
FORBIDDEN_ATTRIBUTES = {"sigmoid", "tanh", "relu", "softmax", "log_softmax", "logsumexp", "functional", "special",
                        "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softmax", "LogSoftmax", "MSELoss",
                        "BCELoss", "CrossEntropyLoss", "NLLLoss", "expit"}


def inputs(n=N, min_dims=0, low=-10.0, high=10.0, avoid_zero=0.0, seed=0):
    """n seeded tensors: both dtypes, shapes from SHAPES with at least min_dims dimensions."""
    shapes = [s for s in SHAPES if len(s) >= min_dims]
    generator = torch.Generator().manual_seed(seed)
    for i in range(n):
        x = low + (high - low) * torch.rand(shapes[i % len(shapes)], generator=generator, dtype=torch.float64)
        if avoid_zero:
            x = torch.where(x.abs() < avoid_zero, torch.full_like(x, avoid_zero), x)
        yield x.to(DTYPES[i % 2])


def call(fn, *args, **kwargs):
    """fn(*args, **kwargs), checking that it returns a tensor and leaves its inputs alone."""
    before = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    out = fn(*args, **kwargs)
    for a, b in zip(args, before):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), f"{fn.__name__} modified its input"
    assert isinstance(out, torch.Tensor), f"{fn.__name__} returned {type(out).__name__}, not a tensor"
    return out


def assert_close(got, want, what, rtol=1e-5, atol=1e-6):
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert torch.isfinite(got).all() or not torch.isfinite(want).all(), f"{what}: nan or inf in {got}"
    assert torch.allclose(got, want, rtol=rtol, atol=atol), f"{what}: got {got}, expected {want}"


def assert_gradients(fn, ref, args, wrt=(0,), upstream=None, rtol=1e-4, atol=1e-5, **kwargs):
    """The gradients of fn(*args) with respect to args[wrt] against ref's."""
    grads = []
    for f in (fn, ref):
        leaves = [a.detach().clone().requires_grad_(i in wrt) if isinstance(a, torch.Tensor) and a.is_floating_point()
                  else a for i, a in enumerate(args)]
        out = f(*leaves, **kwargs)
        out.backward(torch.ones_like(out) if upstream is None else upstream)
        grads.append([leaves[i].grad for i in wrt])
    for i, got, want in zip(wrt, *grads):
        assert got is not None, f"the gradient of {fn.__name__} with respect to argument {i + 1} is None"
        assert_close(got, want, f"the gradient of {fn.__name__}", rtol=rtol, atol=atol)


def _codes(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def assert_allowed(fn, _seen=None):
    """No forbidden function is reached from fn (its globals and method calls; its helpers followed)."""
    seen = set() if _seen is None else _seen
    if fn in seen:
        return
    seen.add(fn)
    for code in _codes(fn.__code__):
        for ins in dis.get_instructions(code):
            if ins.opname == "LOAD_GLOBAL":
                name = ins.argval
                obj = fn.__globals__.get(name, getattr(__builtins__, name, None))
                assert not any(obj is f or (isinstance(f, type) and isinstance(obj, f)) for f in FORBIDDEN_OBJECTS), \
                    f"{fn.__name__} uses {name}, not allowed"
                if isinstance(obj, types.FunctionType) and obj.__module__ == fn.__module__:
                    assert_allowed(obj, seen)
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in FORBIDDEN_ATTRIBUTES:
                assert False, f"{fn.__name__} uses .{ins.argval}, not allowed"
'''

# The reference of each task, as the test cells compute it: PyTorch's own function (the
# binary cross entropy clamped to [1e-7, 1 - 1e-7], as the handout asks).
_ELEMENTWISE_TEST = '''\
# {task}: values, gradients, large inputs, 0-d, allowed functions
ref = {ref}
for i, x in enumerate(inputs(seed=1)):
    kwargs = {kwargs}[i % {n_kwargs}]
    assert_close(call({task}, x, **kwargs), ref(x, **kwargs), "{task}(x)")
for i, x in enumerate(inputs(min_dims=1, seed=2, avoid_zero={avoid_zero})):
    kwargs = {kwargs}[i % {n_kwargs}]
    upstream = torch.rand(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(i)) * 4 - 2
    assert_gradients({task}, ref, [x], upstream=upstream, **kwargs)
for dtype in DTYPES:
    x = LARGE.to(dtype)
    assert_close(call({task}, x), ref(x), "{task}(x) for inputs up to 1e4")
    keep = x != 0 if {kinked} else torch.ones_like(x, dtype=torch.bool)
    assert_gradients({task}, ref, [x[keep]])
assert_close(call({task}, torch.tensor(0.5)), ref(torch.tensor(0.5)), "{task} of a 0-d tensor")
{extra}assert_allowed({task})
'''

_NORMALISE_TEST = '''\
# {task}: values and gradients along every dim, large logits, the default dim, allowed functions
ref = {ref}
for i, x in enumerate(inputs(min_dims=1, low=-30, high=30, seed=3)):
    dim = i % x.dim() - (i % 2) * x.dim()          # positive and negative dims
    assert_close(call({task}, x, dim=dim), ref(x, dim=dim), f"{task}(x, dim={{dim}})", rtol=1e-4)
for i, x in enumerate(inputs(min_dims=1, seed=4)):
    dim = i % x.dim()
    upstream = torch.rand(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(i)) * 4 - 2
    assert_gradients({task}, ref, [x], upstream=upstream, dim=dim)
x = torch.tensor([[1e4, 0.0, -1e4], [1e4, 1e4 - 1, 1e4 - 2], [-1e4, -1e4, -1e4]])
assert_close(call({task}, x, dim=-1), ref(x, dim=-1), "{task}(x) for logits up to 1e4", rtol=1e-4, atol=2e-3)
assert_gradients({task}, ref, [x], upstream=torch.linspace(-1, 1, 9).reshape(3, 3), atol=2e-3, dim=-1)
x = torch.arange(6.0).reshape(2, 3)
assert_close(call({task}, x), ref(x, dim=-1), "{task}(x) with the default dim")
{extra}assert_allowed({task})
'''

_TESTS = {
    "sigmoid": _ELEMENTWISE_TEST.format(task="sigmoid", ref="torch.sigmoid", kwargs="[{}]", n_kwargs=1,
                                        avoid_zero=0.0, kinked=False, extra=""),
    "tanh": _ELEMENTWISE_TEST.format(task="tanh", ref="torch.tanh", kwargs="[{}]", n_kwargs=1, avoid_zero=0.0,
                                     kinked=False, extra=""),
    "relu": _ELEMENTWISE_TEST.format(
        task="relu", ref="torch.relu", kwargs="[{}]", n_kwargs=1, avoid_zero=1e-3, kinked=True,
        extra="assert torch.equal(relu(torch.tensor([-1.0, 0.0, 2.0])), torch.tensor([0.0, 0.0, 2.0]))\n"),
    "leaky_relu": _ELEMENTWISE_TEST.format(
        task="leaky_relu", ref="F.leaky_relu", kwargs='[{}, {"negative_slope": 0.2}, {"negative_slope": 0.05}]',
        n_kwargs=3, avoid_zero=1e-3, kinked=True,
        extra="assert_close(call(leaky_relu, torch.tensor([-1.0, 2.0])), torch.tensor([-0.01, 2.0]), "
              '"leaky_relu with the default slope")\n'),
    "elu": _ELEMENTWISE_TEST.format(
        task="elu", ref="F.elu", kwargs='[{}, {"alpha": 0.5}, {"alpha": 2.0}]', n_kwargs=3,
        avoid_zero="1e-3 if kwargs.get('alpha', 1.0) != 1.0 else 0.0", kinked=False,
        extra='assert_close(call(elu, torch.tensor([-1.0, 2.0])), F.elu(torch.tensor([-1.0, 2.0])), '
              '"elu with the default alpha")\n'),
    "softmax": _NORMALISE_TEST.format(
        task="softmax", ref="torch.softmax",
        extra="for x in inputs(min_dims=1, seed=5):\n"
              "    total = call(softmax, x, dim=-1).sum(dim=-1)\n"
              "    assert torch.allclose(total, torch.ones_like(total)), \"softmax's rows do not sum to 1\"\n"),
    "log_softmax": _NORMALISE_TEST.format(task="log_softmax", ref="torch.log_softmax", extra=""),
    "mse_loss": '''\
# mse_loss: values and gradients (both arguments), allowed functions
for i, pred in enumerate(inputs(min_dims=1, seed=6)):
    target = torch.rand(pred.shape, dtype=pred.dtype, generator=torch.Generator().manual_seed(i)) * 20 - 10
    assert_close(call(mse_loss, pred, target), F.mse_loss(pred, target), "mse_loss(pred, target)")
    assert_gradients(mse_loss, F.mse_loss, [pred, target], wrt=(0, 1))
assert_close(call(mse_loss, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0])), torch.tensor(2.0), "mse_loss")
assert_allowed(mse_loss)
''',
    "binary_cross_entropy": '''\
# binary_cross_entropy: values (probabilities 0 and 1 included), gradients, allowed functions
def ref_bce(probs, target):
    p = probs.clamp(1e-7, 1 - 1e-7)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()

def assert_bce(got, probs, target, what):
    # The clamp in the input's dtype (in float32, 1 - 1e-7 rounds to 1 - 1.19e-7) or in float64: both right.
    wide = ref_bce(probs.double(), target.double()).to(probs.dtype)
    assert any(torch.allclose(got, want, rtol=1e-4, atol=1e-5) for want in (ref_bce(probs, target), wide)), \\
        f"{what}: got {got}, expected {ref_bce(probs, target)}"
    assert_close(got, wide, what, rtol=0.1, atol=1.0)   # shape, dtype, finite

EDGES = torch.tensor([0.0, 1.0, 0.5, 1e-9, 1 - 1e-9], dtype=torch.float64)
for i in range(N):
    generator = torch.Generator().manual_seed(100 + i)
    dtype, n = DTYPES[i % 2], 1 + i
    probs = torch.rand(n, dtype=torch.float64, generator=generator)
    if i % 2:
        planted = torch.rand(n, generator=generator) < 0.5
        probs = torch.where(planted, EDGES[torch.randint(5, (n,), generator=generator)], probs)
    probs, target = probs.to(dtype), (torch.rand(n, generator=generator) < 0.5).to(dtype)
    assert_bce(call(binary_cross_entropy, probs, target), probs, target, "binary_cross_entropy(probs, target)")
for i in range(N):
    generator = torch.Generator().manual_seed(300 + i)
    dtype, n = DTYPES[i % 2], 1 + i
    probs = (0.01 + 0.98 * torch.rand(n, dtype=torch.float64, generator=generator)).to(dtype)
    target = torch.rand(n, dtype=torch.float64, generator=generator).to(dtype)
    assert_gradients(binary_cross_entropy, ref_bce, [probs, target], wrt=(0,))
for shape in ((2, 3), (3, 1, 2)):          # the mean over every element, whatever the shape
    generator = torch.Generator().manual_seed(len(shape))
    probs = torch.rand(shape, generator=generator) * 0.98 + 0.01
    target = (torch.rand(shape, generator=generator) > 0.5).float()
    assert_bce(call(binary_cross_entropy, probs, target), probs, target, f"binary_cross_entropy of shape {shape}")
probs, target = torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])
assert_bce(call(binary_cross_entropy, probs, target), probs, target, "binary_cross_entropy at 0 and 1")
assert_allowed(binary_cross_entropy)
''',
    "cross_entropy": '''\
# cross_entropy: values and gradients, large logits, allowed functions
for i in range(N):
    generator = torch.Generator().manual_seed(200 + i)
    dtype, batch, classes = DTYPES[i % 2], 1 + i % 5, 2 + i % 6
    logits = (torch.rand(batch, classes, dtype=torch.float64, generator=generator) * 20 - 10).to(dtype)
    labels = torch.randint(classes, (batch,), generator=generator)
    assert_close(call(cross_entropy, logits, labels), F.cross_entropy(logits, labels), "cross_entropy", rtol=1e-4)
    assert_gradients(cross_entropy, F.cross_entropy, [logits, labels], wrt=(0,))
logits, labels = torch.tensor([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]]), torch.tensor([2, 1])
assert_close(call(cross_entropy, logits, labels), F.cross_entropy(logits, labels), "cross_entropy for large logits",
             rtol=1e-4, atol=2e-3)
assert_gradients(cross_entropy, F.cross_entropy, [logits, labels], wrt=(0,), atol=2e-3)
assert_allowed(cross_entropy)
''',
}


def _cell_meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
               points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _reference_definitions() -> dict[str, str]:
    """{task: the reference's definition, with its solution markers}."""
    from autograder.release.notebooks import split_definitions

    _, definitions = split_definitions(SOLUTION.read_text())
    return dict(definitions)


def source_notebook() -> dict:
    """The nbgrader source notebook (nbformat 4 JSON as a dict)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    points = task_points()
    missing = set(points) - set(_TESTS)
    if missing:
        raise RuntimeError(f"the benchmark's nbgrader notebook has no test cell for the tasks {sorted(missing)}")
    reference = _reference_definitions()
    cells = [new_markdown_cell("# Activations and losses\n\nWrite each function in its cell; the test cells "
                               "below each one are graded.", metadata=_cell_meta("intro", locked=True)),
             new_code_cell(SETUP, metadata=_cell_meta("setup", locked=True)),
             new_code_cell(HELPERS, metadata=_cell_meta("test-helpers", locked=True))]
    for task, task_points_ in points.items():
        code = reference[task]
        if BEGIN not in code:
            raise RuntimeError(f"{SOLUTION}: {task} has no {BEGIN} region")
        cells.append(new_code_cell(code, metadata=_cell_meta(f"{task}-solution", solution=True)))
        cells.append(new_code_cell(_TESTS[task], metadata=_cell_meta(f"test-{task}", grade=True, locked=True,
                                                                     points=task_points_)))
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python",
                                                                  "name": "python3"}})
    nbformat.validate(notebook)
    return json.loads(nbformat.writes(notebook))


# -- the course and the class ---------------------------------------------------------------------
_NBGRADER_CONFIG = '''\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "bench"
c.CourseDirectory.db_assignments = [dict(name="{module}")]
'''


def _nbgrader(course: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    result = subprocess.run([str(require_nbgrader()), *args], cwd=course, env=ENV, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` in {course} failed (exit {result.returncode}):\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def make_course(course: Path) -> dict:
    """Write the course into the (new) folder ``course`` and generate the release notebook;
    returns the release notebook."""
    require_nbgrader()
    source = course / "source" / MODULE / f"{MODULE}.ipynb"
    source.parent.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(_NBGRADER_CONFIG.format(module=MODULE))
    source.write_text(json.dumps(source_notebook(), indent=1))
    _nbgrader(course, "generate_assignment", MODULE)
    return json.loads((course / "release" / MODULE / f"{MODULE}.ipynb").read_text())


def _names(text: str) -> tuple[set[str], set[str]]:
    """(top-level names a chunk of a module defines, every name it reads)."""
    tree = ast.parse(text)
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return defined, {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def student_notebook(release: dict, code: str) -> dict:
    """The release notebook with the student's module ``code`` filled into its solution cells.

    The preamble (docstring, imports) goes into the first solution cell. Each task's
    function goes into its task's cell with the helpers and statements just before it in
    the file (what follows the last task, into that task's cell). nbgrader runs the cells
    top to bottom with each task's test cell right after its solution cell, so a
    definition that an earlier task uses (``sigmoid`` written with the student's
    ``tanh``) moves up into that task's cell, as a student whose notebook passes would
    have written it; the cell it left says where it went. A task the student did not
    write keeps nbgrader's stub.
    """
    from autograder.release.notebooks import split_definitions

    notebook = json.loads(json.dumps(release))
    solution_cells = {c["metadata"]["nbgrader"]["grade_id"].removesuffix("-solution"): c
                      for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")}
    tasks = list(solution_cells)
    preamble, definitions = split_definitions(code)
    # Each chunk's cell: its task's, or (a helper) the next task's in the file, else the last task's.
    cells: list[int | None] = [tasks.index(name) if name in tasks else None for name, _ in definitions]
    following = None
    for i in reversed(range(len(cells))):
        following = cells[i] if cells[i] is not None else following
        cells[i] = following
    last = next((c for c in reversed(cells) if c is not None), 0)
    cells = [last if c is None else c for c in cells]
    names = [_names(text) for _, text in definitions]
    changed = True
    while changed:                               # a chunk moves up to the earliest cell that needs it
        changed = False
        for user, (_, used) in enumerate(names):
            for provider, (defined, _) in enumerate(names):
                if provider != user and defined & used and cells[user] < cells[provider]:
                    cells[provider], changed = cells[user], True
    filled: dict[str, list[str]] = {task: [] for task in tasks}
    for (name, text), cell in zip(definitions, cells):
        filled[tasks[cell]].append(text)
    if preamble.strip():                         # docstring and imports: the first cell, run first
        filled[tasks[0]].insert(0, preamble)
    for (name, _), cell in zip(definitions, cells):
        if name in filled and tasks[cell] != name and not filled[name]:
            filled[name] = [f"# {name} is defined above, in the cell of {tasks[cell]}."]
    for task, cell in solution_cells.items():
        if filled[task]:
            cell["source"] = "\n\n\n".join(filled[task])
    return notebook


def place_submissions(course: Path, release: dict, students: dict[str, str]) -> None:
    """Each student's notebook as nbgrader's submitted/<student>/activations/activations.ipynb."""
    for student, code in students.items():
        folder = course / "submitted" / student / MODULE
        folder.mkdir(parents=True)
        (folder / f"{MODULE}.ipynb").write_text(json.dumps(student_notebook(release, code), indent=1))
        (folder / "timestamp.txt").write_text("2026-01-15 09:30:00.000000 UTC")


def autograde(course: Path, timeout: float = 3600) -> subprocess.CompletedProcess:
    """``nbgrader autograde activations`` in the course (every submitted student)."""
    return _nbgrader(course, "autograde", MODULE, timeout=timeout)


def scores(course: Path) -> dict[str, float]:
    """{student: nbgrader's score of the assignment} from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {s.student.id: float(s.score) for s in gradebook.assignment_submissions(MODULE)}
