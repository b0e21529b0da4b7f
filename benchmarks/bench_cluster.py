"""Benchmark: the overhead of grading on Dask (``--scheduler local:N``) against the local
pool (``-j N``), on the same class.

Both runs go through ``grade_submissions`` (reports and course record written the same
way) with a fresh output folder, and note when each result arrives. For each run:

- *start-up*: from the call to the moment the first graded submission started (its
  arrival minus its own grading time): for the pool, the zygotes, warm-up and MNIST; for
  Dask, also starting the cluster's worker processes and building a grader on each.
- *per submission*: the grading phase (from then to the last result) times N workers,
  divided by the class size, minus the mean grading time of a submission: what each
  submission costs besides its own grading (hand-over, and for Dask shipping the files,
  the task round trip and rebuilding the result from its JSON).

The Dask overhead is the difference of the two. Also printed: the cost of packing,
unpacking and the JSON round trip of one submission, measured in this process.

    .venv/bin/python benchmarks/bench_cluster.py [--submissions DIR] [--copies N] [--workers N] [-a LIST]

Run it on an otherwise idle machine: the figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from autograder.grading import GradeOptions, grade_submissions

ROOT = Path(__file__).resolve().parent.parent


def run(submissions: Path, options: GradeOptions) -> dict:
    out = Path(tempfile.mkdtemp(prefix="bench-cluster-out-"))
    arrivals: list[tuple[float, float]] = []
    started = time.perf_counter()
    result = grade_submissions(submissions, out, options,
                               on_result=lambda r: arrivals.append((time.perf_counter(), r.duration_s)))
    wall = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    first_start = min(at - duration for at, duration in arrivals)
    phase = max(at for at, _ in arrivals) - first_start
    durations = [s.duration_s for s in result.students]
    n, workers = len(durations), int(options.scheduler.split(":")[1]) if options.scheduler else options.workers
    return {
        "wall": wall, "startup": first_start - started, "phase": phase, "n": n,
        "grading": statistics.mean(durations),
        "per_submission": phase * workers / n - statistics.mean(durations),
        "points": {s.student: s.points for s in result.students},
        "students": result.students,
    }


def transport_costs(submissions: Path, results) -> tuple[float, float, int]:
    """Mean seconds to pack + pickle + unpack one submission, and to write and read a
    result as JSON (the largest of ``results``); mean packed size in bytes."""
    import pickle

    from autograder.cluster import pack_submission, unpack_submission
    from autograder.reports.json_report import student_from_json, student_to_json
    from autograder.submissions import discover

    students = discover(submissions)
    scratch = Path(tempfile.mkdtemp(prefix="bench-cluster-unpack-"))
    started = time.perf_counter()
    sizes = []
    for i, submission in enumerate(students):
        packed = pickle.loads(pickle.dumps(pack_submission(submission)))
        sizes.append(packed.size)
        unpack_submission(packed, scratch / str(i))
    pack_s = (time.perf_counter() - started) / len(students)
    shutil.rmtree(scratch, ignore_errors=True)
    result = max(results, key=lambda r: len(student_to_json(r)))
    started = time.perf_counter()
    for _ in range(100):
        student_from_json(student_to_json(result))
    return pack_s, (time.perf_counter() - started) / 100, int(statistics.mean(sizes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=Path, default=ROOT / "examples" / "submissions")
    parser.add_argument("--copies", type=int, default=4, help="copies of each example student")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-a", "--assignments", default=None, help="comma-separated modules (default: all)")
    args = parser.parse_args()
    submissions = Path(tempfile.mkdtemp(prefix="bench-cluster-class-"))
    for student in sorted(p for p in args.submissions.iterdir() if p.is_dir()):
        for copy in range(args.copies):
            shutil.copytree(student, submissions / f"{student.name}-{copy}")
    base = GradeOptions(workers=args.workers)
    if args.assignments:
        base = replace(base, modules=tuple(args.assignments.split(",")))

    pool = run(submissions, base)
    dask = run(submissions, replace(base, scheduler=f"local:{args.workers}"))
    if pool["points"] != dask["points"]:
        print("WARNING: the two runs gave different points", file=sys.stderr)
    print(f"class: {pool['n']} submissions ({args.copies} copies of each example student), "
          f"{args.workers} workers, {len(os.sched_getaffinity(0))} cores")
    print(f"{'':34} {'-j ' + str(args.workers):>10} {'local:' + str(args.workers):>10} {'overhead':>10}")
    rows = [("wall time, s", "wall"), ("one-time start-up, s", "startup"),
            ("grading phase, s", "phase"), ("grading a submission, mean s", "grading"),
            ("besides grading, per submission, s", "per_submission")]
    for label, key in rows:
        extra = dask[key] - pool[key] if key in ("wall", "startup", "per_submission") else None
        print(f"{label:34} {pool[key]:10.3f} {dask[key]:10.3f} "
              f"{'' if extra is None else f'{extra:+10.3f}'}")
    pack_s, json_s, size = transport_costs(submissions, dask["students"])
    print(f"in this process: pack + pickle + unpack one submission {pack_s * 1000:.2f} ms "
          f"(mean {size / 1024:.1f} KiB), the largest result to JSON and back {json_s * 1000:.2f} ms")
    shutil.rmtree(submissions, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
