"""The pytest plugin that turns hidden checks into results.

Checks are ordinary pytest functions in ``hidden/test_<module>.py``, with registered
markers (``--strict-markers``):

- ``@pytest.mark.task("activations.softmax")``  the handout task the check grades (required;
  one of the tasks of the check file's module in :mod:`autograder.course`: a missing or
  unknown id makes the whole file a load error, see :func:`task_marker_problem`)
- ``@pytest.mark.weight(2)``                      its share of the task's points (default 1)
- ``@pytest.mark.public``                         students may see its inputs (default: hidden)

Fixtures: ``student`` (a :class:`Student`, the bridge to the submission's worker),
``grading`` (the :class:`GradingContext`: configuration, seed, data). One
:class:`GradingPlugin` per student collects every outcome, collection errors included,
as :class:`~autograder.results.CheckResult`.

Who is at fault decides the outcome (:func:`verdict`): a wrong answer is FAILED; the
student's code raising, hanging, crashing or not importing is ERROR (an import failure
is a *module failure*, :mod:`autograder.checks.loading`, the same message for every check
of the module, found before the check's body runs); the grader's own failure (a check's
bug, an invalid option, the sandbox machinery) is GRADER_ERROR, whose message says only
that, with the traceback in ``detail`` for the instructor.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import torch
from hypothesis import HealthCheck, Phase, settings

from ..config import AssignmentConfig
from ..results import CheckResult, Outcome, Visibility
from ..course import MODULES, TASK_IDS, assignment_for
from ..sandbox.client import Ref, SandboxError, SandboxFault, StudentError, Worker, WorkerCrash, WorkerTimeout
from . import fast_examples, loading
from .api import CheckFailure

__all__ = ["GradingContext", "Student", "GradingPlugin", "HIDDEN_DIR", "run_checks", "ModuleLoadError",
           "GraderFault", "verdict", "GRADER_ERROR_MESSAGE", "task_marker_problem"]

# What a student reads for a check the grader could not complete: no traceback, no path.
GRADER_ERROR_MESSAGE = ("Not graded: the grader failed on this check (not your code); your instructor has "
                        "the details and will regrade it.")


class ModuleLoadError(SandboxError):
    """The student's module could not be imported (see :mod:`autograder.checks.loading`).

    Raised before a check's body runs, so no check can catch it and judge it instead.
    """

    def __init__(self, failure: loading.ModuleFailure):
        super().__init__(failure.message)
        self.failure = failure


class GraderFault(Exception):
    """The grader's own machinery failed (not the student's code): the check is not graded."""

HIDDEN_DIR = Path(__file__).resolve().parent / "hidden"
_MARKERS = (
    "task(task_id): the handout task a check grades",
    "weight(w): the check's share of its task's points",
    "public: a check whose inputs students may see",
)

settings.register_profile(
    "grading",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=12,
    print_blob=False,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)


def _without_local_constants() -> None:
    """Hypothesis (6.131+) sometimes draws a constant found in the source of any
    "local" module (not in site-packages) imported at that moment: here, the grader's
    own modules, whose set depends on what the run has done so far (a notebook read, a
    similarity pass). The drawn inputs would then depend on the class and its order,
    not only on the submission and the seed; it also writes a cache of them into the
    current folder. The grader gives it no local constants (its built-in ones stay)."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:          # a hypothesis without local constants
        return
    if hasattr(providers, "_get_local_constants"):
        empty = Constants()
        providers._get_local_constants = lambda: empty


def _lean_examples() -> None:
    """Two things hypothesis does around every example that a grading run does not need
    (together about a tenth of a check's time):

    - before and after every draw it compares the ``random`` module's state (625 words)
      to warn strategy authors who use it; the grader's strategies draw from hypothesis
      and ``torch.Generator`` only;
    - besides seeding ``random`` for each example (kept), it saves, seeds and restores
      NumPy's global generator; no check and no reference solution uses that generator
      (where a check needs NumPy values it makes ``np.random.default_rng(seed)``), and the
      student's code runs in the worker, which seeds its own.

    Both are switched off by name; a hypothesis without them is left as it is."""
    import contextlib

    try:
        from hypothesis import control
        from hypothesis.internal import entropy
        from hypothesis.strategies._internal import core
    except ImportError:
        return

    @contextlib.contextmanager
    def no_check(*args: Any, **kwargs: Any):
        yield

    for module in (control, core):
        if hasattr(module, "deprecate_random_in_strategy"):
            module.deprecate_random_in_strategy = no_check
    if hasattr(entropy, "NP_RANDOM") and hasattr(entropy, "NumpyRandomWrapper"):
        for key, ref in list(entropy.RANDOMS_TO_MANAGE.data.items()):
            if isinstance(ref(), entropy.NumpyRandomWrapper):
                del entropy.RANDOMS_TO_MANAGE[key]
        entropy.NP_RANDOM = False     # "already registered": hypothesis registers it when None


_without_local_constants()
_lean_examples()


@dataclass
class GradingContext:
    """What checks may read about the grading run (trusted, grader side)."""

    configs: dict[str, AssignmentConfig] = field(repr=False)
    seed: int = 0
    call_timeout_s: float | None = None     # overrides every assignment's call_timeout_s
    data: dict[str, Any] = field(default_factory=dict, repr=False)


def check_seed(run_seed: int, digest: str, nodeid: str) -> int:
    """The seed of one hypothesis-driven check for one submission.

    It depends on the run's seed, the submission's content and the check, so the same
    submission is always graded on the same inputs (same report), while any change to the
    code draws new ones. A submission can always see the inputs it is called with, and
    could smuggle them out in an exception's message; with inputs that change whenever
    the code does, a table of answers for last time's inputs is worth nothing.
    """
    import hashlib

    text = f"{run_seed}\0{digest}\0{nodeid}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:16], "big")


class Student:
    """A check's handle on one submission: everything a check may do with student code.

    The code runs in a sandboxed worker; what crosses is data (tensors, numbers, strings,
    lists, dicts, named tuples), and anything else stays there as a
    :class:`~autograder.sandbox.client.Ref` (``ref(*args)``, ``ref.method(name, ...)``,
    ``ref.attr(name)``). A *target* is ``"module.func"`` (a student function or class,
    its module imported first), a library path (``"torch.nn.Linear"``, resolved in the
    worker), a ``Ref``, or ``(ref, "method")``. ``keep=True`` keeps a result in the worker
    and returns its ``Ref`` (the grader's own flag: never passed on to the call).

    A student exception arrives as :class:`~autograder.sandbox.client.StudentError`, a
    call past the time limit as ``WorkerTimeout``, a dead worker as ``WorkerCrash``: let
    them propagate (the plugin makes them the check's ERROR) unless the check is about
    them. An import failure (syntax error, exception at import, timeout) is remembered,
    so every later check of that module fails at once with the same message instead of
    paying the time limit again.
    """

    def __init__(self, worker: Worker, submitted: set[str], digest: str = ""):
        self._worker = worker
        self.submitted = submitted
        self.digest = digest          # of the graded files: seeds the hidden checks' inputs
        self._import_errors: dict[str, SandboxError] = {}

    def __repr__(self) -> str:
        # Stable across runs: hypothesis prints fixtures in its failing example.
        return "<student>"

    def module(self, name: str) -> None:
        """Make sure ``name`` is imported in the worker; raise the import's failure otherwise.

        A module that cannot load raises :class:`ModuleLoadError` (its encoding and syntax
        are checked here, on the grader's side, before the worker ever sees the file).
        """
        if name in self._import_errors:
            # A fresh exception each time: re-raising one object grows its traceback.
            raise _copy(self._import_errors[name])
        if name not in self.submitted:
            raise WorkerCrash(f"{name}.py was not submitted")
        if name in self._worker.imported and self._worker.alive:
            return
        if self._worker.broken is not None:
            # The worker died earlier in this check; that is not the import's fault.
            raise _copy(self._worker.broken)
        file = f"{name}.py"
        try:
            problem = loading.source_problem(file, (Path(self._worker.folder) / file).read_bytes())
        except OSError:
            problem = None      # the worker's import will say what is wrong
        if problem is not None:
            self._import_errors[name] = ModuleLoadError(problem)
            raise _copy(self._import_errors[name])
        try:
            self._worker.import_module(name)
        except SandboxError as exc:
            failure = self._import_failure(file, exc)
            if failure is None:
                raise
            self._import_errors[name] = ModuleLoadError(failure)
            raise _copy(self._import_errors[name]) from None

    @property
    def module_failures(self) -> dict[str, loading.ModuleFailure]:
        """module -> why it could not be imported (for a structured field of the result)."""
        return {name: exc.failure for name, exc in self._import_errors.items() if isinstance(exc, ModuleLoadError)}

    def _import_failure(self, file: str, exc: SandboxError) -> loading.ModuleFailure | None:
        """The module failure an import's exception means; None when it is not the module's
        fault (the submission's time budget ran out, the sandbox could not start)."""
        if isinstance(exc, StudentError):
            return loading.import_exception(file, exc.type_name, exc.message, exc.student_traceback, exc.mro)
        if isinstance(exc, WorkerTimeout):
            deadline = self._worker.deadline
            if deadline is not None and time.monotonic() >= deadline - 0.05:
                return None
            return loading.import_timeout(file, self._worker.call_timeout_s)
        if isinstance(exc, WorkerCrash) and not _is_machinery(exc):
            return loading.import_crash(file, str(exc))
        return None

    def _target(self, target: Any) -> Any:
        """``target``, its student module imported first when it names one."""
        if isinstance(target, str) and target.split(".", 1)[0] in MODULES:
            self.module(target.split(".", 1)[0])
        return target

    # -- calling -------------------------------------------------------------------------
    def call(self, target: Any, *args: Any, keep: bool = False, **kwargs: Any) -> Any:
        """``target(*args, **kwargs)`` in the worker: its result as data, or a ``Ref`` for
        anything that is not data (always with ``keep=True``)."""
        return self._worker.call(self._target(target), *args, keep=keep, **kwargs)

    def construct(self, target: str, *args: Any, **kwargs: Any) -> Ref:
        """Instantiate a class (a student's ``"module.Class"``, or ``"torch.optim.SGD"``);
        the instance stays in the worker: its ``Ref``."""
        return self._worker.construct(self._target(target), *args, **kwargs)

    def call_returning_args(self, target: Any, *args: Any, **kwargs: Any) -> tuple[Any, list, dict]:
        """Like :meth:`call`; returns ``(result, args, kwargs)``, the arguments as they are
        after the call (what :func:`~autograder.checks.remote.call_unmutated` compares)."""
        return self._worker.call_returning_args(self._target(target), *args, **kwargs)

    def grad(self, target: Any, args: list[Any], wrt: list[int], upstream: torch.Tensor | None = None,
             kwargs: dict | None = None) -> dict:
        """Forward and backward in one round trip: ``out = target(*args, **kwargs)`` with
        ``args[i]`` (i in ``wrt``) as fresh leaves that require grad, then
        ``out.backward(upstream)``. Returns ``{"output", "info", "grads"}``: ``info``
        describes the output (:meth:`describe`); the grads are None when the output is not
        a tensor connected to the graph (prefer
        :func:`~autograder.checks.remote.forward_backward`, which says so)."""
        return self._worker.grad(self._target(target), args, wrt, upstream, kwargs)

    def backward(self, tensor: Ref, grad: torch.Tensor | None = None) -> None:
        """``tensor.backward(grad)`` for a tensor kept in the worker."""
        self._worker.backward(tensor, grad)

    # -- objects in the worker -------------------------------------------------------------
    def put(self, value: Any) -> Ref:
        """Send data (a tensor may require grad, an ``nn.Parameter`` stays one) and keep it
        in the worker: its ``Ref``."""
        return self._worker.put(value)

    def getattr(self, target: Any, keep: bool = False) -> Any:
        """An attribute: ``target`` is ``(ref, "name")`` (or a path, a ``Ref``)."""
        return self._worker.getattr(self._target(target), keep=keep)

    def setattr(self, target: Any, name: str, value: Any) -> None:
        """``setattr(target, name, value)`` in the worker."""
        self._worker.setattr(target, name, value)

    def parameters(self, module: Ref, every_name: bool = False) -> dict[str, dict]:
        """``{name: {"value", "grad", "is_parameter", "device"}}`` of an ``nn.Module`` (or
        anything with ``named_parameters``) kept in the worker, each parameter under the
        first name ``named_parameters()`` finds for it.

        ``every_name=True``: a parameter reachable by several paths (a layer that is both
        ``self.conv1`` and ``self.block1[0]``) is listed under each of them, and every entry
        has ``"object"``, an integer that is the same for the names of one parameter."""
        return self._worker.parameters(module, every_name=every_name)

    def describe(self, target: Any) -> dict:
        """The structure of any object: ``type``; a tensor's ``shape``, ``dtype``,
        ``device``, ``requires_grad``, ``is_leaf``, ``grad_fn``; a module's ``training``,
        ``num_parameters``, ``bases``, ``devices``, ``children``; a named tuple's ``fields``
        and ``items``; ``items`` of a list or tuple, ``keys``/``values`` of a dict;
        ``value`` of a plain value; ``callable``."""
        return self._worker.describe(self._target(target))

    def free(self, *refs: Ref) -> None:
        """Let the worker drop objects it keeps (a long check that makes many)."""
        self._worker.free(*refs)

    # -- the worker's world -----------------------------------------------------------------
    def seed(self, seed: int) -> None:
        """Seed the worker's ``torch``, ``random`` and NumPy generators."""
        self._worker.seed(seed)

    @property
    def threads(self) -> int:
        """The PyTorch threads the worker computes with (a check that changes them with
        ``call("torch.set_num_threads", n)`` sets them back to this)."""
        return self._worker.settings.threads

    def simulate_machine(self, cuda: bool, mps: bool) -> None:
        """Make every public probe of CUDA and MPS in the worker describe one machine
        (:mod:`autograder.sandbox.machine`), until :meth:`unpatch` (in a ``finally``)."""
        self._worker.simulate_machine(cuda, mps)

    def patch(self, path: str, value: Any) -> None:
        """Make a library function return ``value``, until :meth:`unpatch`."""
        self._worker.patch(path, value)

    def unpatch(self) -> None:
        """Undo :meth:`patch` and :meth:`simulate_machine`."""
        self._worker.unpatch()

    @contextlib.contextmanager
    def shared_folder(self, name: str) -> Iterator[tuple[Path, str]]:
        """A new folder ``name`` the check writes and the student's code reads (files a
        student function is to load, e.g. a small MNIST root): yields ``(here, there)``,
        its path in the grader (to write to) and in the worker (to pass to student code).
        It is inside the grader's copy of the submission (never the student's own files),
        and removed at the end."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"a shared folder is named by one plain name, not {name!r}")
        here = Path(self._worker.folder) / name
        shutil.rmtree(here, ignore_errors=True)
        here.mkdir()
        try:
            yield here, self._worker.submission_path(name)
        finally:
            shutil.rmtree(here, ignore_errors=True)


def _copy(exc: SandboxError) -> SandboxError:
    if isinstance(exc, ModuleLoadError):
        return ModuleLoadError(exc.failure)
    if isinstance(exc, StudentError):
        return StudentError({"type": exc.type_name, "mro": list(exc.mro), "message": exc.message,
                             "traceback": exc.student_traceback})
    return type(exc)(str(exc))


def _marker_arg(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    if marker is None:
        return default
    return marker.args[0] if marker.args else True


def _notes(exc: BaseException) -> str:
    return "\n".join(str(n) for n in getattr(exc, "__notes__", ()) if "Falsifying" in str(n) or "(" in str(n))


# WorkerCrash messages that mean the sandbox machinery failed, not the student's code.
_MACHINERY = ("the sandbox worker failed to start",)


def _is_machinery(exc: BaseException) -> bool:
    return isinstance(exc, SandboxFault) or isinstance(exc, WorkerCrash) and str(exc).startswith(_MACHINERY)


def task_marker_problem(item: pytest.Item) -> str | None:
    """Why a check's ``@pytest.mark.task`` is not usable, or None when it is.

    The id must be one of the tasks of the check file's module (``test_<module>.py``) in
    the course's task table; any other (a typo, another module's task, no marker) would
    grade nothing, so it is refused by name, with the valid ids and the closest one.
    """
    import difflib

    module = item.path.stem.removeprefix("test_")
    valid = assignment_for(module).task_ids if module in MODULES else tuple(sorted(TASK_IDS))
    where = f"{item.path.name}:{item.location[1] + 1}: check {getattr(item, 'originalname', item.name)}"
    marker = item.get_closest_marker("task")
    if marker is None:
        return f"{where} has no @pytest.mark.task(...); give it one of: {', '.join(valid)}"
    task = marker.args[0] if len(marker.args) == 1 and not marker.kwargs else None
    if not isinstance(task, str):
        return f"{where}: @pytest.mark.task takes one task id (a str), got {marker.args!r}; choose from: {', '.join(valid)}"
    if task in valid:
        return None
    close = difflib.get_close_matches(task, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    scope = f"a task of {module}" if module in MODULES else "a task of the course"
    return f"{where}: @pytest.mark.task({task!r}) is not {scope}{hint}; the valid ids are: {', '.join(valid)}"


def _grader_fault(exc: BaseException) -> tuple[Outcome, str, str]:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Outcome.GRADER_ERROR, GRADER_ERROR_MESSAGE, detail[-8000:]


def verdict(exc: BaseException | None) -> tuple[Outcome, str, str]:
    """Map a check's exception to (outcome, student message, instructor detail).

    - None: PASSED;
    - the check's verdict (``CheckFailure``, or any ``AssertionError``): FAILED;
    - the student's code raised, hung, crashed or could not be imported: ERROR;
    - anything else is the grader's fault (the check's own bug, an invalid option, the
      sandbox machinery): GRADER_ERROR, whose message says so and nothing more; the
      traceback goes to ``detail`` (report.json only).
    """
    if exc is None:
        return Outcome.PASSED, "", ""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return verdict(exc.exceptions[0])
    if isinstance(exc, ModuleLoadError):
        return Outcome.ERROR, exc.failure.message, ""
    if isinstance(exc, CheckFailure):
        detail = "\n".join(x for x in (exc.detail.strip(), _notes(exc)) if x)
        return Outcome.FAILED, exc.message, detail
    if isinstance(exc, StudentError):
        message = f"Your code raised {exc}"
        if exc.student_traceback:
            message += f"\n{exc.student_traceback}"
        return Outcome.ERROR, message, _notes(exc)
    if isinstance(exc, GraderFault) or _is_machinery(exc):
        return _grader_fault(exc)
    if isinstance(exc, (WorkerTimeout, WorkerCrash, SandboxError)):
        text = str(exc)
        return Outcome.ERROR, text[:1].upper() + text[1:], _notes(exc)
    cause = exc.__cause__ or exc.__context__
    if _is_flaky(exc) and cause is not None:
        # hypothesis replays a failure and it did not happen again: judge the first one
        return verdict(cause)
    if isinstance(exc, pytest.fail.Exception):
        return Outcome.FAILED, str(exc.msg), ""
    if isinstance(exc, AssertionError):
        # a plain assert in a check is its verdict too
        message = str(exc).split("\nassert ")[0].strip() or "the check's assertion failed"
        return Outcome.FAILED, message, _notes(exc)
    return _grader_fault(exc)


def _is_flaky(exc: BaseException) -> bool:
    try:
        from hypothesis.errors import Flaky
    except ImportError:   # pragma: no cover - hypothesis is a dependency
        return False
    return isinstance(exc, Flaky)


class GradingPlugin:
    """Collects one :class:`CheckResult` per check of one student's pytest session."""

    def __init__(self, context: GradingContext, student: Student):
        self.context = context
        self._student = student
        self.results: list[CheckResult] = []
        self.collection_errors: list[tuple[str, str]] = []
        self._started: dict[str, float] = {}
        self._recorded: set[str] = set()       # node ids with a result (a teardown error adds none)
        self._current_module: str | None = None

    # -- configuration -------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        for line in _MARKERS:
            config.addinivalue_line("markers", line)
        settings.load_profile("grading")

    @pytest.fixture
    def student(self) -> Student:
        return self._student

    @pytest.fixture
    def grading(self) -> GradingContext:
        return self.context

    # -- outcomes ------------------------------------------------------------------
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append((report.nodeid, str(report.longrepr)))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """A check file with a check whose task id is missing or unknown does not load: none
        of its checks run, and the error names each such check, its id and the valid ids
        (its module is then not graded, never graded without that check)."""
        problems: dict[Path, list[str]] = {}
        names: dict[Path, str] = {}
        for item in items:
            problem = task_marker_problem(item)
            if problem is not None:
                lines = problems.setdefault(item.path, [])
                names[item.path] = item.nodeid.split("::")[0] or item.path.name
                if problem not in lines:          # once per check, not per parameter
                    lines.append(problem)
        if problems:
            items[:] = [item for item in items if item.path not in problems]
            for file, lines in problems.items():
                self.collection_errors.append((names[file], "the checks of this file do not load:\n" + "\n".join(lines)))

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        module = item.path.stem.removeprefix("test_")
        worker = self._student._worker
        if module != self._current_module:
            self._current_module = module
            config = self.context.configs.get(module)
            worker.call_timeout_s = self.context.call_timeout_s or (config.call_timeout_s if config else 10.0)
            worker.deadline = time.monotonic() + (config.submission_timeout_s if config else 180.0)
        worker.begin_check()
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            # What @hypothesis.seed does, per check and per submission (see check_seed).
            item.obj._hypothesis_internal_use_seed = check_seed(self.context.seed, self._student.digest, item.nodeid)
            # The key of the example database, which grading does not use (database=None):
            # hypothesis would hash the check's source to make it, for every check.
            item.obj._hypothesis_internal_database_key = None
        self._started[item.nodeid] = time.perf_counter()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """Import the student's module first: if that fails, the check fails with the
        import's error at once, without running (and shrinking) its examples."""
        if self._current_module in self.context.configs:     # set by pytest_runtest_setup
            self._student.module(self._current_module)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """Run a hypothesis check through :mod:`.fast_examples` (its examples without the
        search engine; the engine shrinks a failure); any other check as pytest does."""
        test = pyfuncitem.obj
        if not getattr(test, "is_hypothesis_test", False):
            return None
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        fast_examples.run_examples(test, kwargs)   # from the seed set in pytest_runtest_setup
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport | None:
        """Record the check's result, and build pytest's report cheaply.

        pytest's own report renders the traceback with source for every failure, which
        costs far more than the check itself; nobody reads it here.
        """
        exc = call.excinfo.value if call.excinfo is not None else None
        if exc is not None and isinstance(exc, pytest.skip.Exception):
            return None
        if call.when == "call" or exc is not None:
            self._record(item, call, exc)
        return pytest.TestReport(
            item.nodeid, item.location, keywords={}, outcome="passed" if exc is None else "failed",
            longrepr=None if exc is None else f"{type(exc).__name__}: {str(exc)[:200]}",
            when=call.when, sections=[], duration=call.duration, start=call.start, stop=call.stop,
        )

    def _record(self, item: pytest.Item, call: pytest.CallInfo, exc: BaseException | None) -> None:
        if call.when == "teardown" and item.nodeid in self._recorded:
            return
        self._recorded.add(item.nodeid)
        result, message, detail = verdict(exc)
        task = _marker_arg(item, "task", None)
        if task is None:
            result, message = Outcome.GRADER_ERROR, GRADER_ERROR_MESSAGE
            detail = f"check {item.nodeid} has no @pytest.mark.task"
        self.results.append(CheckResult(
            name=item.name,
            task=str(task),
            outcome=result,
            weight=float(_marker_arg(item, "weight", 1.0)),
            visibility=Visibility.PUBLIC if item.get_closest_marker("public") else Visibility.HIDDEN,
            message=message,
            detail=detail,
            duration_s=round(time.perf_counter() - self._started.get(item.nodeid, time.perf_counter()), 3),
        ))


# pytest plugins a grading session does not use (plugins installed in the environment are
# not loaded either: --disable-plugin-autoload). Some cost real time per session, i.e. per
# student: ``unraisableexception`` runs gc.collect() twice at the end of every session
# (about 0.3 s each with torch's objects on the heap), ``logging`` wraps every check in
# log capture. None of them can change an outcome: results come from our own plugin.
UNUSED_PLUGINS = ("terminal", "cacheprovider", "faulthandler", "warnings", "unraisableexception",
                  "threadexception", "logging", "pastebin", "junitxml", "doctest", "stepwise", "setuponly",
                  "setupplan", "legacypath", "subtests")


def _session_args(files: list[Path]) -> list[str]:
    args = [str(f) for f in files] + [
        "-c", str(HIDDEN_DIR / "pytest.ini"), "--rootdir", str(HIDDEN_DIR), "--strict-markers", "-s",
        "--disable-plugin-autoload",
    ]
    for name in UNUSED_PLUGINS:
        args += ["-p", f"no:{name}"]
    return args


def preload_checks(files) -> bool:
    """Import the check files ``files`` now, as a grading session imports them (pytest's
    import, assertions rewritten), unless a module of that name is imported already;
    True when it imported any.

    A grading session finds them in ``sys.modules`` then: a process pays their import (and
    the rewriting of their asserts) before its first student, not in that student's
    checks, and grading processes forked afterwards do not pay it each again. A file that
    fails to import is not kept: the first session imports it again and reports why."""
    files = [f for f in map(Path, files) if f.exists() and f.stem not in sys.modules]
    if files:
        plugin = GradingPlugin(GradingContext(configs={}), None)   # type: ignore[arg-type]  # nothing runs
        pytest.main(_session_args(files) + ["--collect-only"], plugins=[plugin])
    return bool(files)


def run_checks(files: list[Path], context: GradingContext, student: Student,
               select: str | None = None) -> GradingPlugin:
    """Run the check files against one student's worker and return the filled plugin.

    ``select``: a pytest ``-k`` expression; only the checks it matches run (``autograder
    try-checks``; grading runs every check)."""
    plugin = GradingPlugin(context, student)
    args = _session_args(files)
    if select:
        args += ["-k", select]
    code = pytest.main(args, plugins=[plugin])
    nothing_left = code is pytest.ExitCode.NO_TESTS_COLLECTED and plugin.collection_errors   # they say why
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not plugin.results and not nothing_left:
        # pytest stopped before running anything (usage or internal error): say so.
        plugin.collection_errors.append(("<pytest>", f"pytest exited with {code!r} before running the checks"))
    return plugin
