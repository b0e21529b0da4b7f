"""The example class (``examples/submissions``) graded once per test session, for the tests
that read its reports (``test_html_render.py``, ``test_student_check.py``, and
``test_cluster.py``, which compares the Dask path's reports with them)."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions"


def example_class_options(**changes):
    """The options the example class is graded with (the full course, the local pool with
    two grading processes), with ``changes``."""
    from dataclasses import replace

    from autograder.grading import GradeOptions

    mnist = os.environ.get("AUTOGRADER_MNIST_ROOT")
    return replace(GradeOptions(workers=2, mnist_root=Path(mnist) if mnist else None), **changes)


@functools.lru_cache(maxsize=None)
def graded_example_class() -> Path:
    """The output folder of ``grade_submissions(examples/submissions)`` (removed at exit)."""
    from autograder.grading import grade_submissions

    root = Path(tempfile.mkdtemp(prefix="autograder-example-class-"))
    atexit.register(shutil.rmtree, root, True)
    grade_submissions(EXAMPLES, root / "out", example_class_options())
    return root / "out"
