"""The example class (``examples/submissions``) graded once per test session, for the tests
that read its reports (``test_html_render.py``, ``test_student_check.py``)."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions"


@functools.lru_cache(maxsize=None)
def graded_example_class() -> Path:
    """The output folder of ``grade_submissions(examples/submissions)`` (removed at exit)."""
    from autograder.grading import GradeOptions, grade_submissions

    root = Path(tempfile.mkdtemp(prefix="autograder-example-class-"))
    atexit.register(shutil.rmtree, root, True)
    mnist = os.environ.get("AUTOGRADER_MNIST_ROOT")
    options = GradeOptions(workers=2, mnist_root=Path(mnist) if mnist else None)
    grade_submissions(EXAMPLES, root / "out", options)
    return root / "out"
