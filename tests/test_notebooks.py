"""Notebook submissions: the same code scores the same as a notebook or a .py file, a broken
notebook is graded as far as it can be with a message naming what broke, and the batch
always completes. Also: the extraction rules (no run, definitions only), the nbgrader
options on a folder that is not a course, and ``autograder check``.

One grading run (``graded``) covers every student below; the rest is fast.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from autograder.config import load_course
from autograder.course import assignment_for
from autograder.grading import GradeOptions, Grader, grade_submissions
from autograder.notebook_code import NotebookError, extract, load_reference
from autograder.release.notebooks import grade_id, split_definitions
from autograder.release.regions import BEGIN, END
from autograder.submissions import Submission

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "autograder.cli"]
EXAMPLES = ROOT / "examples" / "submissions"
MODULES = ("tensors", "activations")


def _run(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd, timeout=timeout)


# -- building notebooks ------------------------------------------------------------------
def plain_notebook(code: str, extra: list[str] = ()) -> dict:
    """A notebook written from scratch (no nbgrader metadata): one cell per definition."""
    preamble, definitions = split_definitions(code)
    cells = [nbformat.v4.new_markdown_cell("# My work")]
    cells += [nbformat.v4.new_code_cell(preamble)] if preamble else []
    for _, source in definitions:
        cells.append(nbformat.v4.new_code_cell(source))
        cells.append(nbformat.v4.new_code_cell("%time\nprint('defined it')"))
    cells += [nbformat.v4.new_code_cell(text) for text in extra]
    notebook = nbformat.v4.new_notebook(cells=cells)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"
    return json.loads(nbformat.writes(notebook))


def released_notebook(module: str, code: str | None = None) -> dict:
    """The assignment's notebook as a student has it, solution cells filled with ``code``
    (each definition into its solution cell), or left as released (the stubs) when None."""
    notebook = json.loads((ROOT / "assignments" / assignment_for(module).folder / f"{module}.ipynb").read_text())
    _, definitions = split_definitions(code if code is not None else (ROOT / "student_template" / f"{module}.py")
                                       .read_text())
    by_id = {grade_id(f"{module}-{name}"): "\n".join(line for line in source.splitlines()
                                                     if line.strip() not in (BEGIN, END))
             for name, source in definitions}
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            cell["source"] = by_id[meta["grade_id"]]
    return notebook


def cell_index(notebook: dict, gid: str) -> int:
    return [c["metadata"].get("nbgrader", {}).get("grade_id") for c in notebook["cells"]].index(gid)


def reference(module: str) -> str:
    return (ROOT / "solutions" / f"{module}.py").read_text()


def write(folder: Path, name: str, content: dict | str | bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = json.dumps(content, indent=1)
    (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


TRAINING_FOR_AN_HOUR = ["import time\ntime.sleep(3600)", "while True:\n    pass",
                        "for epoch in range(10**9):\n    pass", "!pip install torch\n%matplotlib inline"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    """One grading run of every student of this file: {student: report.json}."""
    base = tmp_path_factory.mktemp("notebooks")
    subs = base / "subs"
    partial = {m: (EXAMPLES / "partial" / f"{m}.py").read_text() for m in MODULES}
    # the same code twice: as .py files, and as notebooks (with prints, magics, long loops)
    for module in MODULES:
        write(subs / "as_py", f"{module}.py", partial[module])
        write(subs / "as_notebook", f"{module}.ipynb", plain_notebook(partial[module], TRAINING_FOR_AN_HOUR))
    good = released_notebook("activations", reference("activations"))
    write(subs / "released_full", "activations.ipynb", good)
    # broken notebooks, each next to a correct tensors.py
    broken: dict[str, dict | bytes] = {"not_json": b'{"cells": [ {"cell_type": "code", "source": "def'}
    nb = copy.deepcopy(good)
    del nb["cells"][cell_index(nb, "activations-sigmoid")]
    broken["cell_deleted"] = nb
    nb = copy.deepcopy(good)
    i = cell_index(nb, "activations-tanh")
    nb["cells"].insert(i + 1, copy.deepcopy(nb["cells"][i]))
    nb["cells"][i + 1]["id"] = "my-copy"
    broken["cell_duplicated"] = nb
    nb = copy.deepcopy(good)
    nb["cells"][cell_index(nb, "activations-relu")]["metadata"]["nbgrader"].update(solution=False, grade=True,
                                                                                 points=50)
    broken["metadata_changed"] = nb
    nb = copy.deepcopy(good)
    nb["cells"][cell_index(nb, "activations-elu")]["source"] += "\n    return (x +"
    broken["syntax_error"] = nb
    nb = copy.deepcopy(good)
    nb["cells"] += [nbformat.v4.new_code_cell(text) for text in TRAINING_FOR_AN_HOUR]
    for cell in nb["cells"]:
        cell.setdefault("id", "x")
    broken["trains_for_an_hour"] = nb
    nb = copy.deepcopy(good)
    softmax = nb["cells"][cell_index(nb, "activations-softmax")]
    softmax["source"] = softmax["source"].replace("e = torch.exp(shifted)\n", "e = torch.exp(shifted)\n"
                                                  "    return torch.softmax(x, dim=dim)\n")
    broken["forbidden_call"] = nb
    for student, content in broken.items():
        write(subs / student, "activations.ipynb", content)
        write(subs / student, "tensors.py", reference("tensors"))
    # a .py and a notebook of the same module: the .py wins
    write(subs / "both", "tensors.py", reference("tensors"))
    write(subs / "both", "tensors.ipynb", released_notebook("tensors"))
    out = base / "out"
    grade_submissions(subs, out, GradeOptions(modules=MODULES, workers=2))
    return {p.name: json.loads((p / "report.json").read_text()) for p in out.iterdir() if p.is_dir()}


def _module(report: dict, module: str) -> dict:
    return next(a for a in report["assignments"] if a["assignment"] == module)


def _points(report: dict, module: str) -> dict[str, float]:
    return {t["task"]: t["points"] for t in _module(report, module)["tasks"]}


def _full_but(report: dict, module: str, lost: set[str]) -> None:
    for task in _module(report, module)["tasks"]:
        if task["task"] in lost:
            assert task["points"] == 0, task
        else:
            assert task["points"] == task["max_points"], task


# -- grading ---------------------------------------------------------------------------------
def test_notebook_and_py_of_the_same_code_score_the_same(graded):
    as_py, as_notebook = graded["as_py"], graded["as_notebook"]
    for module in MODULES:
        assert _points(as_notebook, module) == _points(as_py, module)
        assert _module(as_notebook, module)["source"] == f"{module}.ipynb"
    assert 0 < as_py["points"] < as_py["max_points"], "the partial example should lose some points"
    left_out = " ".join(_module(as_notebook, "activations")["messages"])
    assert "time.sleep(3600)" in left_out and "while True:" in left_out and "not run by the grader" in left_out


def test_released_notebook_filled_with_the_reference_scores_full_marks(graded):
    _full_but(graded["released_full"], "activations", set())


def test_invalid_json_scores_zero_with_a_message_and_the_rest_is_graded(graded):
    report = graded["not_json"]
    activations = _module(report, "activations")
    assert activations["points"] == 0
    assert any("not valid JSON" in m for m in activations["messages"])
    assert all("not valid JSON" in t["penalty"] for t in activations["tasks"])
    _full_but(report, "tensors", set())


def test_deleted_solution_cell_is_named_and_only_its_task_is_lost(graded):
    report = graded["cell_deleted"]
    assert any("activations-sigmoid" in m and "missing" in m for m in _module(report, "activations")["messages"])
    _full_but(report, "activations", {"activations.sigmoid"})


def test_duplicated_cell_is_named(graded):
    report = graded["cell_duplicated"]
    assert any("activations-tanh" in m and "2 times" in m for m in _module(report, "activations")["messages"])
    _full_but(report, "activations", set())


def test_changed_metadata_is_named_and_graded_as_released(graded):
    report = graded["metadata_changed"]
    assert any("activations-relu" in m and "metadata was changed" in m
               for m in _module(report, "activations")["messages"])
    _full_but(report, "activations", set())


def test_syntax_error_in_a_cell_loses_only_that_cell(graded):
    report = graded["syntax_error"]
    messages = " ".join(_module(report, "activations")["messages"])
    assert "activations-elu" in messages and "not valid Python" in messages and "elu" in messages
    _full_but(report, "activations", {"activations.elu"})
    _full_but(report, "tensors", set())


def test_code_that_trains_for_an_hour_is_not_run(graded):
    report = graded["trains_for_an_hour"]
    _full_but(report, "activations", set())
    messages = " ".join(_module(report, "activations")["messages"])
    assert "while True:" in messages and "time.sleep(3600)" in messages


def test_forbidden_call_names_the_notebook_cell(graded):
    task = next(t for t in _module(graded["forbidden_call"], "activations")["tasks"]
                if t["task"] == "activations.softmax")
    assert task["points"] == 0 and "torch.softmax" in task["penalty"]
    assert "(cell " in task["penalty"], task["penalty"]     # the notebook's cell, not the extracted file's line


def test_py_wins_over_a_notebook_of_the_same_module(graded):
    tensors = _module(graded["both"], "tensors")
    assert tensors["source"] == "tensors.py" and tensors["points"] == 100
    assert any("tensors.py is graded" in m for m in tensors["messages"])


def test_every_student_was_graded(graded):
    assert len(graded) == 11


def test_executed_notebook_that_hangs_fails_its_module_and_the_batch_goes_on(tmp_path):
    """With execute_notebook = true, top-level code runs (in the worker): a notebook that
    never finishes costs its own module, not the next module or the next student."""
    configs = load_course()
    configs["activations"] = replace(configs["activations"], execute_notebook=True, call_timeout_s=3.0,
                                     submission_timeout_s=30.0)
    hanging = released_notebook("activations", reference("activations"))
    hanging["cells"].append(nbformat.v4.new_code_cell("%time\nwhile True:\n    pass"))
    hanging["cells"][-1]["id"] = "hang"
    write(tmp_path / "hangs", "activations.ipynb", hanging)
    write(tmp_path / "hangs", "tensors.py", reference("tensors"))
    write(tmp_path / "next", "activations.ipynb", released_notebook("activations", reference("activations")))
    grader = Grader(GradeOptions(modules=MODULES, workers=1), configs, {})
    try:
        hung = grader.grade(Submission("hangs", tmp_path / "hangs"))
        following = grader.grade(Submission("next", tmp_path / "next"))
    finally:
        grader.close()
    activations = hung.assignment("activations")
    assert activations.points == 0
    assert all("did not finish" in c.message for t in activations.tasks for c in t.checks), \
        [c.message for t in activations.tasks for c in t.checks]
    assert hung.assignment("tensors").points == 100
    assert following.assignment("activations").points == 100


# -- extraction (no grading) -----------------------------------------------------------------
def _extract(cells: list[str], execute: bool = False, module: str = "activations"):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"c{index}"
    return extract(nbformat.writes(notebook).encode(), module, execute=execute)


def test_extraction_keeps_definitions_and_leaves_out_what_runs():
    result = _extract([
        "from __future__ import annotations\nimport torch\n%matplotlib inline\n!ls",
        "SCALE = 2.0\nSHAPE = (3, 4)\nDEVICE = torch.device('cpu')\nONES = torch.ones(SHAPE) * SCALE",
        "def relu(x):\n    return x.clamp(min=0)\n\nclass Net(torch.nn.Module):\n    pass",
        "model = Net()\nlosses = [relu(x) for x in range(3)]\nprint(relu(ONES))\nrelu(ONES)",
        "x = 1; print(x)",
        "import not_a_module_anywhere\ny = SCALE + 1",
        "%%bash\nls -la",
        "if torch.cuda.is_available():\n    WHERE = 'cuda'\nelse:\n    WHERE = 'cpu'\n"
        "def where(device=WHERE):\n    return device",
        "import torchvision\nfrom torchvision import datasets\n"
        "train = torchvision.datasets.MNIST('./data', download=True)\ntest = datasets.MNIST('./data', train=False)\n"
        "state = torch.load('/content/drive/MyDrive/net.pt')\nx_gpu = torch.randn(3, 3).cuda()\n"
        "loader = torch.utils.data.DataLoader(train, batch_size=64)",
        "if torch.cuda.is_available():\n    print('a GPU')",
    ])
    namespace: dict = {}
    exec(compile(result.source, "activations.py", "exec"), namespace)   # it imports and defines only
    assert {"SCALE", "SHAPE", "DEVICE", "ONES", "relu", "Net", "x", "y", "WHERE", "where"} <= set(namespace)
    assert "model" not in namespace and "losses" not in namespace
    # What reaches files, the network or a GPU is left out, and so is what uses it.
    assert not {"train", "test", "state", "x_gpu", "loader"} & set(namespace)
    assert result.source.index("from __future__") < result.source.index("import torch")
    left_out = " ".join(result.messages)
    for text in ("model = Net()", "print(relu(ONES))", "not_a_module_anywhere", "datasets.MNIST"):
        assert text in left_out, left_out


def test_extraction_in_execute_mode_keeps_everything_but_magics():
    result = _extract(["import torch\n%time\nprint('hi')", "for i in range(2):\n    !echo $i\n    z = i"],
                      execute=True)
    assert "print('hi')" in result.source and "for i in range(2):" in result.source
    assert "%time" not in result.source and "!echo" not in result.source
    compile(result.source, "activations.py", "exec")


def test_extraction_maps_lines_back_to_cells():
    result = _extract(["import torch", "def f(x):\n    return torch.sigmoid(x)"])
    line = result.source.splitlines().index("    return torch.sigmoid(x)") + 1
    assert result.lines[line - 1] == (2, 2)


def test_public_check_cells_are_never_taken_as_student_code():
    notebook = released_notebook("activations", reference("activations"))
    result = extract(json.dumps(notebook).encode(), "activations", reference=load_reference("activations"))
    assert "run_public_checks" not in result.source and "def test_" not in result.source


@pytest.mark.parametrize("data", [b"{not json", b"[]", b'{"cells": 3}', "caf\xe9".encode("latin-1"),
                                  b'{"cells": [{"cell_type": "code"}], "nbformat": 4}'])
def test_unreadable_notebooks_raise_a_clear_error(data):
    with pytest.raises(NotebookError, match="activations.ipynb"):
        extract(data, "activations")


def test_a_byte_order_mark_and_nbformat_3_are_read():
    code = "import torch\n\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n"
    version4 = {"cells": [{"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": 1}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    version3 = {"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0,
                "worksheets": [{"cells": [{"cell_type": "code", "input": code, "language": "python",
                                           "metadata": {}, "outputs": []}], "metadata": {}}]}
    for data in (b"\xef\xbb\xbf" + json.dumps(version4).encode(), json.dumps(version3).encode()):
        assert "def sigmoid(x):" in extract(data, "activations").source


def test_a_notebook_may_carry_more_than_a_source_files_size_in_outputs(tmp_path):
    from autograder.submissions import MAX_FILE_BYTES, MAX_NOTEBOOK_BYTES, copy_submission

    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "source": reference("activations"),
                           "execution_count": 1,
                           "outputs": [{"output_type": "display_data", "metadata": {},
                                        "data": {"image/png": "A" * (2 * MAX_FILE_BYTES)}}]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    folder = tmp_path / "subs" / "alice"
    write(folder, "activations.ipynb", json.dumps(notebook))
    write(folder, "tensors.py", "x = 1\n" + "#" * (2 * MAX_FILE_BYTES))
    notebooks, messages = copy_submission(Submission("alice", folder), tmp_path / "scratch")
    assert "activations" in notebooks and MAX_NOTEBOOK_BYTES > len(notebooks["activations"]) > MAX_FILE_BYTES
    assert messages == ["skipped tensors.py: larger than 2 MB"]
    with open(folder / "activations.ipynb", "r+b") as handle:     # sparse: over the notebook limit
        handle.truncate(MAX_NOTEBOOK_BYTES + 1)
    notebooks, messages = copy_submission(Submission("alice", folder), tmp_path / "scratch2")
    assert "activations" not in notebooks and "skipped activations.ipynb: larger than 32 MB" in messages


# -- nbgrader options on a folder that is not a course ----------------------------------------
def test_nbgrader_course_without_nbgraders_layout_is_an_error(tmp_path):
    plain = tmp_path / "plain"
    write(plain / "alice", "tensors.py", reference("tensors"))
    out = tmp_path / "out"
    result = _run("grade", "--nbgrader-course", str(plain), "-o", str(out))
    assert result.returncode == 2 and "not an nbgrader course" in result.stderr, result.stderr
    result = _run("grade", str(plain), "--to-nbgrader", str(plain), "-o", str(out))
    assert result.returncode == 2 and "not an nbgrader course" in result.stderr, result.stderr
    (plain / "nbgrader_config.py").write_text("c = get_config()\n")
    result = _run("grade", "--nbgrader-course", str(plain), "-o", str(out))
    assert result.returncode == 2 and "submitted/" in result.stderr, result.stderr
    result = _run("grade", "--nbgrader-course", str(tmp_path / "missing"), "-o", str(out))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not out.exists()


# -- autograder check ---------------------------------------------------------------------------
def test_check_passes_the_reference_notebook():
    result = _run("check", str(EXAMPLES / "notebook" / "activations.ipynb"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS  activations.softmax" in result.stdout and "How to read this" in result.stdout


def test_check_fails_the_template_naming_checks_and_why():
    result = _run("check", str(EXAMPLES / "template" / "tensors.py"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  tensors.one_hot" in result.stdout and "FAIL test_one_hot_known_values" in result.stdout
    assert "NotImplementedError" in result.stdout


def test_check_stops_a_file_that_hangs(tmp_path):
    write(tmp_path, "devices.py", "import time\nwhile True:\n    time.sleep(0.1)\n")
    result = _run("check", str(tmp_path / "devices.py"), "--timeout", "2")
    assert result.returncode == 1 and "did not finish within 2 s" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("name,content,expect", [
    ("missing.py", None, "does not exist"),
    ("homework.py", "x = 1\n", "not a module of this course"),
    ("tensors.ipynb", "{not json", "not valid JSON"),
    ("tensors.txt", "x = 1\n", "neither a .py file nor a notebook"),
])
def test_check_bad_input_exits_2(tmp_path, name, content, expect):
    if content is not None:
        write(tmp_path, name, content)
    result = _run("check", str(tmp_path / name))
    assert result.returncode == 2 and expect in result.stderr, result.stderr


# -- nbgrader's layout ---------------------------------------------------------------------------
def test_nbgraders_layout_is_detected_and_copied(tmp_path):
    from autograder.submissions import copy_submission, discover

    course = tmp_path / "course"
    write(course / "submitted" / "alice" / "activations", "activations.ipynb", b"{}")
    write(course / "submitted" / "alice" / "activations", "timestamp.txt", "2026-01-15 09:30:00 UTC")
    write(course / "submitted" / "alice" / "activations", "Copy of activations.ipynb", b"{}")
    write(course / "submitted" / "alice" / "tensors", "tensors.py", "X = 1\n")
    write(course / "submitted" / "alice" / "homework", "homework.ipynb", b"{}")
    write(course / "submitted" / "bob" / "linear", "linear.ipynb", b"{}")
    for given in (course, course / "submitted"):
        found = discover(given)
        assert [s.student for s in found] == ["alice", "bob"] and all(s.nbgrader for s in found)
    notebooks, messages = copy_submission(discover(course)[0], tmp_path / "scratch")
    assert set(notebooks) == {"activations"} and (tmp_path / "scratch" / "tensors.py").is_file()
    assert any("Copy of activations.ipynb" in m for m in messages)
    assert any("homework/" in m and "not an assignment" in m for m in messages)
    assert not any("timestamp" in m for m in messages)
    flat = tmp_path / "flat"
    write(flat / "alice", "tensors.py", "X = 1\n")
    assert not discover(flat)[0].nbgrader


def test_a_course_with_its_own_submitted_directory_is_read_from_its_config(tmp_path):
    from autograder.submissions import discover

    course = tmp_path / "course"
    write(course, "nbgrader_config.py", 'c = get_config()\nc.CourseDirectory.submitted_directory = "collected"\n')
    write(course / "collected" / "alice" / "tensors", "tensors.py", "X = 1\n")
    for given in (course, course / "collected"):
        found = discover(given)
        assert [s.student for s in found] == ["alice"] and all(s.nbgrader for s in found), given
