"""The local pool: students graded side by side on this machine, one Grader per process.

``grade_locally`` grades a list of jobs (a submission and the modules to grade for it) in
this process (one slot) or in forked grading processes, calling ``collect`` in this
process for each result as it arrives. The zygotes are started by the caller before its
own start-up work, so that they import PyTorch meanwhile; each grading process adopts one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from .pipeline import Grader, failure_result
from .results import Isolation, StudentResult
from .sandbox.zygotes import SandboxFault, Zygote, retire
from .submissions import Submission

__all__ = ["Job", "grade_locally", "in_process_slot", "slot_cpus"]

Job = tuple[Submission, tuple[str, ...]]      # a student and the modules to grade for them

_grader: Grader | None = None


def _init_process(options, configs: dict, data: dict, threads: int, zygotes: list[Zygote],
                  cpus: list[int] | None, taken: "multiprocessing.sharedctypes.Synchronized") -> None:
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


def worker_threads(processes: int, cpus: list[int] | None) -> int:
    """PyTorch threads of each sandboxed worker: a pinned worker has one core; unpinned,
    the slots share the cores."""
    return 1 if cpus else max(1, len(os.sched_getaffinity(0)) // processes)


@contextmanager
def in_process_slot(zygote: Zygote) -> Iterator[None]:
    """Grade in this process as one slot: this process and ``zygote`` on one core (see
    :func:`slot_cpus`) while inside, and on the cores they had again afterwards (this
    process goes on after grading)."""
    cpus = slot_cpus(1)
    affinity = os.sched_getaffinity(0)
    if cpus:
        _pin(cpus[0], zygote)
    try:
        yield
    finally:
        try:
            os.sched_setaffinity(0, affinity)
        except OSError:
            pass
        if cpus:
            _place_zygote(zygote, affinity)


def _pin(cpu: int, zygote: Zygote) -> None:
    """This process and the zygote (so every worker it forks from now on) on ``cpu``."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return     # an optimisation only: a container may forbid it
    _place_zygote(zygote, {cpu})


def _place_zygote(zygote: Zygote, cpus: set[int]) -> None:
    """The zygote (and the workers it forks from now on) on ``cpus``."""
    try:
        os.sched_setaffinity(zygote.process.pid, cpus)
    except OSError:
        pass


def _grade_in_process(job: Job) -> StudentResult:
    assert _grader is not None
    return _grader.grade(*job)


def grade_locally(jobs: Sequence[Job], options, configs: dict, data: dict, zygotes: list[Zygote],
                  collect: Callable[[StudentResult], None]) -> None:
    """Grade ``jobs`` with ``len(zygotes)`` slots (one process per slot; one slot grades
    in this process). When this returns, the zygotes are kept for a later run in this
    process (:func:`autograder.sandbox.zygotes.zygotes_for`) if grading went as planned,
    and closed otherwise."""
    processes = len(zygotes)
    cpus = slot_cpus(processes)
    threads = worker_threads(processes, cpus)
    reusable = False
    try:
        if processes == 1:
            grader = Grader(options, configs, data, threads, zygote=zygotes[0])
            with in_process_slot(grader.zygote):
                for job in jobs:
                    collect(grader.grade(*job))
            reusable = True
        else:
            for zygote in zygotes:
                # Read the zygote's "ready" here, not in the grading process that adopts it, so
                # that this process's view of it stays true for a later run (zygotes_for). The
                # grading processes would wait for it at their first student anyway.
                try:
                    zygote.wait_ready()
                except (OSError, SandboxFault):
                    pass      # the grading process that adopts it reports the failure
            # A grading process that died may have left a fork request half answered.
            reusable = _grade_in_pool(list(jobs), processes, (options, configs, data, threads, zygotes, cpus),
                                      collect)
            for zygote in zygotes:
                _place_zygote(zygote, os.sched_getaffinity(0))
    finally:
        retire(zygotes, reusable)


def _grade_in_pool(jobs: list[Job], processes: int, initargs: tuple,
                   collect: Callable[[StudentResult], None]) -> bool:
    """Grade in ``processes`` forked grading processes, collecting results as they come;
    True when no grading process died.

    A grading process that dies (a bug of ours, the kernel's OOM killer) must neither hang
    the batch nor cost other students their grade. When one dies, the pool reports every
    unfinished student as broken, without saying whose grading killed it; each of them is
    graded again alone, in a fresh process, and only a student whose grading kills that
    one too gets a failure report (the "grader failed" report, not a grade).
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("fork")
    taken = ctx.Value("i", 0)

    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=ctx, initializer=_init_process, initargs=(*initargs, taken))

    broken: list[Job] = []
    executor = pool(processes)
    try:
        futures = {executor.submit(_grade_in_process, job): job for job in jobs}
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
    configs = initargs[1]
    for job in sorted(broken, key=lambda j: j[0].student):
        started = time.perf_counter()
        with pool(1) as executor:
            try:
                result = executor.submit(_grade_in_process, job).result()
            except BrokenProcessPool:
                result = failure_result(
                    job[0], job[1], configs,
                    "the grading process died while grading this submission, twice (see the system log: "
                    "killed for memory?)",
                    Isolation(notes=("the grading process died before it could report the sandbox's isolation",)),
                    time.perf_counter() - started)
        collect(result)
    return not broken
