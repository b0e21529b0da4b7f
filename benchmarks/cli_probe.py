"""Run the ``autograder`` command line exactly as the installed ``autograder`` script does,
and record when each student's result arrived.

    python benchmarks/cli_probe.py EVENTS.json grade SUBMISSIONS -o OUT ...

``EVENTS.json`` gets, once the command has ended (whatever its exit), a list with one entry
per result in the order they arrived: ``student``, ``arrived`` (``time.time()`` when the
grader handed the result over, after recording it), ``duration_s`` (the result's own
grading time, from the student's start to its result), ``points`` and ``max_points``. So
``arrived - duration_s`` is when that student's grading started, on the same clock as
the caller's ``time.time()`` before it started this command.

The only difference from the plain command is a wrapper around
``autograder.grading.grade_submissions`` that adds its ``on_result`` callback (imported
before the command parses its arguments, which the command would import a moment later);
the exit code is the command's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    events_path, argv = Path(sys.argv[1]), sys.argv[2:]
    events: list[dict] = []

    import autograder.grading as grading

    real = grading.grade_submissions

    def probed(*args, on_result=None, **kwargs):
        def note(result) -> None:
            events.append({"student": result.student, "arrived": time.time(), "duration_s": result.duration_s,
                           "points": result.points, "max_points": result.max_points})
            if on_result is not None:
                on_result(result)

        return real(*args, on_result=note, **kwargs)

    grading.grade_submissions = probed
    from autograder.cli import main as cli_main

    sys.argv = ["autograder", *argv]
    try:
        cli_main()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        events_path.write_text(json.dumps(events, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
