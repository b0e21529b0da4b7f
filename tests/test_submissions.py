"""Submissions as they arrive: system folders, near-miss names, encodings.

Unit tests of ``autograder.submissions`` (finding students, copying one student's files)
and of ``autograder.checks.loading`` (what stops a file from loading); the same cases
graded end to end are in ``test_feedback.py``.
"""

from __future__ import annotations

import pytest

from autograder.checks.loading import encoding_problem, is_module_failure, source_problem
from autograder.errors import SubmissionsError
from autograder.submissions import Submission, copy_submission, discover, near_miss_module

SOURCE = 'def to_tensor(data, dtype=None):\n    """caf\u00e9"""\n    return data\n'


def _student(root, name, files):
    folder = root / name
    folder.mkdir(parents=True)
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return folder


# --- students ---------------------------------------------------------------------------

def test_system_and_hidden_folders_are_not_students(tmp_path):
    _student(tmp_path, "alice", {"tensors.py": SOURCE})
    for name in ("__MACOSX", ".ipynb_checkpoints", ".git", ".hidden", "__pycache__"):
        _student(tmp_path, name, {"tensors.py": SOURCE})
    assert [s.student for s in discover(tmp_path)] == ["alice"]


def test_a_folder_of_system_folders_only_holds_no_students(tmp_path):
    _student(tmp_path, "__MACOSX", {"alice/tensors.py": SOURCE})
    with pytest.raises(SubmissionsError, match="no student folders"):
        discover(tmp_path)


# --- one student's files ----------------------------------------------------------------------

def _copy(tmp_path, files):
    folder = _student(tmp_path / "subs", "alice", files)
    dest = tmp_path / "scratch"
    notebooks, messages = copy_submission(Submission("alice", folder), dest)
    return sorted(p.name for p in dest.iterdir()), notebooks, messages, dest


def test_system_files_inside_a_submission_are_ignored_silently(tmp_path):
    names, _, messages, _ = _copy(tmp_path, {
        "tensors.py": SOURCE, "._tensors.py": b"\x00\x05\x16\x07", ".DS_Store": b"x",
        "__MACOSX/._tensors.py": b"\x00", ".ipynb_checkpoints/tensors-checkpoint.py": SOURCE,
        "Thumbs.db": b"x"})
    assert names == ["tensors.py"] and messages == []


@pytest.mark.parametrize("name", ["Tensors.py", "tensors (1).py", "tensors-Copy1.py", "tensors copy.py",
                                  "TENSORS.py", "tensors_2.py"])
def test_a_near_miss_name_is_graded_as_the_module_and_said(tmp_path, name):
    names, _, messages, dest = _copy(tmp_path, {name: SOURCE})
    assert names == ["tensors.py"] and (dest / "tensors.py").read_text() == SOURCE
    assert messages == [f"{name} was graded as tensors.py: the file must be named exactly tensors.py "
                        "(rename it for your next submission)"]


def test_a_near_miss_notebook_is_taken_as_the_modules_notebook(tmp_path):
    _, notebooks, messages, _ = _copy(tmp_path, {"Activations (2).ipynb": b"{}"})
    assert notebooks == {"activations": b"{}"}
    assert messages == ["Activations (2).ipynb was graded as activations.ipynb: the file must be named exactly "
                        "activations.ipynb (rename it for your next submission)"]


def test_several_near_misses_are_named_and_none_is_graded(tmp_path):
    names, _, messages, _ = _copy(tmp_path, {"Tensors.py": SOURCE, "tensors (1).py": SOURCE})
    assert names == []
    assert len(messages) == 1
    assert "tensors.py was not submitted, but Tensors.py and tensors (1).py look like it" in messages[0]
    assert "rename the one you mean to tensors.py" in messages[0]


def test_a_near_miss_beside_the_real_file_is_ignored_and_said(tmp_path):
    names, _, messages, _ = _copy(tmp_path, {"tensors.py": SOURCE, "tensors (1).py": "broken("})
    assert names == ["tensors.py"]
    assert messages == ["ignored tensors (1).py: only the file named exactly tensors.py (or tensors.ipynb) is graded"]


def test_a_module_saved_with_another_extension_is_named(tmp_path):
    names, _, messages, _ = _copy(tmp_path, {"tensors.py.txt": SOURCE})
    assert names == []
    assert messages == ["tensors.py was not submitted, but tensors.py.txt looks like it: save it as tensors.py "
                        "(a .py file, named exactly so) and submit again"]


def test_helper_modules_are_copied_as_they_are(tmp_path):
    names, _, messages, _ = _copy(tmp_path, {"tensors.py": SOURCE, "my_utils.py": "X = 1\n",
                                             "training_helpers.py": "Y = 2\n"})
    assert names == ["my_utils.py", "tensors.py", "training_helpers.py"] and messages == []


@pytest.mark.parametrize("name,meant", [
    ("Tensors.py", "tensors"), ("mnist-cnn.ipynb", "mnist_cnn"), ("Devices (3).py", "devices"),
    ("tensors.py", None), ("utils.py", None), ("tensors.txt", None), ("training_utils.py", None),
])
def test_near_miss_module(name, meant):
    assert near_miss_module(name) == meant


# --- encodings --------------------------------------------------------------------------------

def test_utf8_with_a_byte_order_mark_is_fine():
    assert source_problem("tensors.py", b"\xef\xbb\xbf" + SOURCE.encode()) is None


def test_a_declared_encoding_is_fine():
    assert source_problem("tensors.py", ("# -*- coding: latin-1 -*-\n" + SOURCE).encode("latin-1")) is None


@pytest.mark.parametrize("data", [SOURCE.encode("utf-16"), SOURCE.encode("utf-16-le"), SOURCE.encode("utf-16-be")])
def test_utf16_is_told_to_be_saved_as_utf8(data):
    problem = source_problem("tensors.py", data)
    assert problem is not None and "UTF-16" in problem.summary and "save the file as UTF-8" in problem.todo
    assert is_module_failure("tensors", problem.message)


def test_latin1_is_told_with_the_byte_and_its_line():
    problem = source_problem("tensors.py", SOURCE.encode("latin-1"))
    assert problem is not None
    assert problem.summary.startswith("the file is not saved as UTF-8: byte 0xe9 on line 2")
    assert "'é'" in problem.summary and "save the file as UTF-8" in problem.todo


def test_a_null_byte_is_not_text():
    problem = encoding_problem("tensors.py", SOURCE.encode() + b"\x00\n" + SOURCE.encode() * 3)
    assert problem is not None and "null byte (line 4)" in problem.summary


def test_a_syntax_error_found_only_when_compiling_has_its_caret_too():
    problem = source_problem("tensors.py", b"import math\nfrom __future__ import annotations\n")
    assert problem is not None and problem.summary.startswith("SyntaxError: from __future__ imports")
    assert 'File "tensors.py", line 2' in problem.body and "^" in problem.body
