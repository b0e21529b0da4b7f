"""The class report: its numbers (``class_statistics``), its page, and the page in a browser.

Most tests build a class by hand with planted patterns: four students whose softmax
overflows for large logits (each with their own numbers in the message), two with the
same wrong sigmoid values, one who did not submit, one with no result at all for the
assignment, one the grader failed on, one late, one whose code hung, one graded without
full isolation. One test grades a small real folder (``grade_submissions``) and renders
the report from its ``ClassResult``; one renders the page in headless Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from autograder.config import load_course
from autograder.course import assignment_for
from autograder.errors import OutputError
from autograder.reports.class_report import (
    CLASS_REPORT_FILE, class_report_html, class_statistics, normalise_message, write_class_report,
)
from autograder.results import (
    AssignmentResult, CheckResult, ClassResult, Isolation, Lateness, Outcome, StudentResult, TaskResult,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = load_course()
FULL = Isolation("private-root", "none", "private", "nobody", 4 << 30)
M = "activations"
SOFTMAX_HINT = "subtract the maximum along dim before exp (the max trick); softmax is unchanged by it"


def _softmax_overflow(bad: int) -> str:
    return (f"softmax(x) for logits up to ±1e4 returned nan or inf where the expected value is finite "
            f"({bad} of 9 entries).\nHint: {SOFTMAX_HINT}")


def _activations(failures: dict[str, list[tuple[str, Outcome, str]]] | None = None, **kwargs) -> AssignmentResult:
    """activations with two checks per task (weights 1 and 1), all passing except ``failures``:
    task name -> [(check name, outcome, message)], each replacing the task's second check."""
    failures = failures or {}
    tasks = []
    for name, config in CONFIGS[M].tasks.items():
        task = f"{M}.{name}"
        checks = [CheckResult(f"test_{name}_first", task, Outcome.PASSED)]
        planted = failures.get(name)
        if planted:
            checks += [CheckResult(check, task, outcome, message=message) for check, outcome, message in planted]
        else:
            checks.append(CheckResult(f"test_{name}_second", task, Outcome.PASSED))
        tasks.append(TaskResult(task, config.points, tuple(checks)))
    return AssignmentResult(M, tuple(tasks), source=f"{M}.py", **kwargs)


def _not_submitted() -> AssignmentResult:
    return AssignmentResult(M, tuple(TaskResult(t, CONFIGS[M].tasks[t.split(".")[1]].points, (),
                                                f"{M}.py was not submitted")
                                     for t in assignment_for(M).task_ids), submitted=False,
                            messages=(f"{M}.py was not submitted: its tasks score zero",))


def _student(name: str, assignment: AssignmentResult | None, duration: float = 1.0,
             isolation: Isolation = FULL) -> StudentResult:
    return StudentResult(name, (assignment,) if assignment else (), isolation=isolation, duration_s=duration,
                         timings=(("worker_start_s", 0.05), ("checks_s", duration - 0.1), ("other_s", 0.05)))


LARGE = "test_softmax_finite_for_large_inputs"


def planted_class() -> ClassResult:
    overflow = {"softmax": [(f"{LARGE}[float32]", Outcome.FAILED, _softmax_overflow(7)),
                            (f"{LARGE}[float64]", Outcome.FAILED, _softmax_overflow(5))]}
    students = [
        _student("amara", _activations()),                                    # full marks
        _student("bo", _activations({"softmax": [(f"{LARGE}[float32]", Outcome.FAILED, _softmax_overflow(7))]})),
        _student("chen", _activations(overflow), duration=9.5),
        _student("dara", _activations({"softmax": [(f"{LARGE}[float32]", Outcome.FAILED, _softmax_overflow(3))]})),
        _student("eli", _activations({
            "softmax": [(f"{LARGE}[float64]", Outcome.FAILED, _softmax_overflow(9))],
            "sigmoid": [("test_sigmoid_matches_reference", Outcome.FAILED,
                         "sigmoid(x) returned wrong values: 3 of 12 entries differ (largest difference 0.5 at "
                         "index [2, 1]).")]},
            lateness=Lateness("2026-11-03T10:00:00+00:00", "2026-11-02T23:59:00+00:00", 36000.0, 10.0,
                              "10 h late: 1 started day x 10%")), duration=3.0),
        _student("fumi", _activations({"sigmoid": [("test_sigmoid_matches_reference", Outcome.FAILED,
                                                    "sigmoid(x) returned wrong values: 7 of 40 entries differ "
                                                    "(largest difference 0.25 at index [0, 3, 1]).")]})),
        _student("gus", _not_submitted()),
        _student("hana", None),                                              # never graded for activations
        _student("ivo", _activations({"relu": [("test_relu_matches_reference", Outcome.GRADER_ERROR,
                                                "The grader failed on this check; your instructor can see why.")]})),
        _student("jo", _activations({"elu": [("test_elu_matches_reference", Outcome.ERROR,
                                              "Your code did not finish within 10 s (an infinite loop?)"),
                                             ("test_elu_gradient", Outcome.ERROR,
                                              "The time budget for this submission is used up")]}),
                 duration=14.0, isolation=Isolation()),
    ]
    return ClassResult(tuple(students), (M,), seed=3, version="0.1.0")


def test_counts_scores_and_histogram_of_an_assignment():
    result = planted_class()
    stats = class_statistics(result, CONFIGS).assignment(M)
    assert (stats.students, stats.submitted, stats.not_submitted, stats.late, stats.not_graded) == (10, 8, 2, 1, 1)
    graded = [s.assignment(M) for s in result.students
              if s.assignment(M) is not None and s.assignment(M).submitted and s.assignment(M).graded]
    expected = sorted(a.final_points for a in graded)
    assert stats.scores == tuple(expected) and stats.graded == 7
    # eli is late: 10% off the raw score counts
    eli = next(s for s in result.students if s.student == "eli").assignment(M)
    assert eli.final_points < eli.points and eli.final_points in stats.scores
    assert stats.mean == pytest.approx(statistics.fmean(expected))
    assert stats.median == pytest.approx(statistics.median(expected))
    assert stats.histogram.edges == tuple(float(10 * i) for i in range(11))
    assert sum(stats.histogram.counts) == 7
    for score in expected:   # each score in the bin the edges say (the last bin holds 100)
        index = min(int(score // 10), 9)
        assert stats.histogram.edges[index] <= score <= stats.histogram.edges[index + 1]
    assert stats.histogram.counts[9] == sum(1 for s in expected if s >= 90)
    assert stats.histogram.counts == tuple(sum(1 for s in expected if (10 * i <= s < 10 * (i + 1)) or
                                                (i == 9 and s == 100)) for i in range(10))


def test_tasks_hardest_first_with_mean_and_full_marks_share():
    stats = class_statistics(planted_class(), CONFIGS).assignment(M)
    tasks = [t.task for t in stats.tasks]
    assert tasks[0] == f"{M}.softmax"           # four of seven lost half of it
    assert tasks.index(f"{M}.sigmoid") < tasks.index(f"{M}.tanh")
    softmax = stats.tasks[0]
    points = CONFIGS[M].tasks["softmax"].points
    # amara, fumi, jo: full; bo, dara: half; chen: 1/3 (one pass of three); eli: half
    assert softmax.graded == 7
    assert softmax.full_marks == 3 and softmax.full_marks_share == pytest.approx(3 / 7)
    assert softmax.mean_points == pytest.approx(round(points * (3 + 0.5 * 3 + 1 / 3) / 7, 4), abs=1e-3)
    assert stats.tasks[-1].mean_share == 1.0


def test_mistakes_grouped_by_what_they_say_with_students_named_once():
    stats = class_statistics(planted_class(), CONFIGS).assignment(M)
    softmax = stats.mistakes_of(f"{M}.softmax")
    assert len(softmax) == 1, softmax
    group = softmax[0]
    # the same check failing for the same reason, numbers and parameters taken out;
    # chen failed both parametrised variants and is counted once
    assert group.students == ("bo", "chen", "dara", "eli") and group.count == 4
    assert group.checks == (LARGE,)
    assert group.variants == 4                 # 7, 5, 3, 9 of 9 entries
    assert group.message == _softmax_overflow(7).splitlines()[0]    # the most frequent wording
    assert group.hint == SOFTMAX_HINT
    assert group.key == "softmax(x) for logits up to ±# returned nan or inf where the expected value is finite " \
                        "(# of # entries)."
    sigmoid = stats.mistakes_of(f"{M}.sigmoid")
    assert [(g.students, g.count) for g in sigmoid] == [(("eli", "fumi"), 2)]
    # the hung student's two messages differ in kind: two groups of one
    assert sorted(g.key for g in stats.mistakes_of(f"{M}.elu")) == [
        "The time budget for this submission is used up", "Your code did not finish within # s (an infinite loop?)"]
    # not graded (grader error) and not submitted are not mistakes
    everyone = {s for g in stats.mistakes for s in g.students}
    assert "ivo" not in everyone and "gus" not in everyone and "hana" not in everyone
    # the order: tasks hardest first, the largest group first
    assert stats.mistakes[0].task == f"{M}.softmax"


def test_module_failures_are_one_group_of_the_module():
    broken = "activations.py could not be imported, so none of its checks could run: SyntaxError: expected ':' " \
             "(line {})\n  File \"activations.py\", line {}\n    def sigmoid(x)\nWhat to do: fix it"
    students = []
    for name, line in (("kai", 3), ("lea", 17)):
        tasks = tuple(TaskResult(t, CONFIGS[M].tasks[t.split(".")[1]].points,
                                 (CheckResult(f"test_{t.split('.')[1]}_x", t, Outcome.ERROR,
                                              message=broken.format(line, line)),))
                      for t in assignment_for(M).task_ids)
        students.append(_student(name, AssignmentResult(M, tasks)))
    rule = "activations.py uses eval (line 9), which submissions may not use"
    students.append(_student("max", AssignmentResult(M, tuple(
        TaskResult(t, CONFIGS[M].tasks[t.split(".")[1]].points, (CheckResult("c", t, Outcome.PASSED),), rule)
        for t in assignment_for(M).task_ids))))
    forbidden = replace(_activations(), tasks=tuple(
        replace(t, penalty="activations.softmax uses torch.softmax (line 40), which this task does not allow")
        if t.task == f"{M}.softmax" else t for t in _activations().tasks))
    students.append(_student("noor", forbidden))
    stats = class_statistics(ClassResult(tuple(students), (M,)), CONFIGS).assignment(M)
    whole = stats.mistakes_of(None)
    assert [(g.students, g.key.split(":")[0]) for g in whole] == [
        (("kai", "lea"), "activations.py could not be imported, so none of its checks could run"),
        (("max",), "activations.py uses eval (line #), which submissions may not use")]
    assert all(g.task is None for g in whole)
    per_task = [g for g in stats.mistakes if g.task is not None]
    assert [(g.task, g.students, g.checks) for g in per_task] == [(f"{M}.softmax", ("noor",), ())]


@pytest.mark.parametrize("message, expected", [
    ("shape [3, 4]; expected [4, 3]", "shape […]; expected […]"),
    ("torch.Size([2, 5]) vs torch.Size([5])", "torch.Size(…) vs torch.Size(…)"),
    ("name 'weights' is not defined", "name '…' is not defined"),
    ("returned dtype torch.float32; expected torch.float64.", "returned dtype torch.float32; expected torch.float64."),
    ("log_softmax differs by 1.5e-03 at index [[0, 1], [2, 3]]", "log_softmax differs by # at index […]"),
    ("object at 0x7f3a2b1c9d00 is not a tensor", "object at 0x# is not a tensor"),
    ("first line  with   spaces\nsecond line (ignored)", "first line with spaces"),
])
def test_normalise_message(message, expected):
    assert normalise_message(message) == expected


def test_operations_regrade_time_limits_isolation_slowest():
    ops = class_statistics(planted_class(), CONFIGS).operations
    assert [(e.student, e.modules) for e in ops.grader_errors] == [("ivo", (M,))]
    assert [(t.student, t.module, t.checks, t.budget_used_up) for t in ops.time_limits] == [("jo", M, 2, True)]
    assert dict(ops.isolation) == {"full": ("amara", "bo", "chen", "dara", "eli", "fumi", "gus", "hana", "ivo"),
                                   "minimal": ("jo",)}
    assert [s.student for s in ops.slowest[:3]] == ["jo", "chen", "eli"]
    assert ops.total_duration_s == pytest.approx(sum(s.duration_s for s in planted_class().students))


def test_page_is_deterministic_self_contained_and_says_what_the_data_says():
    result = planted_class()
    page = class_report_html(result, CONFIGS)
    assert page == class_report_html(result, CONFIGS)                 # same input, same bytes
    assert page.count("<svg") == 1 and "<script" not in page.lower()
    # nothing fetched: no src= at all, links only to anchors or the similarity page
    assert not re.search(r"\ssrc\s*=", page)
    assert all(h.startswith("#") or h == "similarity.html" for h in re.findall(r'href="([^"]*)"', page))
    assert "@import" not in page and not re.search(r"url\((?!#)", page)     # url(#clip) is the chart's own
    assert "4 students" in page and "softmax(x) for logits up to ±1e4" in page
    assert "bo, chen, dara, eli" in page
    assert "Hint given: " + SOFTMAX_HINT in page
    assert "ivo" in page and "used up: later checks did not run" in page
    # the chart is matplotlib's, its data the histogram's
    stats = class_statistics(result, CONFIGS).assignment(M)
    label = re.search(r'aria-label="(Histogram of activations scores: [^"]*)"', page).group(1)
    assert label.endswith(f"90 to 100: {stats.histogram.counts[-1]}")


def test_page_shows_the_similarity_section_when_given():
    from autograder.similarity import SimilarityResult, SimilarPair, SimilaritySettings

    pairs = (SimilarPair(M, "bo", "chen", 0.91, 0.87, 212, flagged=True),
             SimilarPair(M, "amara", "dara", 0.22, 0.3, 40, flagged=False))
    similarity = SimilarityResult(("amara", "bo", "chen", "dara"), (), pairs, SimilaritySettings(),
                                  warnings=("no starter code found for activations",))
    page = class_report_html(planted_class(), CONFIGS, similarity=similarity)
    section = page[page.index('id="similarity"'):page.index('id="operations"')]
    assert "never changes a grade" in section and "similarity.html" in section
    assert "<td>bo</td><td>chen</td><td class=num>91%</td><td class=num>87%</td>" in section
    assert "amara" not in section                       # below the threshold: only in similarity.csv
    assert "no starter code found for activations" in section
    assert 'id="similarity"' not in class_report_html(planted_class(), CONFIGS)


def test_write_class_report_atomic_and_errors(tmp_path):
    path = write_class_report(tmp_path / "out", planted_class(), CONFIGS)
    assert path == tmp_path / "out" / CLASS_REPORT_FILE
    assert path.read_text(encoding="utf-8") == class_report_html(planted_class(), CONFIGS)
    assert [p.name for p in path.parent.iterdir()] == [CLASS_REPORT_FILE]     # no temporary left behind
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="class report"):
        write_class_report(blocker, planted_class(), CONFIGS)


def test_an_empty_class_and_an_assignment_nobody_submitted():
    result = ClassResult((_student("solo", _not_submitted()),), (M, "tensors"))
    stats = class_statistics(result, CONFIGS)
    activations, tensors = stats.assignments
    assert (activations.submitted, activations.not_submitted, activations.mean, activations.histogram.counts) == \
        (0, 1, None, (0,) * 10)
    assert tensors.not_submitted == 1 and tensors.mistakes == ()
    page = class_report_html(result, CONFIGS)
    assert "No graded submission." in page
    assert class_report_html(ClassResult((), (M,)), CONFIGS).count("<svg") == 1


# -- a real class, graded -----------------------------------------------------------------

@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Five students graded for real on activations: the reference, two with the same naive
    softmax (the example 'partial' student's file), the untouched template, one who handed in
    another module only."""
    from autograder.grading import GradeOptions, grade_submissions

    base = tmp_path_factory.mktemp("class")
    subs = base / "submissions"
    examples = ROOT / "examples" / "submissions"
    for student, source in (("ref", "reference"), ("pia", "partial"), ("quin", "partial"),
                            ("rae", "template")):
        (subs / student).mkdir(parents=True)
        shutil.copy(examples / source / f"{M}.py", subs / student / f"{M}.py")
    (subs / "sol").mkdir()
    shutil.copy(examples / "reference" / "tensors.py", subs / "sol" / "tensors.py")
    out = base / "out"
    result = grade_submissions(subs, out, GradeOptions(modules=(M,), workers=1))
    return result, out


def test_a_graded_class_gives_the_report_its_data(graded_class):
    result, out = graded_class
    stats = class_statistics(result, CONFIGS).assignment(M)
    assert (stats.submitted, stats.not_submitted, stats.not_graded) == (4, 1, 0)
    assert sum(stats.histogram.counts) == 4 and stats.histogram.counts[0] == 1 and stats.histogram.counts[-1] == 3
    assert stats.tasks[0].task == f"{M}.softmax"
    # the hidden check is parametrised over softmax and log_softmax: grouped by its name
    naive = [g for g in stats.mistakes_of(f"{M}.softmax") if g.checks == ("test_normalisation_finite_for_large_inputs",)]
    assert [g.students for g in naive] == [("pia", "quin")]
    assert "softmax(x) for logits up to ±1e4" in naive[0].message
    # grading wrote it already, from the record, and it is the same page
    assert (out / CLASS_REPORT_FILE).read_text(encoding="utf-8") == class_report_html(result, CONFIGS)
    path = write_class_report(out, result, CONFIGS)
    page = path.read_text(encoding="utf-8")
    assert "pia, quin" in page and "Activations and losses" in page
    # Each grading records the CPU its checks cost on each side of the sandbox (a student
    # who submitted nothing to check costs none); the page splits wall time only.
    timings = {s.student: dict(s.timings) for s in result.students}
    assert all(timings[s]["grader_cpu_s"] > 0 and timings[s]["worker_cpu_s"] > 0 for s in ("ref", "pia", "rae"))
    assert timings["sol"]["worker_cpu_s"] == 0
    slowest = page.split("<h3>Slowest submissions</h3>", 1)[1].split("</table>", 1)[0]
    assert "checks" in slowest and "cpu" not in slowest


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_the_page_renders_in_headless_chromium(graded_class, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("AUTOGRADER_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed, and AUTOGRADER_REQUIRE_CHROMIUM says this test must run")
        pytest.skip("chromium is not installed (apt-get install chromium): the page cannot be rendered here")
    from PIL import Image

    result, _ = graded_class
    page = tmp_path / CLASS_REPORT_FILE
    page.write_text(class_report_html(result, CONFIGS), encoding="utf-8")
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    # the page itself raised nothing and asked for nothing (console errors, failed loads)
    assert "CONSOLE" not in run.stderr and "net::ERR" not in run.stderr, run.stderr[-2000:]
    assert shot.is_file()
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50          # text, a chart, bars: not a blank page
    background = max(colours)[0] / (1280 * 2000)
    assert background < 0.9                                   # not one flat colour
    # the chart's blue bars were drawn
    assert any(abs(r - 0x3b) < 12 and abs(g - 0x6e) < 12 and abs(b - 0xa5) < 12 for _, (r, g, b) in colours)
