"""One student's grading, as an ordered list of small steps (``STEPS``).

Each step takes the job (the scratch folder and what earlier steps found) and adds one
thing to it:

1. ``copy_files``         the student's regular files into a private scratch folder;
2. ``extract_notebooks``  the code of each notebook, taken out on this side (nothing runs);
3. ``run_checks``         the hidden checks, with the student's code in a sandboxed worker;
4. ``assemble``           each module's result: checks, static rules, the not-submitted rule;
5. ``annotate_notebooks`` what a notebook's grading left out, and where its lines came from.

:class:`Grader` runs the steps for one student at a time, forking its workers from a zygote
(or a channel to one): each slot of the local pool (``autograder.pool``) and each Dask
worker (``autograder.cluster``) holds one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from . import notebook_code
from .checks.plugin import HIDDEN_DIR, GradingContext, Student, preload_checks, run_checks as run_plugin
from .config import AssignmentConfig
from .course import assignment_for
from .results import AssignmentResult, CheckResult, Isolation, Outcome, StudentResult, TaskResult
from .rules import static_penalties
from .sandbox.client import Worker, WorkerSettings, Zygote
from .sandbox.eager_optim import use_eager_optimizers
from .sandbox.zygotes import OPTIMIZING_MODULES, SandboxFault, needs_optimizers
from .scoring import assignment_result, not_submitted
from .submissions import Submission, content_digest, copy_submission

__all__ = ["Grader", "STEPS", "warm_up", "failure_result", "grader_folders", "isolation_of"]


def isolation_of(hellos: Iterable[dict]) -> Isolation:
    """The weakest isolation among a student's worker starts (never more than was enforced)."""
    hellos = list(hellos)
    if not hellos:
        return Isolation(notes=("no worker was started",))
    worst = {
        "filesystem": "private-root" if all(h["filesystem"] == "private-root" for h in hellos) else "none",
        "network": "none" if all(h["network"] == "none" for h in hellos) else "host",
        "processes": "private" if all(h["processes"] == "private" for h in hellos) else "shared",
        "user": "nobody" if all(h["user"] == "nobody" for h in hellos) else "same",
    }
    limits = [h["memory_limit_bytes"] for h in hellos]
    notes = tuple(sorted({n for h in hellos for n in h.get("notes", [])}))
    return Isolation(memory_limit_bytes=0 if 0 in limits else max(limits), notes=notes, **worst)


_warm = False
_warm_optimizers = False


def warm_up(modules: Iterable[str] = OPTIMIZING_MODULES) -> None:
    """One-time start-up costs of a grading process, paid before the first student.

    Sets PyTorch to one thread: checks compute references on small tensors, where one
    thread is faster (no OpenMP spinning against the worker for the cores) and gives the
    same numbers everywhere; and a process that never ran an OpenMP team may fork
    grading processes safely. When ``modules`` include one of ``OPTIMIZING_MODULES``,
    builds an optimizer once (the lazy work of a first optimizer: here, while the zygote
    starts, not in the first student's checks). The stock optimizers skip their import of
    ``torch._dynamo`` (2.5 s; :mod:`autograder.sandbox.eager_optim`) in every run. Imports
    the hidden check files of ``modules`` (:func:`~autograder.checks.plugin.preload_checks`).
    Then freezes the objects allocated so far (``gc.freeze``): the imports leave hundreds
    of thousands of objects that every full collection would otherwise walk again, for
    every student.
    """
    global _warm, _warm_optimizers
    import gc

    import torch

    torch.set_num_threads(1)
    use_eager_optimizers()
    # The first backward pass with an explicit gradient imports torch.fx's symbolic shapes
    # (and sympy, a second): here, not in the first student's checks.
    warm = torch.zeros(2, requires_grad=True)
    (warm * 2).backward(torch.ones(2))
    modules = tuple(modules)
    fresh = False
    if needs_optimizers(modules) and not _warm_optimizers:
        param = torch.zeros(1, requires_grad=True)
        param.sum().backward()
        torch.optim.SGD([param], lr=0.1).step()
        _warm_optimizers = fresh = True
    fresh |= preload_checks(HIDDEN_DIR / f"test_{m}.py" for m in modules)   # the files run_checks runs
    if _warm:
        if fresh:        # a later run of this process: freeze what it imported too
            gc.collect()
            gc.freeze()
        return
    # Hypothesis runs a full gc.collect() the first time any @given test runs in a
    # process; after the imports above that is most of a second. Pay it here too.
    from hypothesis.internal.entropy import deterministic_PRNG

    with deterministic_PRNG():
        pass
    gc.collect()
    gc.freeze()
    _warm = True


def grader_folders() -> tuple[str, ...]:
    """Where the grader's own code and the solutions live (hidden from workers)."""
    import importlib.util

    folders = [str(Path(__file__).resolve().parent)]
    spec = importlib.util.find_spec("solutions")
    if spec is not None and spec.submodule_search_locations:
        folders += [str(Path(p).resolve()) for p in spec.submodule_search_locations]
    return tuple(folders)


def _has_gpu() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*"))


@dataclass
class _Job:
    """What the steps of one student's grading build up (internal, mutable on purpose)."""

    submission: Submission
    modules: tuple[str, ...]
    folder: Path                      # the scratch copy the worker sees as /submission
    root: Path                        # the worker's private root
    notebooks: dict[str, bytes] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    extracted: dict[str, notebook_code.Extraction] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    submitted: set[str] = field(default_factory=set)
    results: list[CheckResult] = field(default_factory=list)
    collection: list[tuple[str, str]] = field(default_factory=list)
    hellos: list[dict] = field(default_factory=list)
    assignments: tuple[AssignmentResult, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


class Grader:
    """Grades one student at a time in this process, with its own zygote."""

    def __init__(self, options: Any, configs: dict[str, AssignmentConfig], data: dict, threads: int = 1,
                 zygote: Zygote | None = None, select: str | None = None):
        """``options``: a ``GradeOptions``. ``threads``: PyTorch threads of each worker (the
        grader itself computes on one). ``zygote``: one started earlier by this process or
        its parent, so that it preloads while other start-up work runs; by default a new one.
        ``select``: a pytest ``-k`` expression: only the checks it matches run (for
        ``autograder try-checks``; a grade for the record runs every check)."""
        self.options = options
        self.select = select
        self.configs = configs
        self.context = GradingContext(configs=configs, seed=options.seed, data=data,
                                      call_timeout_s=options.call_timeout_s)
        self.settings = WorkerSettings(isolate=options.isolate, memory_bytes=options.memory_bytes,
                                       threads=threads, gpu=_has_gpu(), seed=options.seed,
                                       hide=grader_folders())
        self.zygote = zygote if zygote is not None else Zygote(optimizers=needs_optimizers(options.modules))
        warm_up(options.modules)
        self._probe_result: list[dict] | None = None

    @property
    def probe(self) -> list[dict]:
        if self._probe_result is None:
            self._probe_result = self._probe()
        return self._probe_result

    def _probe(self) -> list[dict]:
        """Start one worker now: detects the isolation this machine enforces, at start-up."""
        scratch = Path(tempfile.mkdtemp(prefix="autograder-probe-"))
        try:
            (scratch / "submission").mkdir()
            (scratch / "root").mkdir()
            worker = Worker(self.zygote, str(scratch / "submission"), str(scratch / "root"), self.settings)
            try:
                worker.call("builtins.len", [])
            finally:
                worker.kill()
            return worker.isolations
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def close(self, reuse: bool = False) -> None:
        """Done grading. ``reuse``: keep the zygote for a later run in this process
        (:func:`~autograder.sandbox.zygotes.retire`, which closes it instead when it is
        dead or broken; a zygote holds no student state); otherwise close it."""
        from .sandbox.zygotes import retire

        retire([self.zygote], reuse)

    def grade(self, submission: Submission, modules: Iterable[str] | None = None) -> StudentResult:
        """Grade ``modules`` (default: the options' modules) of one student."""
        modules = tuple(modules) if modules is not None else tuple(self.options.modules)
        try:
            self.probe  # one-time: waits for the zygote's preload; not part of this student's time
        except SandboxFault as exc:
            # No worker can start (the zygote cannot): the grader's failure, reported as
            # such for each student (not graded, regraded later), never a crash of the run.
            return self._grader_failure(submission, modules, exc, time.perf_counter())
        started = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix="autograder-"))
        try:
            return self._grade(submission, modules, scratch, started)
        except Exception as exc:  # a bug of ours must not stop the batch: a report that says so
            return self._grader_failure(submission, modules, exc, started)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _grader_failure(self, submission: Submission, modules: tuple[str, ...], exc: Exception,
                        started: float) -> StudentResult:
        import traceback

        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:]
        return failure_result(submission, modules, self.configs, detail, isolation_of(self._probe_result or ()),
                              time.perf_counter() - started)

    def _grade(self, submission: Submission, modules: tuple[str, ...], scratch: Path,
               started: float) -> StudentResult:
        os.chmod(scratch, 0o700)
        job = _Job(submission, modules, scratch / "submission", scratch / "root")
        job.root.mkdir()
        for step in STEPS:
            step(self, job)
        total = time.perf_counter() - started
        worker_s, checks_s = job.timings.get("worker_start_s", 0.0), job.timings.get("checks_s", 0.0)
        return StudentResult(
            student=submission.student,
            assignments=job.assignments,
            isolation=isolation_of(job.hellos or self.probe),
            messages=tuple(job.messages),
            duration_s=round(total, 3),
            timings=(("worker_start_s", round(worker_s, 4)), ("checks_s", round(checks_s, 4)),
                     ("other_s", round(total - checks_s - worker_s, 4)),
                     ("worker_starts", job.timings.get("worker_starts", 0.0)),
                     # CPU seconds during the checks: this grading thread's (hypothesis,
                     # references, comparisons, pytest) and the sandboxed workers' (student
                     # code, their end of the wire): not phases of duration_s.
                     ("grader_cpu_s", round(job.timings.get("grader_cpu_s", 0.0), 4)),
                     ("worker_cpu_s", round(job.timings.get("worker_cpu_s", 0.0), 4))),
        )


# -- the steps --------------------------------------------------------------------------

def copy_files(grader: Grader, job: _Job) -> None:
    """The student's regular files into the scratch folder (notebooks kept as bytes)."""
    job.notebooks, job.messages = copy_submission(job.submission, job.folder)


def extract_notebooks(grader: Grader, job: _Job) -> None:
    """Each graded notebook's code, taken out here (nbformat + ast, nothing runs) and
    written as ``<module>.py`` into the scratch copy; only the worker ever runs it."""
    for module in sorted(m for m in job.notebooks if m in job.modules):
        if (job.folder / f"{module}.py").exists():
            job.notes[module] = [f"both {module}.py and {module}.ipynb were submitted: {module}.py is graded, "
                                 f"{module}.ipynb is ignored"]
            continue
        try:
            job.extracted[module] = notebook_code.extract(
                job.notebooks[module], module, execute=grader.configs[module].execute_notebook,
                reference=notebook_code.load_reference(module),
                local_modules={p.stem for p in job.folder.glob("*.py")})
        except notebook_code.NotebookError as exc:
            job.unreadable[module] = f"{exc}: its tasks score zero"
            continue
        (job.folder / f"{module}.py").write_text(job.extracted[module].source, encoding="utf-8")
    job.submitted = {m for m in job.modules if (job.folder / f"{m}.py").is_file()}


def run_checks(grader: Grader, job: _Job) -> None:
    """The hidden checks of every submitted module, in one pytest session, with the
    student's code in a sandboxed worker (restarted after a crash or a time-out)."""
    files = [HIDDEN_DIR / f"test_{m}.py" for m in job.modules
             if m in job.submitted and (HIDDEN_DIR / f"test_{m}.py").exists()]
    if not files:
        return
    worker = Worker(grader.zygote, str(job.folder), str(job.root), grader.settings)
    student = Student(worker, job.submitted, content_digest(job.folder))
    checks_started, grader_cpu = time.perf_counter(), time.thread_time()
    try:
        plugin = run_plugin(files, grader.context, student, select=grader.select)
    finally:
        worker.kill()
    job.timings["grader_cpu_s"] = time.thread_time() - grader_cpu
    job.timings["worker_cpu_s"] = worker.cpu_s
    job.timings["checks_s"] = time.perf_counter() - checks_started - worker.startup_s
    job.timings["worker_start_s"] = worker.startup_s
    job.timings["worker_starts"] = float(worker.starts)
    job.hellos = list(worker.isolations)
    job.results = list(plugin.results)
    job.collection = list(plugin.collection_errors)


def assemble(grader: Grader, job: _Job) -> None:
    """Each module's result: its checks, its static rules, the not-submitted rule."""
    job.assignments = tuple(_assignment(grader.configs[m], m, job) for m in job.modules)


def _assignment(config: AssignmentConfig, module: str, job: _Job) -> AssignmentResult:
    task_ids = assignment_for(module).task_ids
    points = {name: task.points for name, task in config.tasks.items()}
    if module not in job.submitted:
        return not_submitted(module, points, task_ids)
    verdict = static_penalties(module, (job.folder / f"{module}.py").read_bytes(), config)
    # A check file that failed to load is the grader's fault: not a grade (see scoring).
    broken = [text for nodeid, text in job.collection
              if nodeid == "<pytest>" or Path(nodeid.split("::")[0]).stem == f"test_{module}"]
    return assignment_result(module, points, task_ids, job.results, verdict.penalties, broken=broken,
                             messages=verdict.messages, source=f"{module}.py")


def annotate_notebooks(grader: Grader, job: _Job) -> None:
    job.assignments = tuple(
        notebook_code.annotate(a, job.extracted.get(a.assignment), job.unreadable.get(a.assignment),
                               job.notes.get(a.assignment, ())) for a in job.assignments)


STEPS: tuple[Callable[[Grader, _Job], None], ...] = (
    copy_files, extract_notebooks, run_checks, assemble, annotate_notebooks,
)


def failure_result(submission: Submission, modules: Iterable[str], configs: dict[str, AssignmentConfig],
                   detail: str, isolation: Isolation, duration_s: float = 0.0) -> StudentResult:
    """A report that says the grader (not the student) failed, with ``detail`` for the
    instructor in report.json. Not a grade: every check is a grader error, so no
    assignment counts, and the student's messages ask for a regrade."""
    assignments = []
    for module in modules:
        config = configs[module]
        tasks = tuple(
            TaskResult(t, config.tasks[t.split(".", 1)[1]].points,
                       (CheckResult(name="grading", task=t, outcome=Outcome.GRADER_ERROR,
                                    message="The grader failed on this submission; this is not a grade.",
                                    detail=detail),))
            for t in assignment_for(module).task_ids)
        assignments.append(AssignmentResult(assignment=module, tasks=tasks,
                                            messages=("the grader failed; this is not a grade",)))
    return StudentResult(student=submission.student, assignments=tuple(assignments), isolation=isolation,
                         messages=("the grader failed on this submission; your instructor will regrade it",),
                         duration_s=round(duration_s, 3))
