"""Benchmark: grade examples/submissions with 1 and with 2 workers.

Prints, per submission, the time split into worker start-up (forking sandboxed workers
from the preloaded zygote), check compute (the checks themselves: hypothesis, reference
computations and the calls into the worker), the pytest session around them (collection,
set-up, teardown) and the rest (copying files, static checks, assembling the result);
the overhead is everything but check compute. Then the wall time of each run, the
speed-up from 1 to 2 workers, and a second run over the unchanged class into the same
course record (incremental grading: nothing is graded again).

    .venv/bin/python benchmarks/bench_grade.py [--submissions DIR] [--copies N] [--mnist-root DIR]

The class graded is ``--copies`` copies of every student of the example folder (default
4, so a class of 20): with only five students of very unequal cost, the speed-up would
measure the slowest student rather than the pool. Run it on an otherwise idle machine:
the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from autograder.grading import GradeOptions, grade_submissions

ROOT = Path(__file__).resolve().parent.parent


def run(submissions: Path, workers: int, mnist_root: Path | None, out: Path | None = None) -> tuple[float, list, Path]:
    out = out or Path(tempfile.mkdtemp(prefix=f"bench-j{workers}-"))
    started = time.perf_counter()
    result = grade_submissions(submissions, out, GradeOptions(workers=workers, mnist_root=mnist_root))
    return time.perf_counter() - started, list(result.students), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=Path, default=ROOT / "examples" / "submissions")
    parser.add_argument("--copies", type=int, default=4, help="copies of each example student")
    parser.add_argument("--mnist-root", type=Path, default=os.environ.get("AUTOGRADER_MNIST_ROOT"))
    args = parser.parse_args()
    submissions = Path(tempfile.mkdtemp(prefix="bench-class-"))
    for student in sorted(p for p in args.submissions.iterdir() if p.is_dir()):
        for copy in range(args.copies):
            shutil.copytree(student, submissions / f"{student.name}-{copy}")
    walls = {}
    outs = {}
    for workers in (1, 2):
        wall, students, outs[workers] = run(submissions, workers, args.mnist_root)
        walls[workers] = wall
        print(f"\n== {workers} worker(s): {len(students)} submissions in {wall:.2f} s wall")
        print(f"{'student':<12} {'total s':>8} {'start-up':>9} {'checks':>8} {'session':>8} {'rest':>7} "
              f"{'starts':>7} {'points':>7}")
        overheads = []
        for s in students:
            t = dict(s.timings)
            checks = sum(c.duration_s for a in s.assignments for task in a.tasks for c in task.checks)
            session = max(0.0, t["checks_s"] - checks)
            overhead = t["worker_start_s"] + session + t["other_s"]
            overheads.append(overhead)
            print(f"{s.student:<12} {s.duration_s:8.2f} {t['worker_start_s']:9.3f} {checks:8.2f} {session:8.3f} "
                  f"{t['other_s']:7.3f} {int(t['worker_starts']):7d} {s.points:7.1f}")
        print(f"overhead per submission (worker start-up + pytest session + rest): "
              f"mean {statistics.mean(overheads):.3f} s, max {max(overheads):.3f} s")
        busy = sum(s.duration_s for s in students)
        print(f"one-time start-up and hand-over (wall - graded time / workers): {wall - busy / workers:.2f} s")
        full = [s.duration_s for s in students if s.student.startswith("reference")]
        if full:
            print(f"one full-course submission (reference, all six assignments): "
                  f"median {statistics.median(full):.2f} s, max {max(full):.2f} s")
    print(f"\nspeed-up from 1 to 2 workers: {walls[1] / walls[2]:.2f}x "
          f"({walls[1]:.2f} s -> {walls[2]:.2f} s; cores: {len(os.sched_getaffinity(0))})")
    again, students, _ = run(submissions, 2, args.mnist_root, outs[2])
    print(f"the same class again into the same course record (nothing changed, nothing graded): "
          f"{again:.2f} s for {len(students)} submissions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
