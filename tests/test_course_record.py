"""The output folder is a course record that only grows: end to end, grading real folders."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder import pipeline
from autograder.cli import main
from autograder.export import export
from autograder.grading import GradeOptions, grade_submissions
from autograder.record import CourseRecord

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "submissions"
TENSORS = GradeOptions(modules=("tensors",), workers=1)


def _class(tmp_path: Path, students: dict[str, str], name: str = "subs") -> Path:
    subs = tmp_path / name
    for student, example in students.items():
        shutil.copytree(EXAMPLES / example, subs / student)
    return subs


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))
    return {row["student"]: row for row in rows}


def _report(out: Path, student: str) -> dict:
    return json.loads((out / student / "report.json").read_text())


def test_assignments_graded_week_by_week_accumulate(tmp_path):
    subs = _class(tmp_path, {"alice": "reference", "bob": "partial"})
    out = tmp_path / "out"
    grade_submissions(subs, out, replace(TENSORS, modules=("tensors",)))
    shutil.rmtree(subs / "bob")                        # bob hands in nothing more this week
    (subs / "carol").mkdir()                           # a new student with nothing handed in
    week2 = grade_submissions(subs, out, replace(TENSORS, modules=("linear",)))
    book = _gradebook(out)
    assert list(book["alice"]) == ["student", "tensors", "linear", "total", "max_total"]
    assert (book["alice"]["tensors"], book["alice"]["linear"], book["alice"]["total"]) == ("100", "100", "200")
    assert (book["bob"]["tensors"], book["bob"]["linear"]) == ("100", "")        # week 1 kept, not graded since
    assert (book["carol"]["tensors"], book["carol"]["linear"]) == ("", "")        # not submitted: empty, not 0
    feedback = (out / "alice" / "feedback.md").read_text()
    assert "tensors" in feedback and "linear" in feedback
    assert [a["assignment"] for a in _report(out, "alice")["assignments"]] == ["tensors", "linear"]
    assert [h["assignment"] for h in _report(out, "alice")["history"]] == ["tensors", "linear"]
    assert [s.student for s in week2.students] == ["alice", "carol"]


def test_incremental_regrade_one_student_changed_files_and_force(tmp_path):
    subs = _class(tmp_path, {"alice": "reference", "bob": "partial", "carol": "template"})
    out = tmp_path / "out"
    first = grade_submissions(subs, out, TENSORS)
    assert (first.run.graded, first.run.unchanged) == (3, 0)
    before = {s: (out / s / "report.json").read_bytes() for s in ("alice", "bob", "carol")}

    again = grade_submissions(subs, out, TENSORS)                       # nothing changed
    assert (again.run.graded, again.run.unchanged) == (0, 3)
    assert {s: (out / s / "report.json").read_bytes() for s in before} == before
    assert again.run.seconds < first.run.seconds

    (subs / "carol" / "tensors.py").write_text((EXAMPLES / "reference" / "tensors.py").read_text())
    changed = grade_submissions(subs, out, TENSORS)                     # one file changed
    assert (changed.run.graded, changed.run.unchanged) == (1, 2)
    assert _gradebook(out)["carol"]["tensors"] == "100"
    assert [h["points"] for h in _report(out, "carol")["history"]] == [0, 100]

    one = grade_submissions(subs, out, replace(TENSORS, students=("bob",), force=True))
    assert (one.run.graded, [s.student for s in one.students]) == (1, ["bob"])
    assert set(_gradebook(out)) == {"alice", "bob", "carol"}                # the others are intact
    assert (out / "alice" / "report.json").read_bytes() == before["alice"]
    assert len(_report(out, "bob")["history"]) == 2

    with CourseRecord.open(out, write=False) as record:
        runs = record.runs()
    assert [r["status"] for r in runs] == ["finished"] * 4
    assert runs[-1]["options"]["students"] == ["bob"] and runs[-1]["options"]["force"] is True
    assert set(runs[0]["digests"]["tensors"]) == {"config", "checks"}


def _course_with_due(tmp_path: Path, late: str) -> Path:
    root = tmp_path / "course"
    shutil.copytree(ROOT / "assignments", root / "assignments")
    path = root / "assignments" / "01_tensors" / "config.toml"
    text = path.read_text().replace("[assignment]\n", '[assignment]\ndue = "2026-10-01T23:59:00+00:00"\n', 1)
    path.write_text(text + "\n" + late)
    return root


def test_late_submissions_are_penalised_from_the_raw_score_and_extensions_honoured(tmp_path):
    subs = _class(tmp_path, {"early": "reference", "late": "reference", "extended": "reference",
                             "garbled": "reference", "fromcsv": "reference"})
    (subs / "early" / "timestamp.txt").write_text("2026-10-01 20:00:00.000000 UTC\n")     # nbgrader's format
    (subs / "late" / "timestamp.txt").write_text("2026-10-03T11:59:00+00:00\n")           # 36 h late
    (subs / "extended" / "timestamp.txt").write_text("2026-10-03 11:59:00.000000 UTC")
    (subs / "garbled" / "timestamp.txt").write_text("last tuesday")
    times = tmp_path / "times.csv"
    times.write_text("student,assignment,submitted_at\nfromcsv,tensors,2026-10-02T12:00:00+00:00\n"
                     "nobody,tensors,2026-10-02T12:00:00+00:00\n")
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student,assignment,due\nextended,tensors,2026-10-04T00:00:00+00:00\n")
    course = _course_with_due(tmp_path, '[late]\npolicy = "percent_per_day"\npercent = 10\n')
    out = tmp_path / "out"
    result = grade_submissions(subs, out, replace(TENSORS, config_root=course, submitted_at=times,
                                                  extensions=extensions))
    assert any("nobody" in w and "line 3" in w for w in result.run.warnings)
    book = _gradebook(out)
    assert {s: book[s]["tensors"] for s in book} == {"early": "100", "late": "80", "extended": "100",
                                                     "garbled": "100", "fromcsv": "90"}
    late = _report(out, "late")["assignments"][0]
    assert late["points"] == 100 and late["final_points"] == 80                 # raw kept, penalty rendered
    assert late["lateness"]["penalty_percent"] == 20 and late["lateness"]["late_by_s"] == 36 * 3600
    feedback = (out / "late" / "feedback.md").read_text()
    assert "2 started days x 10%" in feedback
    assert "could not be read" in (out / "garbled" / "feedback.md").read_text()
    assert "extended due date" in (out / "extended" / "feedback.md").read_text() or \
        _report(out, "extended")["assignments"][0]["lateness"]["extended"] is True

    with CourseRecord.open(out, write=False) as record:                       # never stored as a grade
        stored = record.current()[("late", "tensors")]
    assert stored.result.lateness is None and stored.result.points == 100

    long = list(csv.DictReader(io.StringIO((Path(export(out, "long").split(" (")[0])).read_text())))
    late_rows = [r for r in long if r["student"] == "late"]
    assert sum(float(r["raw"]) for r in late_rows) == 100
    assert sum(float(r["penalty"]) for r in late_rows) == pytest.approx(20)
    assert {r["late_by_s"] for r in late_rows} == {str(36 * 3600)}

    # The extension is kept in the record: a later run without the file still honours it.
    again = grade_submissions(subs, out, replace(TENSORS, config_root=course))
    assert again.run.graded == 0 and _gradebook(out)["extended"]["tensors"] == "100"


def test_report_renders_every_file_again_from_the_record_byte_for_byte(tmp_path):
    subs = _class(tmp_path, {"alice": "reference", "bob": "broken", "carol": "notebook"})
    out = tmp_path / "out"
    grade_submissions(subs, out, replace(TENSORS, modules=("tensors", "activations")))
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "gradebook.db")
    before = {p: p.read_bytes() for p in files}
    for student in ("alice", "bob", "carol"):
        shutil.rmtree(out / student)
    (out / "gradebook.csv").unlink()
    runner = CliRunner()
    result = runner.invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert {p: p.read_bytes() for p in files} == before


def test_exports_without_regrading_and_similarity_on_request(tmp_path):
    subs = _class(tmp_path, {"alice": "reference", "bob": "template", "dave": "reference"})
    (subs / "carol").mkdir()
    out = tmp_path / "out"
    grade_submissions(subs, out, replace(TENSORS, similarity=True))
    pairs = list(csv.DictReader(io.StringIO((out / "similarity.csv").read_text())))
    assert {pairs[0]["student_a"], pairs[0]["student_b"]} == {"alice", "dave"}      # identical copies first
    assert 'id="similarity"' in (out / "class-report.html").read_text() and (out / "similarity.html").exists()
    shutil.rmtree(subs / "dave")
    runner = CliRunner()
    for fmt in ("csv", "long", "canvas", "gradescope"):
        result = runner.invoke(main, ["export", str(out), "--format", fmt])
        assert result.exit_code == 0, result.output
    assert (out / "export-csv.csv").read_text() == (out / "gradebook.csv").read_text()
    canvas = list(csv.reader(io.StringIO((out / "export-canvas.csv").read_text())))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and canvas[1][5] == "100"
    assert [r[3] for r in canvas[2:]] == ["alice", "bob", "carol", "dave"]
    assert [r[5] for r in canvas[2:]] == ["100", "0", "", "100"]
    gradescope = json.loads((out / "gradescope" / "alice" / "results.json").read_text())
    assert gradescope["score"] == 100
    bad = runner.invoke(main, ["export", str(tmp_path / "nowhere"), "--format", "csv"])
    assert bad.exit_code == 2 and "not a folder" in bad.output
    missing = runner.invoke(main, ["export", str(out), "--format", "nbgrader"])
    assert missing.exit_code == 2 and "--course" in missing.output


def test_a_grader_failure_is_not_a_grade_and_the_exit_status_asks_for_a_regrade(tmp_path, monkeypatch):
    subs = _class(tmp_path, {"alice": "reference", "bob": "reference"})
    out = tmp_path / "out"
    original = pipeline.Grader._grade

    def flaky(self, submission, modules, scratch, started):
        if submission.student == "alice":
            raise RuntimeError("a bug in the grader")
        return original(self, submission, modules, scratch, started)

    monkeypatch.setattr(pipeline.Grader, "_grade", flaky)
    runner = CliRunner()
    result = runner.invoke(main, ["grade", str(subs), "-o", str(out), "-a", "tensors", "-j", "1"])
    assert result.exit_code == 3, result.output
    assert "alice/tensors" in result.output and "regrade" in result.output
    assert _gradebook(out)["alice"]["tensors"] == "not graded" and _gradebook(out)["bob"]["tensors"] == "100"
    monkeypatch.setattr(pipeline.Grader, "_grade", original)
    again = runner.invoke(main, ["grade", str(subs), "-o", str(out), "-a", "tensors", "-j", "1"])
    assert again.exit_code == 0, again.output                  # the failed result is graded again
    assert _gradebook(out)["alice"]["tensors"] == "100"
    assert "1 unchanged" in again.output


def test_bad_input_is_refused_before_grading_and_writes_nothing(tmp_path):
    subs = _class(tmp_path, {"alice": "template"})
    out = tmp_path / "out"
    runner = CliRunner()
    for args, expected in [
        (["--timeout", "-1"], "--timeout"), (["--timeout", "0"], "--timeout"),
        (["--students", "zed"], "zed"), (["--extensions", str(tmp_path / "none.csv")], "no such file"),
    ]:
        result = runner.invoke(main, ["grade", str(subs), "-o", str(out), *args])
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output
        assert not out.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("student,assignment,due\nalice,tensors,2026-10-04\n")
    result = runner.invoke(main, ["grade", str(subs), "-o", str(out), "--extensions", str(bad)])
    assert result.exit_code == 2 and "line 2" in result.output and "offset" in result.output
    assert not (out / "gradebook.csv").exists()
    (tmp_path / "notdb").mkdir()
    (tmp_path / "notdb" / "gradebook.db").write_text("my own notes")
    result = runner.invoke(main, ["grade", str(subs), "-o", str(tmp_path / "notdb")])
    assert result.exit_code == 2 and "not a gradebook" in result.output
    assert (tmp_path / "notdb" / "gradebook.db").read_text() == "my own notes"


def test_a_run_killed_mid_way_keeps_what_finished_and_the_next_run_finishes_the_rest(tmp_path):
    subs = _class(tmp_path, {f"s{i:02d}": "template" for i in range(8)})
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder.cli", "grade", str(subs), "-o", str(out), "-a", "tensors", "-j", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    done = 0
    try:
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            if (out / "gradebook.db").exists():
                try:
                    db = sqlite3.connect(f"file:{out / 'gradebook.db'}?mode=ro", uri=True, timeout=1)
                    done = db.execute("SELECT COUNT(*) FROM gradings").fetchone()[0]
                    db.close()
                except sqlite3.Error:
                    continue
                if done >= 2:
                    break
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)         # the group of the process this test started
        process.wait(timeout=60)
    assert 2 <= done < 8, "the run was not caught mid-way"
    with CourseRecord.open(out, write=False) as record:
        kept = set(record.students())
        assert len(kept) >= 2 and record.runs()[-1]["status"] == "running"
    rest = grade_submissions(subs, out, TENSORS)
    assert rest.run.unchanged == len(kept) and rest.run.graded == 8 - len(kept)
    assert len(_gradebook(out)) == 8
