"""Feedback a student can act on, end to end: grade a folder, read what the student reads.

One class of students, each with one kind of problem in ``tensors.py``, is graded once by
the real grader (``grade_submissions``); the tests read ``feedback.md``, ``feedback.html``
and ``results.json`` (the student-facing files) and ``report.json`` (the instructor's):

- a module that cannot be imported (syntax error, import error, endless loop at import,
  UTF-16, latin-1) is said once, at the top of its section, with what to do and a count
  of the checks it broke; a UTF-8 file with a byte order mark is graded normally;
- an escape hatch is one penalty of the whole module, said once;
- identical failures within a task are shown once with a count; "Fix this first" leads;
- a module not submitted says "not submitted", never "Penalty";
- near-miss file names and system folders (see also ``test_submissions.py``);
- a grader fault is "not graded: grader error", with no traceback and no grader path for
  the student, the traceback in report.json only, and kept out of the total;
- hidden checks' parameter ids never reach a student-facing file (and a corpus-wide grep
  for the inputs hidden checks used).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from autograder.course import MODULES
from autograder.grading import GradeOptions, grade_submissions
from autograder.results import Outcome

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "examples" / "submissions" / "reference" / "tensors.py").read_text(encoding="utf-8")
TEMPLATE = (ROOT / "examples" / "submissions" / "template" / "tensors.py").read_text(encoding="utf-8")
CORPUS = ROOT / "tests" / "corpus"
STUDENT_FILES = ("feedback.md", "feedback.html", "results.json")
CALL_TIMEOUT_S = 3.0

STUDENTS: dict[str, dict[str, bytes]] = {
    "syntax": {"tensors.py": b'"""A missing colon."""\n\n\ndef to_tensor(data, dtype=None)\n    return data\n'},
    "import_error": {"tensors.py": REFERENCE.encode() + b"\nimport numpyy_not_installed\n"},
    "loop_at_import": {"tensors.py": REFERENCE.encode() + b"\nwhile True:\n    pass\n"},
    "utf16": {"tensors.py": REFERENCE.encode("utf-16")},
    "latin1": {"tensors.py": ("# Calcul du caf\u00e9\n" + REFERENCE).encode("latin-1")},
    "bom": {"tensors.py": b"\xef\xbb\xbf" + REFERENCE.encode()},
    "hatch": {"tensors.py": REFERENCE.encode() + b"\n_X = eval('1 + 1')\n"},
    "template": {"tensors.py": TEMPLATE.encode()},
    "hidden_params": {"tensors.py": (CORPUS / "tensors" / "normalize_no_valueerror.py").read_bytes()},
    "near_miss": {"Tensors.py": REFERENCE.encode()},
    "ambiguous": {"Tensors.py": REFERENCE.encode(), "tensors (1).py": REFERENCE.encode()},
    "missing": {"notes.txt": b"nothing here\n"},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The class above, graded once on tensors and linear; the output folder."""
    root = tmp_path_factory.mktemp("feedback")
    subs, out = root / "submissions", root / "out"
    for student, files in STUDENTS.items():
        (subs / student).mkdir(parents=True)
        for name, data in files.items():
            (subs / student / name).write_bytes(data)
    # what unzipping on a Mac and Jupyter leave behind: never students
    (subs / "__MACOSX" / "syntax").mkdir(parents=True)
    (subs / "__MACOSX" / "syntax" / "._tensors.py").write_bytes(b"\x00\x05\x16\x07")
    (subs / ".ipynb_checkpoints").mkdir()
    (subs / "syntax" / "__MACOSX").mkdir()
    (subs / "syntax" / "._tensors.py").write_bytes(b"\x00\x05\x16\x07")
    options = GradeOptions(modules=("tensors", "linear"), workers=2, call_timeout_s=CALL_TIMEOUT_S)
    grade_submissions(subs, out, options)
    return out


def _read(out: Path, student: str, name: str) -> str:
    return (out / student / name).read_text(encoding="utf-8")


def _report(out: Path, student: str) -> dict:
    return json.loads(_read(out, student, "report.json"))


def _assignment(report: dict, module: str) -> dict:
    return next(a for a in report["assignments"] if a["assignment"] == module)


def _section(markdown: str, module: str) -> str:
    """The Markdown section of one module (from its heading to the next one)."""
    start = markdown.index(f'## <a id="{module}"></a>')
    end = markdown.find("\n## ", start + 1)
    return markdown[start:] if end < 0 else markdown[start:end]


# --- module-level failures: said once, at the top, with what to do ------------------------

@pytest.mark.parametrize("student,summary,todo", [
    ("syntax", "SyntaxError: expected ':' (line 4)", "fix the SyntaxError at the caret"),
    ("import_error", "ModuleNotFoundError: No module named 'numpyy_not_installed'",
     "use only the standard library, torch"),
    ("loop_at_import", f"importing it did not finish within {CALL_TIMEOUT_S:g} s", "if __name__ =="),
    ("utf16", "the file is saved as UTF-16", "save the file as UTF-8"),
    ("latin1", "byte 0xe9 on line 1", "save the file as UTF-8"),
])
def test_a_module_that_cannot_be_imported_is_said_once_at_the_top(graded, student, summary, todo):
    markdown = _read(graded, student, "feedback.md")
    section = _section(markdown, "tensors")
    checks = [c for t in _assignment(_report(graded, student), "tensors")["tasks"] for c in t["checks"]]
    assert checks and all(c["outcome"] == "error" for c in checks)
    # once in the section (and once as the first item to fix), not once per check
    assert section.count("tensors.py could not be imported") == 1, section
    assert markdown.count(summary) == 2, markdown
    assert todo in section
    assert f"Because of this, {len(checks)} checks of tensors could not run" in section
    # the section says it before any task, and no task repeats it
    assert section.index("could not be imported") < section.index("### ")
    assert "1. [tensors](#tensors), 100 points: tensors.py could not be imported" in markdown
    page = _read(graded, student, "feedback.html")
    assert page.count("tensors.py could not be imported") == 2     # fix-first item and the section
    gradescope = json.loads(_read(graded, student, "results.json"))
    assert gradescope["output"].count(summary) == 2                # fix-first and the module's lines
    assert all(summary not in t["output"] for t in gradescope["tests"])


def test_a_syntax_error_keeps_its_line_and_caret(graded):
    section = _section(_read(graded, "syntax", "feedback.md"), "tensors")
    lines = section.splitlines()
    source = next(i for i, line in enumerate(lines) if line.strip() == "def to_tensor(data, dtype=None)")
    caret = lines[source + 1]
    assert caret.strip() == "^" and caret.index("^") == lines[source].index("None)") + len("None)")
    assert 'File "tensors.py", line 4' in section
    assert "<pre>" in _read(graded, "syntax", "feedback.html")


def test_a_utf8_file_with_a_byte_order_mark_is_graded_normally(graded):
    report = _report(graded, "bom")
    assert _assignment(report, "tensors")["points"] == 100, _read(graded, "bom", "feedback.md")


def test_an_escape_hatch_is_one_penalty_of_the_whole_module(graded):
    markdown = _read(graded, "hatch", "feedback.md")
    section = _section(markdown, "tensors")
    assert "**Penalty for the whole module** (every task scores zero):" in section
    assert section.count("eval (line") == 1 and "Penalty:" not in section
    assert markdown.count("eval (line") == 2          # the section and "Fix this first"
    assert _assignment(_report(graded, "hatch"), "tensors")["points"] == 0


def test_identical_failures_within_a_task_are_shown_once_with_a_count(graded):
    markdown = _read(graded, "template", "feedback.md")
    report = _report(graded, "template")
    tasks = _assignment(report, "tensors")["tasks"]
    # one message per task at most, however many checks raised it
    for task in tasks:
        raised = [c for c in task["checks"] if "NotImplementedError" in c["message"]]
        if len(raised) > 1:
            first = raised[0]["message"].splitlines()[0]
            assert markdown.count(first) <= 2, first          # its group, and maybe "Fix this first"
            assert f"- {len([c for c in raised if c['message'] == raised[0]['message']])} checks, same error:" \
                in markdown
    # shown once per distinct message of a task (plus the first lines in "Fix this first")
    distinct = {(t["task"], c["message"], c["detail"] if c["visibility"] == "public" else "")
                for t in tasks for c in t["checks"] if c["outcome"] != "passed"}
    once = sum((message + detail).count("NotImplementedError") for _, message, detail in distinct)
    every = sum(c["message"].count("NotImplementedError") for t in tasks for c in t["checks"])
    assert markdown.count("NotImplementedError") <= once + 5 < every, (markdown.count("NotImplementedError"),
                                                                         once, every)
    assert markdown.index("**Fix this first**") < markdown.index("| Assignment |") < markdown.index("## ")


def test_a_module_not_submitted_says_so_and_is_no_penalty(graded):
    markdown = _read(graded, "missing", "feedback.md")
    for module in ("tensors", "linear"):
        section = _section(markdown, module)
        assert "(not submitted)" in section and "Penalty" not in section
        assert f"| [{module}](#{module}) | 0 | 100 | not submitted |" in markdown
    assert "Not submitted: tensors, linear." in markdown
    gradescope = json.loads(_read(graded, "missing", "results.json"))
    assert "Penalty" not in json.dumps(gradescope)


# --- submissions as they arrive -------------------------------------------------------------

def test_system_folders_are_not_students(graded):
    folders = sorted(p.name for p in graded.iterdir() if p.is_dir())
    assert folders == sorted(STUDENTS)
    assert "skipped folder __MACOSX" not in _read(graded, "syntax", "feedback.md")


def test_a_near_miss_name_is_graded_when_unambiguous_and_said(graded):
    report = _report(graded, "near_miss")
    assert _assignment(report, "tensors")["points"] == 100
    markdown = _read(graded, "near_miss", "feedback.md")
    assert "Tensors.py was graded as tensors.py: the file must be named exactly tensors.py" in markdown


def test_an_ambiguous_near_miss_is_named_and_not_graded(graded):
    report = _report(graded, "ambiguous")
    assert not _assignment(report, "tensors")["submitted"]
    section = _section(_read(graded, "ambiguous", "feedback.md"), "tensors")
    assert "(not submitted)" in section
    assert "Tensors.py and tensors (1).py look like it" in section
    assert "rename the one you mean to tensors.py" in section


# --- hidden means hidden: names ------------------------------------------------------------

def _hidden_ids(report: dict) -> set[str]:
    """The parameter ids of the hidden checks of a report (``test_x[5-3]`` -> ``[5-3]``)."""
    return {m.group(0) for a in report["assignments"] for t in a["tasks"] for c in t["checks"]
            if c["visibility"] == "hidden" for m in [re.search(r"\[[^\]]+\]$", c["name"])] if m}


def test_hidden_parameter_ids_do_not_reach_the_student(graded):
    report = _report(graded, "hidden_params")
    failing = [c for t in _assignment(report, "tensors")["tasks"] for c in t["checks"]
               if c["visibility"] == "hidden" and c["outcome"] != "passed" and "[" in c["name"]]
    assert failing, "the variant must fail a parametrized hidden check"
    ids = _hidden_ids(report)
    for name in STUDENT_FILES:
        text = _read(graded, "hidden_params", name)
        leaked = [i for i in ids if i in text]
        assert not leaked, (name, leaked)
    base = failing[0]["name"].split("[")[0]
    assert f"{base} (" in _read(graded, "hidden_params", "feedback.md")    # "(all 5 cases)", "(case 2 of 5)"


# --- grader faults are never grades ----------------------------------------------------------

GRADER_PATH = str(ROOT / "autograder")


@pytest.fixture(scope="module")
def grader_fault(tmp_path_factory) -> Path:
    """The reference graded while the grader's sandbox client fails on one task's calls."""
    from autograder.sandbox import client

    root = tmp_path_factory.mktemp("fault")
    (root / "subs" / "alice").mkdir(parents=True)
    (root / "subs" / "alice" / "tensors.py").write_text(REFERENCE, encoding="utf-8")
    (root / "subs" / "alice" / "linear.py").write_text(
        (ROOT / "examples" / "submissions" / "reference" / "linear.py").read_text(encoding="utf-8"))
    real_call = client.Worker.call

    def broken_call(self, target, *args, **kwargs):
        if target == "tensors.one_hot":
            raise RuntimeError(f"a bug of the grader, in {GRADER_PATH}/sandbox/client.py")
        return real_call(self, target, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(client.Worker, "call", broken_call)
    try:
        grade_submissions(root / "subs", root / "out", GradeOptions(modules=("tensors", "linear"), workers=1))
    finally:
        mp.undo()
    return root / "out"


def test_a_grader_fault_is_not_graded_and_shows_no_traceback(grader_fault):
    report = _report(grader_fault, "alice")
    tensors = _assignment(report, "tensors")
    one_hot = next(t for t in tensors["tasks"] if t["task"] == "tensors.one_hot")
    # the checks that called the broken client are the grader's errors, never the student's
    assert Outcome.GRADER_ERROR.value in {c["outcome"] for c in one_hot["checks"]}
    assert {c["outcome"] for c in one_hot["checks"]} <= {Outcome.GRADER_ERROR.value, "passed"}
    assert not tensors["graded"] if "graded" in tensors else True
    fault = next(c for c in one_hot["checks"] if c["outcome"] == Outcome.GRADER_ERROR.value)
    assert "Traceback" in fault["detail"] and GRADER_PATH in fault["detail"]
    # every other task was graded as usual: not a student error anywhere
    others = [c for t in tensors["tasks"] if t["task"] != "tensors.one_hot" for c in t["checks"]]
    assert all(c["outcome"] == "passed" for c in others)
    for name in STUDENT_FILES:
        text = _read(grader_fault, "alice", name)
        assert "Traceback" not in text and GRADER_PATH not in text and "autograder/" not in text, name
        assert "a bug of the grader" not in text, name
        assert "not graded: grader error" in text, name
    markdown = _read(grader_fault, "alice", "feedback.md")
    assert "| [tensors](#tensors) | – | 100 | not graded: grader error |" in markdown
    # kept out of the total: linear counts, tensors does not
    assert markdown.startswith("# Feedback for alice: 100 / 100\n")
    gradescope = json.loads(_read(grader_fault, "alice", "results.json"))
    assert gradescope["score"] == 100
    assert all(t["max_score"] == 0 for t in gradescope["tests"] if t["name"].startswith("tensors."))


# --- hidden means hidden: the corpus, grepped --------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Every corpus variant graded once, the very run tests/test_corpus.py reads; the output folder."""
    from helpers import graded_corpus

    return graded_corpus(tmp_path_factory, MODULES)


# Concrete values in a check's detail: lists or tuples of two or more numbers ("[400, 60]",
# "(3, 4)"), and numbers with four or more significant digits ("31.4159", "-2.71828").
_VALUES = re.compile(r"[\[(]-?\d+(?:\.\d+)?(?:, -?\d+(?:\.\d+)?)+[\])]|-?\d+\.\d{3,}|\b\d{4,}\b")


def _hidden_inputs(report: dict) -> dict[str, set[str]]:
    """{check name: the parameter id and the concrete values of its detail} for the hidden
    checks of a module whose configuration hides their inputs."""
    found: dict[str, set[str]] = {}
    for assignment in report["assignments"]:
        for task in assignment["tasks"]:
            for check in task["checks"]:
                if check["visibility"] != "hidden":
                    continue
                values = set(_VALUES.findall(check["detail"]))
                match = re.search(r"\[[^\]]+\]$", check["name"])
                if match:
                    values.add(match.group(0))
                if values:
                    found[check["name"]] = values
    return found


def test_no_student_facing_file_of_the_corpus_carries_hidden_inputs(corpus):
    from autograder.config import load_course

    shown = {m for m, c in load_course().items() if c.show_hidden_inputs}
    leaks: list[str] = []
    grader_errors: list[str] = []
    for folder in sorted(p for p in corpus.iterdir() if p.is_dir()):
        report = json.loads((folder / "report.json").read_text())
        module = folder.name.split("--")[0]
        if module in shown:
            continue
        source = next(iter(folder.parent.parent.glob(f"submissions/{folder.name}/*.py"))).read_text(
            encoding="utf-8", errors="replace")
        grader_errors += [f"{folder.name}: {c['name']}" for a in report["assignments"] for t in a["tasks"]
                          for c in t["checks"] if c["outcome"] == Outcome.GRADER_ERROR.value]
        inputs = _hidden_inputs(report)
        # What public checks show (their inputs are public by design: the same numbers may
        # come up in a hidden check too) and what the student's own code holds are no leak.
        # (A public check's name is public too: "[elu]" of a check parametrised over the
        # activations names a function, shown in its public twin's name.)
        public = "\n".join(c["name"] + "\n" + c["message"] + "\n" + c["detail"] for a in report["assignments"]
                           for t in a["tasks"] for c in t["checks"] if c["visibility"] == "public")
        for name in STUDENT_FILES:
            text = (folder / name).read_text(encoding="utf-8")
            for check, values in inputs.items():
                for value in values:
                    if value in text and value not in source and value not in public:
                        leaks.append(f"{folder.name}/{name}: {check}: {value}")
    assert not grader_errors, f"corpus variants graded with grader errors: {grader_errors}"
    assert not leaks, f"{len(leaks)} hidden inputs in student-facing files:\n" + "\n".join(sorted(set(leaks))[:60])


# --- who is at fault: the plugin's verdict, unit by unit ----------------------------------------

def test_the_verdict_blames_the_grader_only_for_the_graders_faults():
    from autograder.checks.api import CheckFailure
    from autograder.checks.plugin import GRADER_ERROR_MESSAGE, GraderFault, verdict
    from autograder.sandbox.client import StudentError, WorkerCrash, WorkerTimeout

    student = StudentError({"type": "ValueError", "mro": ["ValueError", "Exception"], "message": "bad",
                            "traceback": '  File "tensors.py", line 3, in f'})
    cases = {
        "a wrong answer": (CheckFailure("wrong values", "x = [1, 2]"), Outcome.FAILED),
        "a plain assert in a check": (AssertionError("expected 3"), Outcome.FAILED),
        "the student's exception": (student, Outcome.ERROR),
        "the student's code hanging": (WorkerTimeout("your code did not finish within 10 s"), Outcome.ERROR),
        "the student's code crashing": (WorkerCrash("your code crashed the Python process"), Outcome.ERROR),
        "a bug of a check": (KeyError("shape"), Outcome.GRADER_ERROR),
        "an invalid option": (ValueError("Timeout value must be non-negative"), Outcome.GRADER_ERROR),
        "the sandbox failing to start": (WorkerCrash("the sandbox worker failed to start (EPERM)"),
                                         Outcome.GRADER_ERROR),
        "the zygote dying": (RuntimeError("the sandbox zygote died"), Outcome.GRADER_ERROR),
        "a grader fault": (GraderFault("the data could not be prepared"), Outcome.GRADER_ERROR),
    }
    for what, (exc, expected) in cases.items():
        try:
            raise exc
        except BaseException as raised:    # a traceback, as in a real check
            outcome, message, detail = verdict(raised)
        assert outcome is expected, what
        if expected is Outcome.GRADER_ERROR:
            assert message == GRADER_ERROR_MESSAGE and "Traceback" in detail, what
    _, message, detail = verdict(student)
    assert message.startswith("Your code raised ValueError: bad") and 'File "tensors.py", line 3' in message
    assert verdict(None) == (Outcome.PASSED, "", "")
