"""Grade a folder of submissions: the core that ``autograder grade`` calls.

For each student (in parallel, one grading process per worker slot): copy the files into
a scratch folder, run the static checks, start a sandboxed worker, run the hidden checks
through the pytest plugin, and assemble a :class:`~autograder.results.StudentResult`.
The main process writes each student's reports as results arrive, then the gradebook.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import __version__, notebook_code
from .checks import static
from .checks.plugin import HIDDEN_DIR, GradingContext, Student, run_checks
from .config import AssignmentConfig, load_course
from .course import MODULES, assignment_for
from .errors import AutograderError, OutputError, SubmissionsError
from .results import AssignmentResult, CheckResult, ClassResult, Isolation, Outcome, StudentResult, TaskResult
from .sandbox.client import Worker, WorkerSettings, Zygote
from .submissions import Submission, content_digest, copy_submission, discover

__all__ = ["GradeOptions", "grade_submissions", "Grader"]


@dataclass(frozen=True)
class GradeOptions:
    """Everything ``autograder grade`` can set. Defaults are defined here only."""

    modules: tuple[str, ...] = MODULES
    workers: int = field(default_factory=lambda: max(1, len(os.sched_getaffinity(0))))
    call_timeout_s: float | None = None      # overrides every assignment's call_timeout_s
    mnist_root: Path | None = None
    seed: int = 0
    isolate: bool = True
    memory_bytes: int = 4 << 30
    nbgrader_course: Path | None = None       # write the scores into this nbgrader course's gradebook
    scheduler: str | None = None              # a Dask scheduler address, or "local:N"; None: the local pool


def _isolation(hellos: Iterable[dict]) -> Isolation:
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


def warm_up() -> None:
    """One-time start-up costs of a grading process, paid before the first student.

    Sets PyTorch to one thread: checks compute references on small tensors, where one
    thread is faster (no OpenMP spinning against the worker for the cores) and gives the
    same numbers everywhere; and a process that never ran an OpenMP team may fork
    grading processes safely. Then freezes the objects allocated so far (``gc.freeze``):
    the imports leave hundreds of thousands of objects that every full collection would
    otherwise walk again, for every student.
    """
    global _warm
    if _warm:
        return
    import gc

    import torch

    torch.set_num_threads(1)
    # The grader's own first optimizer step imports torch._dynamo lazily (seconds);
    # pay it here, while the zygote starts, not inside the first student's check.
    param = torch.zeros(1, requires_grad=True)
    param.sum().backward()
    torch.optim.SGD([param], lr=0.1).step()
    # Hypothesis runs a full gc.collect() the first time any @given test runs in a
    # process; after the imports above that is most of a second. Pay it here too.
    from hypothesis.internal.entropy import deterministic_PRNG

    with deterministic_PRNG():
        pass
    gc.collect()
    gc.freeze()
    _warm = True


class Grader:
    """Grades one student at a time in this process, with its own zygote."""

    def __init__(self, options: GradeOptions, configs: dict[str, AssignmentConfig], data: dict, threads: int = 1,
                 zygote: Zygote | None = None):
        """``threads``: PyTorch threads of each worker (the grader itself computes on one).
        ``zygote``: one started earlier by this process or its parent, so that it preloads
        while other start-up work runs; by default a new one."""
        self.options = options
        self.configs = configs
        self.context = GradingContext(configs=configs, seed=options.seed, data=data,
                                      call_timeout_s=options.call_timeout_s)
        self.settings = WorkerSettings(isolate=options.isolate, memory_bytes=options.memory_bytes,
                                       threads=threads, gpu=_has_gpu(), seed=options.seed,
                                       hide=_grader_folders())
        self.zygote = zygote if zygote is not None else Zygote()
        warm_up()
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

    def close(self) -> None:
        self.zygote.close()

    def grade(self, submission: Submission) -> StudentResult:
        self.probe  # one-time: waits for the zygote's preload; not part of this student's time
        started = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix="autograder-"))
        try:
            return self._grade(submission, scratch, started)
        except Exception as exc:  # a bug of ours must not stop the batch: a zero report that says so
            return self._grader_failure(submission, exc, started)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _grader_failure(self, submission: Submission, exc: Exception, started: float) -> StudentResult:
        import traceback

        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:]
        return failure_result(submission, self.options.modules, self.configs, detail, _isolation(self.probe),
                              time.perf_counter() - started)

    def _grade(self, submission: Submission, scratch: Path, started: float) -> StudentResult:
        os.chmod(scratch, 0o700)
        folder, root = scratch / "submission", scratch / "root"
        root.mkdir()
        notebooks, messages = copy_submission(submission, folder)
        # Notebooks: the code is taken out on this side (nbformat + ast, nothing runs) and
        # written as <module>.py into the scratch copy; only the worker ever runs it.
        extracted: dict[str, notebook_code.Extraction] = {}
        unreadable: dict[str, str] = {}
        notes: dict[str, list[str]] = {}
        for module in sorted(m for m in notebooks if m in self.options.modules):
            if (folder / f"{module}.py").exists():
                notes[module] = [f"both {module}.py and {module}.ipynb were submitted: {module}.py is graded, "
                                 f"{module}.ipynb is ignored"]
                continue
            try:
                extracted[module] = notebook_code.extract(
                    notebooks[module], module, execute=self.configs[module].execute_notebook,
                    reference=notebook_code.load_reference(module),
                    local_modules={p.stem for p in folder.glob("*.py")})
            except notebook_code.NotebookError as exc:
                unreadable[module] = f"{exc}: its tasks score zero"
                continue
            (folder / f"{module}.py").write_text(extracted[module].source, encoding="utf-8")
        submitted = {m for m in self.options.modules if (folder / f"{m}.py").is_file()}
        worker = Worker(self.zygote, str(folder), str(root), self.settings)
        student = Student(worker, submitted, content_digest(folder))
        files = [HIDDEN_DIR / f"test_{m}.py" for m in self.options.modules
                 if m in submitted and (HIDDEN_DIR / f"test_{m}.py").exists()]
        checks_started = time.perf_counter()
        try:
            plugin = run_checks(files, self.context, student) if files else None
        finally:
            worker.kill()
        checks_s = time.perf_counter() - checks_started - worker.startup_s
        results = list(plugin.results) if plugin else []
        collection = list(plugin.collection_errors) if plugin else []
        assignments = tuple(
            self._assignment(m, folder, m in submitted, results, collection) for m in self.options.modules
        )
        assignments = tuple(notebook_code.annotate(a, extracted.get(a.assignment), unreadable.get(a.assignment),
                                                   notes.get(a.assignment, ())) for a in assignments)
        total = time.perf_counter() - started
        return StudentResult(
            student=submission.student,
            assignments=assignments,
            isolation=_isolation(worker.isolations or self.probe),
            messages=tuple(messages),
            duration_s=round(total, 3),
            timings=(("worker_start_s", round(worker.startup_s, 4)), ("checks_s", round(checks_s, 4)),
                     ("other_s", round(total - checks_s - worker.startup_s, 4)),
                     ("worker_starts", float(worker.starts))),
        )

    def _assignment(self, module: str, folder: Path, submitted: bool, results: list[CheckResult],
                    collection: list[tuple[str, str]]) -> AssignmentResult:
        config = self.configs[module]
        task_ids = assignment_for(module).task_ids
        if not submitted:
            return AssignmentResult(
                assignment=module, submitted=False,
                tasks=tuple(TaskResult(t, config.tasks[t.split(".", 1)[1]].points, (),
                                       f"{module}.py was not submitted") for t in task_ids),
                messages=(f"{module}.py was not submitted: its tasks score zero",),
            )
        penalties: dict[str, str] = {}
        messages: list[str] = []
        source = (folder / f"{module}.py").read_bytes()
        tree = static.parse(source)
        if tree is not None:
            hatches = static.escape_hatches(tree)
            if hatches:
                used = ", ".join(f"{f.name} (line {f.line})" for f in hatches)
                reason = (f"{module}.py uses {used}, which submissions may not use "
                          "(no exec, eval, compile, __import__, importlib, or importing the grader)")
                messages.append(reason)
                penalties = {t: reason for t in task_ids}
            for task_id in task_ids:
                name = task_id.split(".", 1)[1]
                found = static.forbidden_uses(tree, name, config.tasks[name].not_allowed)
                if found and task_id not in penalties:
                    calls = ", ".join(f"{f.name} (line {f.line})" for f in found)
                    penalties[task_id] = f"{task_id} uses {calls}, which this task does not allow"
        # A check file that failed to load is the grader's fault: every task without
        # checks gets an error result whose detail (report.json) tells the instructor why.
        broken = [text for nodeid, text in collection
                  if nodeid == "<pytest>" or Path(nodeid.split("::")[0]).stem == f"test_{module}"]
        if broken:
            messages.append("the grader could not load its checks for this module; "
                            "your instructor can see why in report.json")
        tasks = []
        for task_id in task_ids:
            name = task_id.split(".", 1)[1]
            checks = tuple(r for r in results if r.task == task_id)
            if not checks and broken:
                checks = (CheckResult(name="load_checks", task=task_id, outcome=Outcome.GRADER_ERROR,
                                      message="The grader could not load its checks.",
                                      detail="\n".join(broken)[-8000:]),)
            penalty = penalties.get(task_id)
            if not checks and penalty is None:
                penalty = "no checks ran for this task"
            tasks.append(TaskResult(task_id, config.tasks[name].points, checks, penalty))
        return AssignmentResult(assignment=module, tasks=tuple(tasks), submitted=True,
                                source=f"{module}.py", messages=tuple(messages))


def failure_result(submission: Submission, modules: Iterable[str], configs: dict[str, AssignmentConfig],
                   detail: str, isolation: Isolation, duration_s: float = 0.0) -> StudentResult:
    """A zero report that says the grader (not the student) failed, with ``detail`` for the
    instructor in report.json. Not a grade: the student's messages ask for a re-grade."""
    assignments = []
    for module in modules:
        config = configs[module]
        tasks = tuple(
            TaskResult(t, config.tasks[t.split(".", 1)[1]].points,
                       (CheckResult(name="grading", task=t, outcome=Outcome.GRADER_ERROR,
                                    message="The grader failed on this submission; your instructor can see why.",
                                    detail=detail),))
            for t in assignment_for(module).task_ids)
        assignments.append(AssignmentResult(assignment=module, tasks=tasks,
                                            messages=("the grader failed; this is not a grade",)))
    return StudentResult(student=submission.student, assignments=tuple(assignments), isolation=isolation,
                         messages=("the grader failed on this submission; ask your instructor to re-grade",),
                         duration_s=round(duration_s, 3))


def _grader_folders() -> tuple[str, ...]:
    """Where the grader's own code and the solutions live (hidden from workers)."""
    import importlib.util

    folders = [str(Path(__file__).resolve().parent)]
    spec = importlib.util.find_spec("solutions")
    if spec is not None and spec.submodule_search_locations:
        folders += [str(Path(p).resolve()) for p in spec.submodule_search_locations]
    return tuple(folders)


def _has_gpu() -> bool:
    return any(Path("/dev").glob("nvidia[0-9]*"))


# -- the pool: one Grader per process -------------------------------------------------
_grader: Grader | None = None


def _init_process(options: GradeOptions, configs: dict, data: dict, threads: int,
                  zygotes: list[Zygote], cpus: list[int] | None,
                  taken: "multiprocessing.sharedctypes.Synchronized") -> None:
    """In a new grading process: adopt one of the zygotes the parent started (a process
    that replaces a dead one starts its own), release this process's copies of the others,
    and take this slot's core when slots are pinned (see :func:`slot_cpus`)."""
    global _grader
    with taken.get_lock():
        index = taken.value
        taken.value += 1
    for i, zygote in enumerate(zygotes):
        if i != index:
            zygote.release()
    zygote = zygotes[index] if index < len(zygotes) else None
    _grader = Grader(options, configs, data, threads, zygote=zygote)
    if cpus:
        _pin(cpus[index % len(cpus)], _grader.zygote)


def slot_cpus(processes: int) -> list[int] | None:
    """The core of each grading slot, or None when there are more slots than cores.

    A grading process and its worker take turns (the grader waits while the worker runs
    student code, and the other way round), so one core serves a slot fully. Giving each
    slot a core of its own keeps a slot's round trips on one core (waking a process on
    another core is slow, most of all in a virtual machine) and keeps slots from
    competing for cores, which also makes the wall-clock limits of student code fairer.
    """
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[:processes] if processes <= len(cpus) else None


def _pin(cpu: int, zygote: Zygote) -> None:
    """This process and the zygote (so every worker it forks from now on) on ``cpu``."""
    try:
        os.sched_setaffinity(0, {cpu})
        os.sched_setaffinity(zygote.process.pid, {cpu})
    except OSError:
        pass     # an optimisation only: a container may forbid it


def _grade_in_process(submission: Submission) -> StudentResult:
    assert _grader is not None
    return _grader.grade(submission)


def _grade_in_pool(submissions: list[Submission], processes: int, initargs: tuple,
                   collect: Callable[[StudentResult], None]) -> None:
    """Grade in ``processes`` forked grading processes, collecting results as they come.

    A grading process that dies (a bug of ours, the kernel's OOM killer) must neither hang
    the batch nor cost other students their grade. When one dies, the pool reports every
    unfinished student as broken, without saying whose grading killed it; each of them is
    graded again alone, in a fresh process, and only a student whose grading kills that
    one too gets a failure report (the "grader failed" zero, not a grade).
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("fork")
    taken = ctx.Value("i", 0)

    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=ctx, initializer=_init_process, initargs=(*initargs, taken))

    broken: list[Submission] = []
    executor = pool(processes)
    try:
        futures = {executor.submit(_grade_in_process, s): s for s in submissions}
        for future in as_completed(futures):
            try:
                result = future.result()
            except BrokenProcessPool:
                broken.append(futures[future])
                continue
            collect(result)
    except BaseException:
        # Reports cannot be written, or an interrupt: grade nobody else (the students
        # being graded right now finish in the background; the processes then exit).
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()
    options, configs = initargs[0], initargs[1]
    for submission in sorted(broken, key=lambda s: s.student):
        started = time.perf_counter()
        with pool(1) as executor:
            try:
                result = executor.submit(_grade_in_process, submission).result()
            except BrokenProcessPool:
                result = failure_result(
                    submission, options.modules, configs,
                    "the grading process died while grading this submission, twice (see the system log: "
                    "killed for memory?)",
                    Isolation(notes=("the grading process died before it could report the sandbox's isolation",)),
                    time.perf_counter() - started)
        collect(result)


def check_output_dir(out_dir: Path, submissions_dir: Path) -> None:
    """Fail early, before grading, when reports could not be written to ``out_dir``."""
    out = out_dir.resolve()
    subs = submissions_dir.resolve()
    if out == subs or subs in out.parents:
        raise OutputError(f"the output folder {out_dir} is inside the submissions folder; choose another")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write reports to {out_dir}: {probe} is not a folder; "
                          "choose another --output")
    # Try it: permission bits say little for root or on read-only file systems.
    try:
        fd, name = tempfile.mkstemp(prefix=".autograder-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(f"cannot write reports to {out_dir}: {probe} is not writable "
                          f"({exc.strerror}); choose another --output") from None


def grade_submissions(
    submissions_dir: Path,
    out_dir: Path,
    options: GradeOptions = GradeOptions(),
    on_result: Callable[[StudentResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> ClassResult:
    """Grade every student folder of ``submissions_dir`` and write all reports to ``out_dir``.

    Raises ``AutograderError`` (nothing written) for unusable input; grading problems of
    a single student are part of that student's report.
    """
    from .reports import write_class_reports, write_student_reports

    unknown = [m for m in options.modules if m not in MODULES]
    if unknown:
        raise AutograderError(f"unknown assignment(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    if options.workers < 1:
        raise AutograderError(f"--workers must be at least 1 (got {options.workers})")
    submissions = discover(submissions_dir)
    check_output_dir(out_dir, submissions_dir)
    configs = load_course()
    processes = min(options.workers, len(submissions))
    cpus = slot_cpus(processes)
    # A pinned worker has one core; unpinned, the slots share the cores.
    threads = 1 if cpus else max(1, len(os.sched_getaffinity(0)) // processes)
    # The zygotes start first: each imports torch (seconds) while this process warms up
    # and prepares the data; the grading processes forked below adopt one each.
    zygotes = [Zygote() for _ in range(processes)]
    try:
        warm_up()
        data = prepare_data(options)
    except BaseException:
        for zygote in zygotes:
            zygote.close()
        raise
    show = {m: c.show_hidden_inputs for m, c in configs.items()}
    if on_start:
        on_start(len(submissions))
    results: list[StudentResult] = []

    def collect(result: StudentResult) -> None:
        write_student_reports(result, out_dir, show)
        results.append(result)
        if on_result:
            on_result(result)

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if processes == 1:
            grader = Grader(options, configs, data, threads, zygote=zygotes[0])
            affinity = os.sched_getaffinity(0)
            if cpus:
                _pin(cpus[0], grader.zygote)
            try:
                for submission in submissions:
                    collect(grader.grade(submission))
            finally:
                os.sched_setaffinity(0, affinity)   # this process goes on after grading
        elif options.scheduler is not None:
            from .cluster import grade_on_dask   # the Dask path (issue 15): graders live on Dask workers

            for zygote in zygotes:
                zygote.close()
            grade_on_dask(submissions, options.scheduler, options, configs, collect)
        else:
            _grade_in_pool(submissions, processes, (options, configs, data, threads, zygotes, cpus), collect)
    finally:
        for zygote in zygotes:
            zygote.close()
    results.sort(key=lambda r: r.student)
    class_result = ClassResult(students=tuple(results), assignments=tuple(options.modules),
                               seed=options.seed, version=__version__)
    write_class_reports(class_result, out_dir)
    if options.nbgrader_course is not None:
        from .nbgrader_course import write_scores

        write_scores(options.nbgrader_course, class_result)
    return class_result


def prepare_data(options: GradeOptions) -> dict:
    """Data the checks need that is computed once per run (e.g. MNIST and the reference accuracy).

    Runs on one thread, before the grading processes are forked: a process that has run
    an OpenMP thread team must not fork children that use OpenMP again.
    """
    if "mnist_cnn" not in options.modules:
        return {}
    from .checks.mnist_data import prepare_mnist

    return prepare_mnist(options.mnist_root, load_course()["mnist_cnn"], options.seed)
