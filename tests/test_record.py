"""The course record as a unit: schema, migrations, refusals, the one-writer lock, config keys."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import record as record_module
from autograder.config import load_config
from autograder.course import assignment_for
from autograder.errors import ConfigError
from autograder.record import DB_FILE, SCHEMA_VERSION, CourseRecord, RecordError
from autograder.results import AssignmentResult, CheckResult, Outcome, StudentResult, TaskResult

ROOT = Path(__file__).resolve().parent.parent


def _result(student: str, points_passed: bool = True) -> StudentResult:
    check = CheckResult("c", "tensors.to_tensor", Outcome.PASSED if points_passed else Outcome.FAILED)
    return StudentResult(student, (AssignmentResult("tensors", (TaskResult("tensors.to_tensor", 10, (check,)),)),))


def _run(record: CourseRecord) -> int:
    return record.begin_run(version="t", seed=0, options={}, digests={}, course={})


def test_a_new_record_has_the_current_schema_and_keeps_every_result(tmp_path):
    with CourseRecord.open(tmp_path, write=True) as record:
        assert record.schema_version == SCHEMA_VERSION
        first = _run(record)
        record.add_grading(first, _result("alice", False), {"tensors": ("d1", "k1", None, None)})
        second = _run(record)
        record.add_grading(second, _result("alice", True), {"tensors": ("d2", "k2", "2026-10-01T00:00:00+00:00", None)})
        current = record.current()
        assert current[("alice", "tensors")].result.points == 10
        assert current[("alice", "tensors")].submitted_at == "2026-10-01T00:00:00+00:00"
        assert [e.result.points for e in record.history("alice")] == [0, 10]
    with CourseRecord.open(tmp_path, write=False) as record:      # reading needs no lock
        assert record.students() == ["alice"]


def test_a_file_that_is_not_a_gradebook_is_refused_and_left_untouched(tmp_path):
    (tmp_path / DB_FILE).write_bytes(b"name,points\nalice,3\n")
    with pytest.raises(RecordError, match="not a gradebook"):
        CourseRecord.open(tmp_path, write=True)
    assert (tmp_path / DB_FILE).read_bytes() == b"name,points\nalice,3\n"


def test_another_sqlite_database_is_refused_and_left_untouched(tmp_path):
    other = sqlite3.connect(tmp_path / DB_FILE)
    other.execute("CREATE TABLE notes (text TEXT)")
    other.commit()
    other.close()
    before = (tmp_path / DB_FILE).read_bytes()
    with pytest.raises(RecordError, match="not an autograder course record"):
        CourseRecord.open(tmp_path, write=True)
    assert (tmp_path / DB_FILE).read_bytes() == before


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path):
    with CourseRecord.open(tmp_path, write=True):
        pass
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    before = (tmp_path / DB_FILE).read_bytes()
    with pytest.raises(RecordError, match="newer autograder"):
        CourseRecord.open(tmp_path, write=True)
    assert (tmp_path / DB_FILE).read_bytes() == before


def test_an_older_schema_is_migrated_forward_keeping_its_results(tmp_path, monkeypatch):
    with CourseRecord.open(tmp_path, write=True) as record:
        record.add_grading(_run(record), _result("alice"), {"tensors": ("d", "k", None, None)})
    # A newer release adds a migration: opening the old record applies it, keeping the data.
    newer = [*record_module.MIGRATIONS, ["ALTER TABLE runs ADD COLUMN host TEXT"]]
    monkeypatch.setattr(record_module, "MIGRATIONS", newer)
    monkeypatch.setattr(record_module, "SCHEMA_VERSION", len(newer))
    with CourseRecord.open(tmp_path, write=True) as record:
        assert record.schema_version == len(newer)
        assert record.current()[("alice", "tensors")].result.points == 10
        record._db.execute("SELECT host FROM runs").fetchall()


def test_a_second_writer_is_stopped_with_a_clear_message(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from autograder.record import CourseRecord
        record = CourseRecord.open(Path({str(tmp_path)!r}), write=True)
        print("locked", flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RecordError, match="another autograder run is writing"):
            CourseRecord.open(tmp_path, write=True)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with CourseRecord.open(tmp_path, write=True):     # released when the holder ends
        pass


def test_a_missing_record_is_not_created_for_reading(tmp_path):
    with pytest.raises(RecordError, match="holds no course record"):
        CourseRecord.open(tmp_path, write=False)
    assert not (tmp_path / DB_FILE).exists()


def _config(tmp_path: Path, extra: str) -> Path:
    source = (ROOT / "assignments" / "01_tensors" / "config.toml").read_text()
    head, rest = source.split("[tasks.", 1)
    path = tmp_path / "config.toml"
    path.write_text(head.replace("[assignment]\n", "[assignment]\n" + extra.split("@@")[0], 1)
                    + (extra.split("@@")[1] if "@@" in extra else "") + "\n[tasks." + rest)
    return path


def test_due_dates_and_late_policies_are_read_and_checked(tmp_path):
    tensors = assignment_for("tensors")
    config = load_config(_config(tmp_path, 'due = "2026-10-01T23:59:00+02:00"\n@@[late]\npolicy = "percent_per_day"\n'
                                           'percent = 10\ngrace_minutes = 15\n'), tensors)
    assert config.due.isoformat() == "2026-10-01T23:59:00+02:00"
    assert (config.late.policy, config.late.percent, config.late.grace_minutes) == ("percent_per_day", 10, 15)
    with pytest.raises(ConfigError, match=r"'assignment.due'.*no UTC offset"):
        load_config(_config(tmp_path, 'due = "2026-10-01T23:59:00"\n'), tensors)
    with pytest.raises(ConfigError, match=r"'late.policy' must be one of"):
        load_config(_config(tmp_path, '@@[late]\npolicy = "weekly"\n'), tensors)
    with pytest.raises(ConfigError, match=r"'late.percent' must be >= 0"):
        load_config(_config(tmp_path, '@@[late]\npolicy = "percent_per_day"\npercent = -10\n'), tensors)
    with pytest.raises(ConfigError, match=r"unknown key 'late.penalty'"):
        load_config(_config(tmp_path, '@@[late]\npenalty = 3\n'), tensors)
