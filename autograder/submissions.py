"""Find the submissions in a folder and copy one student's files into a scratch folder.

Layout: ``SUBMISSIONS_DIR/<student id>/<module>.py`` (or ``<module>.ipynb``). The copy
takes regular files only: symlinks, devices, sub-folders and oversized files are
skipped with a message, so a submission can never make the grader read something
outside it (``evil.py -> /etc/passwd``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .course import MODULES
from .errors import SubmissionsError

__all__ = ["Submission", "discover", "copy_submission", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 2 * 1024 * 1024
_IGNORED = {"__pycache__", ".ipynb_checkpoints", ".DS_Store"}


@dataclass(frozen=True)
class Submission:
    """One student's folder."""

    student: str
    folder: Path


def discover(root: Path) -> list[Submission]:
    """The student folders of ``root``, sorted by student id.

    Raises ``SubmissionsError`` when ``root`` is missing, is a file, or holds no student folder.
    """
    if not root.exists():
        raise SubmissionsError(f"submissions folder {root} does not exist; pass the folder holding "
                               "one sub-folder per student")
    if not root.is_dir():
        raise SubmissionsError(f"{root} is a file, not a folder; pass the folder holding one "
                               "sub-folder per student")
    try:
        entries = sorted(root.iterdir())
    except PermissionError:
        raise SubmissionsError(f"cannot read the submissions folder {root}: permission denied") from None
    students = [Submission(p.name, p) for p in entries
                if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and p.name not in _IGNORED]
    if not students:
        raise SubmissionsError(f"{root} holds no student folders; expected {root}/<student id>/<module>.py "
                               f"(modules: {', '.join(MODULES)})")
    return students


def _read_regular(path: Path) -> bytes:
    # O_NOFOLLOW + fstat: the file we read is the regular file we checked, not a swapped-in link.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise OSError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def copy_submission(submission: Submission, dest: Path) -> tuple[dict[str, bytes], list[str]]:
    """Copy the student's ``.py`` files into ``dest`` (created).

    Returns the notebooks found (``{module: bytes}``, converted by the caller) and the
    messages about skipped entries.
    """
    dest.mkdir(parents=True, exist_ok=True)
    notebooks: dict[str, bytes] = {}
    messages: list[str] = []
    for entry in sorted(submission.folder.iterdir()):
        name = entry.name
        if name in _IGNORED:
            continue
        if entry.is_symlink():
            messages.append(f"skipped {name}: a symbolic link (submit regular files only)")
            continue
        if entry.is_dir():
            messages.append(f"skipped folder {name}/: put your modules at the top of your submission")
            continue
        if entry.suffix not in (".py", ".ipynb"):
            continue
        try:
            data = _read_regular(entry)
        except OSError as exc:
            messages.append(f"skipped {name}: {exc.strerror or exc}")
            continue
        if entry.suffix == ".ipynb":
            if entry.stem in MODULES:
                notebooks[entry.stem] = data
            continue
        (dest / name).write_bytes(data)
    return notebooks, messages
