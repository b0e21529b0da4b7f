"""The local pool: students graded side by side on this machine, one Grader per process.

``grade_locally`` grades a list of jobs (a submission and the modules to grade for it) in
this process (one slot) or in forked grading processes, calling ``collect`` in this
process for each result as it arrives. The zygote is started by the caller before its
own start-up work, so that it imports PyTorch meanwhile; it serves every slot (each
grading process forks its workers through a channel of its own), so N slots start as
fast as one and share one copy of PyTorch's memory.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from .pipeline import Grader, failure_result
from .results import Isolation, StudentResult
from .sandbox.procfs import stat_fields
from .sandbox.zygotes import SandboxFault, Zygote, ZygoteGone, retire
from .submissions import Submission

__all__ = ["Job", "current_cpu", "grade_locally", "in_process_slot", "slot_cpus"]

Job = tuple[Submission, tuple[str, ...]]      # a student and the modules to grade for them

_grader: Grader | None = None


def _init_process(options, configs: dict, data: dict, threads: int, zygotes: list[Zygote],
                  cpus: list[int] | None, taken: "multiprocessing.sharedctypes.Synchronized",
                  shared: Zygote | None = None) -> None:
    """In a new grading process: adopt one of ``zygotes`` (the channels the parent opened
    to its zygote, one per slot; a process that replaces a dead one starts a zygote of its
    own), release this process's copies of the others and of ``shared`` (the zygote behind
    them, which the parent owns), and take this slot's core when slots are pinned (see
    :func:`slot_cpus`)."""
    global _grader
    with taken.get_lock():
        index = taken.value
        taken.value += 1
    zygote = zygotes[index] if index < len(zygotes) else None
    others = {id(z): z for z in (*zygotes, shared) if z is not None and z is not zygote}
    for other in others.values():
        other.release()
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

    One slot takes the core this process is running on (the first core when that cannot
    be read): graders that run side by side on one machine (two runs, a test suite in
    parallel) then each keep the core the scheduler gave them, instead of all sharing the
    first one.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if processes > len(cpus):
        return None
    if processes == 1:
        here = current_cpu()
        return [here if here in cpus else cpus[0]]
    return cpus[:processes]


def current_cpu() -> int | None:
    """The core the calling thread last ran on (field 39 of ``/proc/thread-self/stat``),
    or None where that cannot be read."""
    try:
        return int(stat_fields("thread-self", 39)[0])
    except (OSError, IndexError, ValueError):
        return None


def worker_threads(processes: int, cpus: list[int] | None) -> int:
    """PyTorch threads of each sandboxed worker: a pinned worker has one core; unpinned,
    the slots share the cores."""
    return 1 if cpus else max(1, len(os.sched_getaffinity(0)) // processes)


@contextmanager
def in_process_slot(zygote: Zygote) -> Iterator[None]:
    """Grade in this process as one slot: this process and the workers ``zygote`` forks on
    one core (see :func:`slot_cpus`) while inside, and on the cores they had again
    afterwards (this process goes on after grading)."""
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
        zygote.cpus = None


def _pin(cpu: int, zygote: Zygote) -> None:
    """This process, and every worker ``zygote`` forks from now on, on ``cpu``."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return     # an optimisation only: a container may forbid it
    zygote.cpus = (cpu,)


def _grade_in_process(job: Job) -> StudentResult:
    assert _grader is not None
    return _grader.grade(*job)


def grade_locally(jobs: Sequence[Job], options, configs: dict, data: dict, zygote: Zygote, processes: int,
                  collect: Callable[[StudentResult], None]) -> None:
    """Grade ``jobs`` with ``processes`` slots (one slot grades in this process; more are
    forked grading processes, each forking its workers from ``zygote`` through a channel
    of its own), calling ``collect`` for each result. When this returns, the zygote is
    kept for a later run in this process (:func:`autograder.sandbox.zygotes.zygotes_for`)
    if grading went as planned, and closed otherwise."""
    cpus = slot_cpus(processes)
    threads = worker_threads(processes, cpus)
    reusable = False
    try:
        if processes == 1:
            grader = Grader(options, configs, data, threads, zygote=zygote)
            with in_process_slot(grader.zygote):
                for job in jobs:
                    collect(grader.grade(*job))
            reusable = True
        else:
            channels = _channels(zygote, processes)
            try:
                reusable = _grade_in_pool(list(jobs), processes,
                                          (options, configs, data, threads, channels, cpus), zygote, collect)
            finally:
                for channel in channels:
                    if channel is not zygote:
                        channel.close()
    finally:
        retire([zygote], reusable)


def _channels(zygote: Zygote, count: int) -> list[Zygote]:
    """One channel to ``zygote`` per slot. When there is no zygote to open them to (it
    failed to start, or died), every slot gets ``zygote`` itself, dead: each grading
    process then starts a zygote of its own at its first worker, or reports the failure."""
    try:
        return [zygote.channel() for _ in range(count)]
    except (OSError, SandboxFault, ZygoteGone):
        try:
            zygote.process.kill()       # it must not answer two processes on one connection
        except OSError:
            pass
        return [zygote] * count


def _grade_in_pool(jobs: list[Job], processes: int, initargs: tuple, shared: Zygote,
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
        return ProcessPoolExecutor(size, mp_context=ctx, initializer=_init_process,
                                   initargs=(*initargs, taken, shared))

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
