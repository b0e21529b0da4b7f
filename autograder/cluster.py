"""Grade on a Dask cluster: the same grader, one per Dask worker (``--scheduler ADDRESS``).

``grade_on_dask`` grades a batch on a running Dask scheduler (``tcp://host:8786``), or on
``local:N``, a ``LocalCluster`` of N worker processes that this call starts and closes.

- **A grader per Dask worker.** :class:`GraderPlugin`, registered with
  ``Client.register_plugin``, builds one :class:`~autograder.pipeline.Grader` (with its
  own zygote, the run's data and the run's options and configs) when a Dask worker
  starts, and again when one restarts; it is torn down when the batch ends. A Dask
  worker grades one submission at a time (one thread per worker; a worker started
  with more threads still grades one at a time). Student code runs only in the
  grader's sandboxed workers, forked from the zygote, never in the Dask worker itself.
- **No shared filesystem.** The client reads each student's folder
  (:func:`pack_submission`) and ships it as bytes with the task; the Dask worker writes
  it to a private temporary folder (:func:`unpack_submission`), grades it and returns
  the result as ``report.json`` text, which the client reads back and hands to
  ``collect``: only the client writes reports. MNIST is prepared by the plugin on each
  worker from its own installation (the slice shipped with the grader, or the worker's
  ``AUTOGRADER_MNIST_ROOT``); ``--mnist-root`` must name a folder every worker has.
- **Faults.** A Dask worker that dies while grading: Dask runs the submission again on
  another worker; one that kills a second worker gets the "grader failed" report (its
  checks are grader errors, not a grade). ``local:N`` sets this itself; a scheduler of
  your own needs ``distributed.scheduler.allowed-failures: 1`` (see docs/cluster.md).
  A scheduler that cannot be reached, or has no workers, is an ``AutograderError``
  before anything is graded. An interrupt (Ctrl-C) cancels the remaining tasks and
  closes everything this call started.
- **Flow control.** One submission per worker thread is in flight at a time, so a class
  of thousands is neither read into memory nor parked on the scheduler at once, and a
  dying worker holds only the submission it was grading; results are collected as they
  complete (``as_completed``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import stat
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from distributed import WorkerPlugin

from . import __version__
from .course import MODULES
from .errors import AutograderError
from .results import Isolation, StudentResult
from .submissions import Submission, _read_regular, size_limit

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["grade_on_dask", "GraderPlugin", "PackedSubmission", "pack_submission", "unpack_submission",
           "parse_scheduler", "CONNECT_TIMEOUT_S", "WORKER_WAIT_S", "ALLOWED_FAILURES", "IN_FLIGHT_PER_THREAD"]

from .cluster_address import CONNECT_TIMEOUT_S  # noqa: E402  (reaching the scheduler)
WORKER_WAIT_S = 60.0         # a scheduler with no worker yet: wait this long for the first
ALLOWED_FAILURES = 1         # worker deaths a task survives: one retry, then "the grader failed"
# Submissions handed to the scheduler per worker thread. One: each worker holds only the
# submission it is grading, so when a worker dies, only that submission is charged with
# the death (Dask charges every task a dead worker held, queued ones too) and no innocent
# student queued behind a killer is failed; the gap between two submissions is a round trip.
IN_FLIGHT_PER_THREAD = 1

# The kinds of entry a packed submission holds. Only regular files travel with their
# bytes; the others are rebuilt as placeholders that the grader's copy rejects exactly
# as it rejects the original (it never reads them).
FILE, FOLDER, LINK, SPECIAL, OVERSIZED = "file", "folder", "link", "special", "oversized"
_GRADED_SUFFIXES = (".py", ".ipynb")     # the only files the grader's copy reads


# -- submissions as bytes ------------------------------------------------------------------
@dataclass(frozen=True)
class PackedSubmission:
    """One student's folder as data: ``entries`` are ``(relative path, kind, bytes)``.

    Holds what :func:`autograder.submissions.copy_submission` looks at: every entry at
    the top of the folder and, in nbgrader's layout, every entry of each assignment's
    folder; the bytes of the ``.py`` and ``.ipynb`` files among them; nothing of files
    the grader would not read (other suffixes, the contents of other folders).
    """

    student: str
    nbgrader: bool
    entries: tuple[tuple[str, str, bytes], ...]

    @property
    def size(self) -> int:
        return sum(len(data) for _, _, data in self.entries)


def pack_submission(submission: Submission) -> PackedSubmission:
    """Read ``submission``'s folder (on the client) into a :class:`PackedSubmission`."""
    entries: list[tuple[str, str, bytes]] = []
    _pack_folder(submission.folder, "", entries, into=set(MODULES) if submission.nbgrader else set())
    return PackedSubmission(submission.student, submission.nbgrader, tuple(entries))


def _pack_folder(folder: Path, prefix: str, entries: list[tuple[str, str, bytes]], into: set[str]) -> None:
    """Pack the entries of ``folder``; descend (one level) into the sub-folders named in ``into``."""
    for entry in sorted(folder.iterdir()):
        path = prefix + entry.name
        try:
            info = entry.lstat()
        except OSError:
            continue      # gone since it was listed: the grader would not have seen it either
        if stat.S_ISLNK(info.st_mode):
            entries.append((path, LINK, b""))
        elif stat.S_ISDIR(info.st_mode):
            entries.append((path, FOLDER, b""))
            if entry.name in into:
                _pack_folder(entry, path + "/", entries, into=set())
        elif entry.suffix not in _GRADED_SUFFIXES:
            continue
        elif not stat.S_ISREG(info.st_mode):
            entries.append((path, SPECIAL, b""))
        elif info.st_size > size_limit(entry.name):
            entries.append((path, OVERSIZED, b""))
        else:
            try:
                entries.append((path, FILE, _read_regular(entry)))
            except OSError:
                # Unreadable here (permissions, or swapped for something else since the
                # listing): rebuilt as an entry the grader skips, as it would skip this one.
                # Its message then says "not a regular file" rather than the reason here.
                entries.append((path, SPECIAL, b""))


def unpack_submission(packed: PackedSubmission, dest: Path) -> Submission:
    """Write ``packed`` into the new folder ``dest`` (on a Dask worker); the equivalent
    :class:`Submission`: the grader's copy of it finds the same files, notebooks and
    skipped entries (with the same messages) as the copy of the original."""
    dest.mkdir(parents=True)
    root = dest.resolve()
    for path, kind, data in packed.entries:
        target = dest / path
        # Paths are names the client listed; still, never write outside ``dest``.
        if path.startswith("/") or ".." in Path(path).parts or root not in target.resolve().parents:
            raise ValueError(f"packed submission of {packed.student}: bad path {path!r}")
        if kind == FILE:
            target.write_bytes(data)
        elif kind == FOLDER:
            target.mkdir()
        elif kind == LINK:
            os.symlink("/nonexistent", target)     # the grader skips links without following them
        elif kind == SPECIAL:
            os.mkfifo(target)
        elif kind == OVERSIZED:
            with open(target, "wb") as handle:      # sparse: its size is all the grader looks at
                handle.truncate(size_limit(target.name) + 1)
        else:
            raise ValueError(f"packed submission of {packed.student}: unknown entry kind {kind!r}")
    return Submission(packed.student, dest, packed.nbgrader)


# -- the grader on each Dask worker ------------------------------------------------------------
def grader_fingerprint() -> str:
    """A digest of what decides a grade besides the options and configs (which travel with
    the plugin): the grader's version, its hidden checks and the reference solutions."""
    import importlib.util

    # Where autograder.checks.plugin finds them (not imported here: it imports PyTorch).
    digest = hashlib.sha256(__version__.encode())
    folders = [Path(__file__).resolve().parent / "checks" / "hidden"]
    spec = importlib.util.find_spec("solutions")
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(p) for p in spec.submodule_search_locations]
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            digest.update(f"{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# One submission at a time per process, whatever the Dask worker's thread count and however
# many batches share it: pytest sessions (and their output capture) are per process.
_ONE_AT_A_TIME = threading.Lock()


class GraderPlugin(WorkerPlugin):
    """Builds a grader when a Dask worker starts (or restarts) and closes it at teardown.

    ``options`` and ``configs`` are the client's; ``fingerprint`` is the client's
    :func:`grader_fingerprint`: a worker whose installation grades differently refuses to
    start its grader, so that the batch fails at once with a message saying so.
    """

    def __init__(self, options: Any, configs: dict, fingerprint: str):
        self.options = options
        self.configs = configs
        self.fingerprint = fingerprint
        self._init_state()

    def _init_state(self) -> None:
        self._grader: Any = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._closed = False

    # Locks and events do not pickle; each worker builds its own state.
    def __getstate__(self) -> dict:
        return {"options": self.options, "configs": self.configs, "fingerprint": self.fingerprint}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_state()

    async def setup(self, worker: Any) -> None:
        _quiet_worker(worker)
        # Seconds of work (PyTorch, the zygote, MNIST): off the worker's event loop, so it
        # keeps answering the scheduler. A failure here reaches register_plugin's caller.
        await asyncio.to_thread(self._build)

    def _build(self) -> None:
        try:
            ours = grader_fingerprint()
            if ours != self.fingerprint:
                raise AutograderError(
                    "this Dask worker has another version of the grader installed (its hidden checks or "
                    "reference solutions differ from the client's); install the same autograder on every "
                    "worker machine")
            from .pipeline import Grader
            from .sandbox.zygotes import needs_optimizers, zygotes_for

            # The zygote an earlier batch left on this worker, or a new one, which imports
            # PyTorch while the data is prepared below: a Dask worker outlives batches, and
            # each batch paid a zygote's start-up (seconds of a core) before.
            (zygote,) = zygotes_for(1, optimizers=needs_optimizers(self.options.modules))
            try:
                data = _prepare_data(self.options, self.configs)
                grader = Grader(self.options, self.configs, data, 1, zygote=zygote)
                grader.probe        # waits for the zygote; detects the isolation this machine enforces
            except BaseException:
                zygote.close()
                raise
            if self._closed:            # torn down (the batch ended) while this was being built
                grader.close(reuse=True)
                return
            self._grader = grader
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._ready.set()

    def teardown(self, worker: Any) -> None:
        self._closed = True
        grader, self._grader = self._grader, None
        if grader is not None:
            grader.close(reuse=True)     # the zygote serves this worker's next batch
        _restore_worker(worker)

    def grade(self, packed: PackedSubmission, modules: tuple[str, ...] | None) -> str:
        """Grade one packed submission; its result as ``report.json`` text."""
        from .reports.json_report import student_to_json

        self._ready.wait()
        with _ONE_AT_A_TIME:
            if self._grader is None:
                reason = "it was torn down" if self._closed else f"it failed to start: {self._error!r}"
                raise RuntimeError(f"this Dask worker has no grader ({reason})")
            scratch = Path(tempfile.mkdtemp(prefix="autograder-dask-"))
            try:
                os.chmod(scratch, 0o700)
                submission = unpack_submission(packed, scratch / "student")
                if modules is None:
                    result = self._grader.grade(submission)
                else:
                    result = self._grader.grade(submission, modules)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return student_to_json(result)


def _quiet_worker(worker: Any) -> None:
    """Keep the Dask worker's own machinery out of the way of the checks it runs.

    - Its statistical profiler samples the stack of every thread a hundred times a
      second; the checks' stacks (pytest, hypothesis) are deep, and the sampling more
      than tripled the time of a submission. Off while this process grades.
    - ``dask.sizeof`` draws from the global ``random`` generator on the event loop
      (sampling large messages). The checks run with that generator seeded by
      hypothesis (``deterministic_PRNG``), so draws from another thread would make a
      grade depend on timing. It gets a generator of its own.
    """
    import random

    import dask.sizeof

    for name in _PROFILER:
        callback = getattr(worker, "periodic_callbacks", {}).get(name)
        if callback is not None:
            callback.stop()
    if getattr(dask.sizeof, "random", None) is random:
        dask.sizeof.random = random.Random()


_PROFILER = ("profile", "profile-cycle")


def _restore_worker(worker: Any) -> None:
    """The profiler back on once no batch's grader is left on this worker."""
    if _profile_enabled() and not any(isinstance(p, GraderPlugin) for p in worker.plugins.values()):
        for name in _PROFILER:
            callback = getattr(worker, "periodic_callbacks", {}).get(name)
            if callback is not None:
                callback.start()


def _profile_enabled() -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled", True))


def _prepare_data(options: Any, configs: dict) -> dict:
    from .grading import prepare_data

    return prepare_data(options, configs)


def _grade_task(plugin_name: str, packed: PackedSubmission, modules: tuple[str, ...] | None) -> str:
    """The task: runs on a Dask worker, in its (one) task thread."""
    from distributed import get_worker

    plugin = get_worker().plugins.get(plugin_name)
    if not isinstance(plugin, GraderPlugin):
        raise RuntimeError(f"this Dask worker has no grader for this batch (no plugin {plugin_name!r})")
    return plugin.grade(packed, modules)


# -- the client ----------------------------------------------------------------------------------
from .cluster_address import ADVICE, parse_scheduler, refuse_unreachable  # noqa: E402  (light, no Dask)


@contextmanager
def _client(address: str) -> Iterator["Client"]:
    """A client of the scheduler at ``address``, or of a ``LocalCluster`` started for ``local:N``
    (closed, with its worker processes, on the way out)."""
    import dask
    from distributed import Client, LocalCluster

    workers = parse_scheduler(address)
    if workers is not None:
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, scheduler_port=0)
        try:
            client = Client(cluster, set_as_default=False)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()
        return
    refuse_unreachable(address)
    try:
        client = Client(address.strip(), timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise AutograderError(
            f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S:.0f} s ({reason}); "
            f"{ADVICE}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise AutograderError(
                f"the Dask scheduler at {address} has no workers (waited {WORKER_WAIT_S:.0f} s); start some "
                f"with `dask worker {address} --nthreads 1`") from None
        yield client
    finally:
        client.close()


def _as_job(item: Any) -> tuple[Submission, tuple[str, ...] | None]:
    """A submission, or a ``(submission, modules)`` job of the local pool."""
    if isinstance(item, Submission):
        return item, None
    submission, modules = item
    return submission, tuple(modules)


def grade_on_dask(submissions: Sequence[Any], scheduler: str, options: Any, configs: dict,
                  collect: Callable[[StudentResult], None]) -> None:
    """Grade ``submissions`` on the Dask cluster ``scheduler``; ``collect`` each result here.

    ``submissions``: :class:`Submission` objects (graded for ``options.modules``), or
    ``(submission, modules)`` jobs. ``scheduler``: ``tcp://host:port`` (any address
    Dask's ``Client`` takes; TLS settings come from Dask's configuration) or ``local:N``.
    ``collect`` is called in this thread, once per student, in the order results arrive.

    Raises ``AutograderError`` before anything is graded when the scheduler cannot be
    reached, has no workers, or its workers cannot start a grader (the message names
    the reason, e.g. MNIST missing there, or another grader version installed); and if
    the scheduler cancels the batch (lost) midway. Exceptions of ``collect`` and
    interrupts cancel the remaining tasks and propagate.
    """
    jobs = [_as_job(item) for item in submissions]
    if not jobs:
        return
    run = uuid.uuid4().hex[:12]
    plugin_name = f"autograder-grader-{run}"     # per batch: two batches on one cluster do not clash
    with _client(scheduler) as client:
        try:
            _grade_batch(client, jobs, run, plugin_name, scheduler, options, configs, collect)
        finally:
            try:
                client.unregister_worker_plugin(plugin_name)     # each worker closes its grader
            except Exception:
                pass      # never registered, the cluster is closing, or the scheduler is gone


def _grade_batch(client: "Client", jobs: list[tuple[Submission, tuple[str, ...] | None]], run: str,
                 plugin_name: str, scheduler: str, options: Any, configs: dict,
                 collect: Callable[[StudentResult], None]) -> None:
    from distributed import as_completed

    try:
        client.register_plugin(GraderPlugin(options, configs, grader_fingerprint()), name=plugin_name)
    except AutograderError as exc:
        raise AutograderError(f"a Dask worker of {scheduler} cannot grade: {exc}") from None
    except Exception as exc:
        raise AutograderError(f"a Dask worker of {scheduler} could not start its grader: "
                              f"{type(exc).__name__}: {exc}") from None
    pending: dict[Any, tuple[Submission, tuple[str, ...] | None]] = {}
    queue = iter(enumerate(jobs))
    completed = as_completed(loop=client.loop)

    def top_up() -> None:
        room = IN_FLIGHT_PER_THREAD * max(1, sum(client.nthreads().values())) - len(pending)
        for _ in range(max(0, room)):
            try:
                index, (submission, modules) = next(queue)
            except StopIteration:
                return
            future = client.submit(_grade_task, plugin_name, pack_submission(submission), modules,
                                   key=f"grade-{run}-{index}", pure=False, retries=0)
            pending[future] = (submission, modules)
            completed.add(future)

    try:
        top_up()
        for future in completed:
            submission, modules = pending.pop(future)
            collect(_result(future, submission, modules, options, configs, scheduler))
            top_up()
    except BaseException:
        client.cancel(list(pending), force=True)
        raise


def _result(future: Any, submission: Submission, modules: tuple[str, ...] | None, options: Any,
            configs: dict, scheduler: str) -> StudentResult:
    """The student's result from a finished task; a "grader failed" report when the task
    failed (worker deaths, a bug of ours); ``AutograderError`` when it was cancelled."""
    from distributed.scheduler import KilledWorker

    from .reports.json_report import student_from_json

    if future.status == "finished":
        return student_from_json(future.result())
    if future.status == "cancelled":
        raise AutograderError(f"the Dask scheduler at {scheduler} cancelled the grading of {submission.student} "
                              "(did it stop, or lose this client?); the students collected so far have their "
                              "reports; grade again for the others")
    exc = future.exception()
    if isinstance(exc, KilledWorker):
        detail = (f"the Dask worker grading this submission died, on {exc.allowed_failures + 1} different "
                  "workers in turn (see the workers' logs: killed for memory?)")
        isolation = Isolation(notes=("the Dask worker died before it could report the sandbox's isolation",))
    else:
        import traceback

        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:]
        isolation = Isolation(notes=("the Dask worker could not grade: no isolation to report",))
    from .pipeline import failure_result

    return failure_result(submission, modules if modules is not None else options.modules, configs, detail,
                           isolation)
