"""Set-up shared by every test file: under ``pytest -n N`` (pytest-xdist, as the project's
pytest options ask), each test process keeps to cores of its own.

The suite is CPU-bound: most tests grade, and a grading alternates between the grader and
its worker, pinned to the core the grader runs on (``autograder.pool.slot_cpus``). Two test
processes sharing the machine's cores freely can pin their gradings to the same core and
leave another idle; given disjoint cores, each keeps to its own, and the subprocesses it
starts (a CLI run, a zygote, a Dask cluster) inherit them."""

from __future__ import annotations

import os


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
