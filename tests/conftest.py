"""Set-up shared by every test file: under ``pytest -n N`` (pytest-xdist, as the project's
pytest options ask), each test file runs in one test process, the files that share an
expensive grading run in the same one, and each test process keeps to cores of its own.

The files go to the test processes by :class:`SharedFileScheduling` (``--dist loadfile``,
with :data:`SHARED` files in one unit: the grading run they share,
``helpers.graded_corpus`` or ``example_class.graded_example_class``, runs once per
process). pytest-xdist's own ``--dist loadgroup`` does not group under pytest 9: it
renames ``item._nodeid``, which pytest 9 no longer reads, so every test was a unit of its
own, and each of the two test processes made every module fixture (a corpus grading, an
nbgrader course, the example class) for itself.

The suite is CPU-bound: most tests grade, and a grading alternates between the grader and
its worker, pinned to the core the grader runs on (``autograder.pool.slot_cpus``). Two test
processes sharing the machine's cores freely can pin their gradings to the same core and
leave another idle; given disjoint cores, each keeps to its own, and the subprocesses it
starts (a CLI run, a zygote, a Dask cluster) inherit them."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# The machine's cache of the reference Net's MNIST result (autograder.checks.mnist_data.
# machine_cache): one of each test process's own, never the developer's ~/.cache, so that
# a run of the suite neither reads what an earlier run left nor leaves anything behind.
# The gradings of a test process (and the CLI runs it starts, which inherit it) share it:
# the reference is trained once per test process. Tests of the cache set their own.
_MACHINE_CACHE = tempfile.mkdtemp(prefix="autograder-test-cache-")
os.environ["AUTOGRADER_CACHE_DIR"] = _MACHINE_CACHE
atexit.register(shutil.rmtree, _MACHINE_CACHE, True)

SHARED = {
    "test_corpus.py": "graded-corpus", "test_feedback.py": "graded-corpus",
    "test_html_render.py": "example-class", "test_student_check.py": "example-class",
    "test_cluster.py": "example-class",
}


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the run its file shares (SHARED)."""
    path = nodeid.split("::", 1)[0]
    return SHARED.get(path.rsplit("/", 1)[-1], path)


@pytest.hookimpl(tryfirst=True)      # before xdist's own, which would answer first
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") not in ("load", "loadfile", "loadgroup", "loadscope"):
        return None                     # "each", "worksteal": xdist's own
    from xdist.scheduler import LoadFileScheduling

    class SharedFileScheduling(LoadFileScheduling):
        """``--dist loadfile``, with the files of SHARED in one unit each."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return SharedFileScheduling(config, log)


def pytest_configure(config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")            # "gw0", "gw1", ... under -n
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not worker.startswith("gw") or count < 2:
        return
    cpus = sorted(os.sched_getaffinity(0))
    if count > len(cpus):
        return                      # fewer cores than test processes: the scheduler shares them
    try:
        os.sched_setaffinity(0, set(cpus[int(worker[2:]) % count::count]))
    except (OSError, ValueError):
        pass                        # an optimisation only


@pytest.fixture(scope="module")
def zygote():
    """A sandbox zygote for the tests of one module that start workers themselves."""
    from autograder.sandbox.client import Zygote

    started = Zygote()
    yield started
    started.close()
