"""The course record: ``OUT/gradebook.db``, an SQLite database that only ever grows.

Every ``autograder grade`` run is a row of ``runs`` (when, grader version, seed, options,
a digest of each assignment's config and of its checks and solutions, and a snapshot of
the course configuration that reports are rendered with). Every student graded in a run
is a row of ``gradings`` (isolation, messages about the submission, timings), and each of
their assignments a row of ``results``: the full result (as ``report.json`` holds it), the
digest of the graded files, the grading key (files + config + checks + seed), and the
submission time. The *current* result of a (student, assignment) is its latest row;
earlier rows stay, as its history. Extensions given with ``--extensions`` (or read from
nbgrader) are kept in ``extensions``, so reports can be rendered from this file alone.

Safety:

- one writer at a time: ``CourseRecord.open(..., write=True)`` takes an exclusive
  ``flock`` on the database file; a second writer stops with a clear message;
- each student's results are committed in one transaction as they arrive, so a run that
  is killed (Ctrl-C, ``kill -9``, power loss) keeps what had finished, and the next run
  grades the rest;
- a file that is not a gradebook, or a gradebook of a newer schema, is an error that
  leaves the file untouched;
- a gradebook of an older schema is migrated forward (``MIGRATIONS``), in a transaction.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from .errors import OutputError
from .results import AssignmentResult, Isolation, StudentResult

__all__ = ["DB_FILE", "SCHEMA_VERSION", "CourseRecord", "Entry", "RecordError", "MIGRATIONS"]

DB_FILE = "gradebook.db"
APPLICATION = "autograder course record"
SQLITE_HEADER = b"SQLite format 3\x00"


class RecordError(OutputError):
    """The course record cannot be used (not a gradebook, newer schema, locked)."""


# Each entry migrates the schema from version N-1 to N. Version 1 is the first; a newer
# release appends to this list and never edits an entry that has shipped.
MIGRATIONS: list[list[str]] = [
    [   # 1: runs, gradings, results, extensions
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE runs (
               id INTEGER PRIMARY KEY,
               started_at TEXT NOT NULL,
               finished_at TEXT,
               status TEXT NOT NULL,            -- running | finished
               version TEXT NOT NULL,
               seed INTEGER NOT NULL,
               options TEXT NOT NULL,           -- JSON
               digests TEXT NOT NULL,           -- JSON {module: {config, checks}}
               course TEXT NOT NULL             -- JSON snapshot of the course configuration
           )""",
        """CREATE TABLE gradings (
               id INTEGER PRIMARY KEY,
               run_id INTEGER NOT NULL REFERENCES runs(id),
               student TEXT NOT NULL,
               graded_at TEXT NOT NULL,
               isolation TEXT NOT NULL,         -- JSON
               messages TEXT NOT NULL,          -- JSON list
               duration_s REAL NOT NULL,
               timings TEXT NOT NULL            -- JSON list of [phase, seconds]
           )""",
        """CREATE TABLE results (
               id INTEGER PRIMARY KEY,
               run_id INTEGER NOT NULL REFERENCES runs(id),
               grading_id INTEGER REFERENCES gradings(id),   -- NULL: carried over, not graded again
               student TEXT NOT NULL,
               assignment TEXT NOT NULL,
               recorded_at TEXT NOT NULL,
               files_digest TEXT NOT NULL,
               grading_key TEXT NOT NULL,
               submitted_at TEXT,               -- ISO 8601, or NULL when unknown
               time_note TEXT,                  -- why no time is known (unparseable timestamp)
               result TEXT NOT NULL             -- JSON of the AssignmentResult
           )""",
        """CREATE INDEX results_current ON results (student, assignment, id)""",
        """CREATE TABLE extensions (
               student TEXT NOT NULL,
               assignment TEXT NOT NULL,
               due TEXT NOT NULL,
               source TEXT NOT NULL,
               PRIMARY KEY (student, assignment)
           )""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entry:
    """One row of ``results``: a (student, assignment) result as recorded by one run."""

    id: int
    run_id: int
    student: str
    assignment: str
    recorded_at: str
    files_digest: str
    grading_key: str
    submitted_at: str | None
    time_note: str | None
    result: AssignmentResult
    graded: bool                 # graded in that run (False: carried over unchanged)


def _assignment_json(result: AssignmentResult) -> str:
    from .reports.json_report import assignment_to_plain

    return json.dumps(assignment_to_plain(result), sort_keys=True, allow_nan=False)


def _assignment_from(text: str) -> AssignmentResult:
    from .reports.json_report import assignment_from_plain

    return assignment_from_plain(json.loads(text))


class CourseRecord:
    """An open course record. Use :meth:`open`; close with :meth:`close` (or ``with``)."""

    def __init__(self, path: Path, connection: sqlite3.Connection, lock_fd: int | None):
        self.path = path
        self._db = connection
        self._lock_fd = lock_fd

    # -- opening ----------------------------------------------------------------
    @classmethod
    def open(cls, out_dir: Path, *, write: bool, create: bool | None = None) -> "CourseRecord":
        """Open ``out_dir/gradebook.db``; with ``write``, lock it for this process.

        ``create`` (default: ``write``) makes a new record when none exists; without it a
        missing record is a ``RecordError``. A file that is not a gradebook, or one of a
        newer schema, is a ``RecordError`` and is left untouched.
        """
        create = write if create is None else create
        path = Path(out_dir) / DB_FILE
        exists = path.exists()
        if not exists and not create:
            raise RecordError(f"{out_dir} holds no course record ({DB_FILE}); grade into it first "
                              "with `autograder grade SUBMISSIONS -o " f"{out_dir}`")
        if exists:
            _check_is_sqlite(path)
        lock_fd = None
        if write:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            lock_fd = _lock(path)
        try:
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA synchronous = FULL")
            record = cls(path, connection, lock_fd)
            record._prepare(write=write)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        return record

    def _prepare(self, write: bool) -> None:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            if not write:
                raise RecordError(f"{self.path} is an empty database, not a course record")
            self._migrate(0)
            return
        if "meta" not in tables:
            raise RecordError(f"{self.path} is an SQLite database but not an autograder course record; "
                              "choose another output folder (nothing was changed)")
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("application") != APPLICATION:
            raise RecordError(f"{self.path} is an SQLite database but not an autograder course record; "
                              "choose another output folder (nothing was changed)")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise RecordError(f"{self.path} was written by a newer autograder (schema {version}; this one "
                              f"reads up to {SCHEMA_VERSION}): upgrade autograder (nothing was changed)")
        if version < SCHEMA_VERSION:
            if not write:
                raise RecordError(f"{self.path} has an older schema ({version}); run `autograder grade` "
                                  "or `autograder report` on it to migrate it")
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        """Apply every migration after ``version``, all in one transaction."""
        with self._transaction():
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            if version == 0:
                self._db.execute("INSERT INTO meta VALUES ('application', ?)", (APPLICATION,))
                self._db.execute("INSERT INTO meta VALUES ('created_at', ?)", (_now(),))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)     # releases the flock
            self._lock_fd = None

    def __enter__(self) -> "CourseRecord":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    class _Tx:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, value, tb) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _transaction(self) -> "_Tx":
        return CourseRecord._Tx(self._db)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])

    # -- writing ----------------------------------------------------------------
    def begin_run(self, *, version: str, seed: int, options: Mapping[str, Any], digests: Mapping[str, Any],
                  course: Mapping[str, Any]) -> int:
        """Record the start of a run; returns its id."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started_at, status, version, seed, options, digests, course) "
                "VALUES (?, 'running', ?, ?, ?, ?, ?)",
                (_now(), version, seed, json.dumps(options, sort_keys=True), json.dumps(digests, sort_keys=True),
                 json.dumps(course, sort_keys=True)))
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = 'finished', finished_at = ? WHERE id = ?", (_now(), run_id))

    def add_grading(self, run_id: int, result: StudentResult,
                    entries: Mapping[str, tuple[str, str, str | None, str | None]]) -> None:
        """Record one student graded in ``run_id``, in one transaction.

        ``entries``: module -> (files digest, grading key, submitted_at, time note) for each
        assignment of ``result``.
        """
        from .reports.json_report import plain

        now = _now()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO gradings (run_id, student, graded_at, isolation, messages, duration_s, timings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, result.student, now, json.dumps(plain(result.isolation), sort_keys=True),
                 json.dumps(list(result.messages)), result.duration_s, json.dumps([list(t) for t in result.timings])))
            grading_id = cursor.lastrowid
            for assignment in result.assignments:
                digest, key, submitted_at, note = entries[assignment.assignment]
                db.execute(
                    "INSERT INTO results (run_id, grading_id, student, assignment, recorded_at, files_digest, "
                    "grading_key, submitted_at, time_note, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, grading_id, result.student, assignment.assignment, now, digest, key, submitted_at,
                     note, _assignment_json(assignment)))

    def carry_over(self, run_id: int, entry: Entry, submitted_at: str | None, time_note: str | None) -> None:
        """Record ``entry``'s result again in ``run_id`` without grading: the files are
        unchanged but the submission time is not."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO results (run_id, grading_id, student, assignment, recorded_at, files_digest, "
                "grading_key, submitted_at, time_note, result) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, entry.student, entry.assignment, _now(), entry.files_digest, entry.grading_key,
                 submitted_at, time_note, _assignment_json(entry.result)))

    def set_extensions(self, rows: Iterable[tuple[str, str, str]], source: str) -> None:
        """Record (student, assignment, due ISO 8601) extensions, replacing earlier ones."""
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO extensions VALUES (?, ?, ?, ?)",
                           [(s, a, due, source) for s, a, due in rows])

    # -- reading ----------------------------------------------------------------
    def _entries(self, where: str = "", params: tuple = ()) -> Iterator[Entry]:
        query = ("SELECT id, run_id, student, assignment, recorded_at, files_digest, grading_key, submitted_at, "
                 f"time_note, result, grading_id FROM results {where} ORDER BY student, assignment, id")
        for row in self._db.execute(query, params):
            yield Entry(*row[:9], result=_assignment_from(row[9]), graded=row[10] is not None)

    def current(self, students: Iterable[str] | None = None) -> dict[tuple[str, str], Entry]:
        """The latest result of every (student, assignment) ever recorded (of ``students`` only,
        when given)."""
        if students is None:
            return {(e.student, e.assignment): e for e in self._entries(
                "WHERE id IN (SELECT MAX(id) FROM results GROUP BY student, assignment)")}
        found: dict[tuple[str, str], Entry] = {}
        for student in sorted(set(students)):
            found.update({(e.student, e.assignment): e for e in self._entries(
                "WHERE id IN (SELECT MAX(id) FROM results WHERE student = ? GROUP BY assignment)", (student,))})
        return found

    def history(self, student: str) -> list[Entry]:
        """Every result of ``student``, oldest first per assignment."""
        return list(self._entries("WHERE student = ?", (student,)))

    def students(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT student FROM results ORDER BY student")]

    def latest_grading(self, student: str) -> StudentResult | None:
        """The student-level part (isolation, messages, timings) of ``student``'s latest
        grading, with no assignments; None if never graded."""
        from .reports.json_report import isolation_from_plain

        row = self._db.execute(
            "SELECT isolation, messages, duration_s, timings FROM gradings WHERE student = ? "
            "ORDER BY id DESC LIMIT 1", (student,)).fetchone()
        if row is None:
            return None
        return StudentResult(student=student, assignments=(), isolation=isolation_from_plain(json.loads(row[0])),
                             messages=tuple(json.loads(row[1])), duration_s=row[2],
                             timings=tuple((str(k), float(v)) for k, v in json.loads(row[3])))

    def isolations(self, student: str, grading_ids: Iterable[int]) -> list[Isolation]:
        from .reports.json_report import isolation_from_plain

        ids = sorted(set(grading_ids))
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [isolation_from_plain(json.loads(r[0])) for r in self._db.execute(
            f"SELECT isolation FROM gradings WHERE id IN ({marks})", ids)]

    def grading_ids(self, entry_ids: Iterable[int]) -> list[int]:
        """The grading that produced each of the given results (following carried-over rows
        back to the grading whose result they repeat)."""
        ids = []
        for entry_id in entry_ids:
            row = self._db.execute(
                "SELECT r2.grading_id FROM results r1 JOIN results r2 ON r1.student = r2.student AND "
                "r1.assignment = r2.assignment AND r2.id <= r1.id AND r2.grading_id IS NOT NULL "
                "WHERE r1.id = ? ORDER BY r2.id DESC LIMIT 1", (entry_id,)).fetchone()
            if row:
                ids.append(row[0])
        return ids

    def extensions(self) -> dict[tuple[str, str], str]:
        return {(s, a): due for s, a, due in self._db.execute("SELECT student, assignment, due FROM extensions")}

    def runs(self) -> list[dict[str, Any]]:
        keys = ("id", "started_at", "finished_at", "status", "version", "seed", "options", "digests", "course")
        rows = self._db.execute(f"SELECT {', '.join(keys)} FROM runs ORDER BY id")
        runs = []
        for row in rows:
            run = dict(zip(keys, row))
            for key in ("options", "digests", "course"):
                run[key] = json.loads(run[key])
            runs.append(run)
        return runs

    def latest_run(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT seed, version FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else {"seed": row[0], "version": row[1]}

    def course_snapshot(self) -> dict[str, Any]:
        """The course configuration recorded by the latest run (what reports render with)."""
        row = self._db.execute("SELECT course FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else {}


def _check_is_sqlite(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise RecordError(f"cannot read the course record {path}: {exc.strerror}") from None
    if header and header != SQLITE_HEADER:
        raise RecordError(f"{path} is not a gradebook database (not SQLite); move it away or choose "
                          "another output folder (nothing was changed)")


def _lock(path: Path) -> int:
    """An exclusive flock on ``path`` (created if missing), or ``RecordError`` when another
    process holds it. flock and SQLite's own POSIX locks do not interfere."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RecordError(f"another autograder run is writing to {path.parent} right now; wait for it to "
                          "finish (or grade into another folder), then run this again") from None
    return fd
