"""Find the submissions in a folder and copy one student's files into a scratch folder.

Two layouts:

- ours: ``SUBMISSIONS_DIR/<student id>/<module>.py`` (or ``<module>.ipynb``);
- nbgrader's: ``COURSE_DIR/submitted/<student id>/<assignment>/<module>.ipynb``, where the
  assignment is named after the module (``activations/activations.ipynb``; a
  ``<module>.py`` there is taken too). It is used when the folder given has a
  ``submitted/`` sub-folder (the course folder; one configured with another
  ``submitted_directory`` is read from its ``nbgrader_config.py``), or is nbgrader's
  ``submitted/`` folder itself (its course's configured folder, or named ``submitted`` and
  holding student folders with assignment sub-folders).

The copy takes regular files only: symlinks, devices, unexpected sub-folders and
oversized files are skipped with a message, so a submission can never make the grader
read something outside it (``evil.py -> /etc/passwd``).

Submissions arrive as people make them, so:

- hidden and system entries are ignored, silently: dot-files and dot-folders (macOS's
  ``._tensors.py``, ``.ipynb_checkpoints``), ``__MACOSX`` (left by unzipping on a Mac),
  ``__pycache__``, ``Thumbs.db``, ``desktop.ini``; never graded as a student either;
- a near-miss file name (``Tensors.py``, ``tensors (1).py``, ``tensors-Copy1.py``,
  ``tensors.py.txt``) for a module that is missing is named in a message: when exactly
  one file can be meant it is graded as that module, and the message says so; when
  several can, none is, and the message names them all;
- the encoding is the checks' business (:mod:`autograder.checks.loading`): UTF-8 with a
  byte order mark is fine; UTF-16 and latin-1 are told to be saved as UTF-8.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from .course import MODULES
from .errors import SubmissionsError

__all__ = ["Submission", "discover", "copy_submission", "submissions_root", "MAX_FILE_BYTES",
           "MAX_NOTEBOOK_BYTES", "size_limit"]

MAX_FILE_BYTES = 2 * 1024 * 1024
# A notebook carries its outputs (plots are base64 images): a few figures pass 2 MB.
MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024


def size_limit(name: str) -> int:
    """The largest file named ``name`` that is read: a notebook's limit, or a source file's."""
    return MAX_NOTEBOOK_BYTES if name.lower().endswith(".ipynb") else MAX_FILE_BYTES
# System entries nobody submits on purpose (dot-names are ignored too: see _ignored).
_IGNORED = {"__pycache__", ".ipynb_checkpoints", ".DS_Store", "__MACOSX", "Thumbs.db", "desktop.ini",
            "$RECYCLE.BIN", "System Volume Information"}
_NBGRADER_FILES = {"timestamp.txt"}   # written by `nbgrader collect` next to the notebooks


def _ignored(name: str) -> bool:
    """A hidden or system entry (see the module docstring)."""
    return name in _IGNORED or name.startswith(".")


# What people and tools add to a file's name: "tensors (1)", "tensors-Copy1", "tensors copy 2",
# "tensors_copy", "tensors-1".
_NEAR_MISS_TAIL = re.compile(r"(?:\s*\(\d+\)|[\s_-]*copy[\s_-]*\d*|[\s_-]+\d+)+$", re.IGNORECASE)


def near_miss_module(name: str) -> str | None:
    """The module a file named ``name`` was probably meant to be, or None.

    ``Tensors.py``, ``tensors (1).py``, ``tensors-Copy1.py``, ``tensors.py.txt`` (and
    the same for ``.ipynb``) all mean ``tensors``; ``tensors.py`` itself is no near miss.
    """
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in (".py", ".ipynb"):
        inner, inner_suffix = os.path.splitext(stem)        # tensors.py.txt
        if inner_suffix.lower() not in (".py", ".ipynb"):
            return None
        stem = inner
    elif suffix in (".py", ".ipynb") and stem in MODULES:
        return None
    guess = _NEAR_MISS_TAIL.sub("", stem.strip()).strip().lower().replace(" ", "_").replace("-", "_")
    return guess if guess in MODULES else None


@dataclass(frozen=True)
class Submission:
    """One student's folder (``nbgrader``: it holds one sub-folder per assignment)."""

    student: str
    folder: Path
    nbgrader: bool = False


def _configured_submitted(course_dir: Path) -> Path | None:
    """The submissions folder ``course_dir``'s nbgrader configuration names
    (``submitted_directory``, by default ``submitted/``), or None when it is no course."""
    from .errors import AutograderError
    from .nbgrader_course import find_course

    try:
        return find_course(course_dir).submitted
    except AutograderError:
        return None


def _is_nbgrader_submitted(root: Path) -> bool:
    """Is ``root`` nbgrader's ``submitted/`` folder (student/assignment/notebook)?"""
    configured = _configured_submitted(root.parent)
    if configured is not None and configured.resolve() == root.resolve():
        return True
    if root.name != "submitted":
        return False
    try:
        return any((student / module).is_dir() for student in root.iterdir() if student.is_dir()
                   for module in MODULES)
    except OSError:
        return False


def submissions_root(root: Path) -> tuple[Path, bool]:
    """The folder holding the student folders, and whether it is in nbgrader's layout.

    ``COURSE_DIR`` with a ``submitted/`` sub-folder gives ``COURSE_DIR/submitted``.
    """
    if root.is_dir() and not root.is_symlink():
        submitted = _configured_submitted(root) or root / "submitted"
        if submitted.is_dir():
            return submitted, True
    return root, root.is_dir() and _is_nbgrader_submitted(root)


def discover(root: Path) -> list[Submission]:
    """The student folders of ``root``, sorted by student id.

    ``root`` may also be an nbgrader course folder or its ``submitted/`` folder (see the
    module's docstring). Raises ``SubmissionsError`` when ``root`` is missing, is a file, or
    holds no student folder.
    """
    root, nbgrader = submissions_root(root)
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
    students = [Submission(p.name, p, nbgrader) for p in entries
                if p.is_dir() and not p.is_symlink() and not _ignored(p.name)]
    if not students:
        expected = (f"{root}/<student id>/<assignment>/<assignment>.ipynb (nbgrader's layout)" if nbgrader
                    else f"{root}/<student id>/<module>.py")
        raise SubmissionsError(f"{root} holds no student folders; expected {expected} "
                               f"(modules: {', '.join(MODULES)})")
    return students


def _read_regular(path: Path) -> bytes:
    # O_NOFOLLOW + fstat: the file we read is the regular file we checked, not a swapped-in link.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        limit = size_limit(path.name)
        if info.st_size > limit:
            raise OSError(f"larger than {limit // (1024 * 1024)} MB")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
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
    if submission.nbgrader:
        _copy_nbgrader(submission.folder, dest, notebooks, messages)
        return notebooks, messages
    near: dict[str, list[Path]] = {}
    present = set()
    for entry in sorted(submission.folder.iterdir()):
        name = entry.name
        if _ignored(name):
            continue
        if entry.is_symlink():
            messages.append(f"skipped {name}: a symbolic link (submit regular files only)")
            continue
        if entry.is_dir():
            messages.append(f"skipped folder {name}/: put your modules at the top of your submission")
            continue
        guess = near_miss_module(name)
        if guess is not None:
            near.setdefault(guess, []).append(entry)
            continue
        if entry.suffix in (".py", ".ipynb") and entry.stem in MODULES:
            present.add(entry.stem)
        _copy_file(entry, name, dest, notebooks, messages)
    for module, entries in sorted(near.items()):
        _near_miss(module, entries, module in present, dest, notebooks, messages)
    return notebooks, messages


def _near_miss(module: str, entries: list[Path], present: bool, dest: Path, notebooks: dict[str, bytes],
               messages: list[str]) -> None:
    """Files whose names look like ``module``'s (see :func:`near_miss_module`)."""
    names = " and ".join(", ".join(e.name for e in entries).rsplit(", ", 1))
    if present:
        messages.append(f"ignored {names}: only the file named exactly {module}.py (or {module}.ipynb) is graded")
        return
    usable = [e for e in entries if e.suffix in (".py", ".ipynb")]
    if len(entries) == 1 and len(usable) == 1:
        entry = usable[0]
        target = f"{module}{entry.suffix}"
        before = len(messages)
        _copy_file(entry, entry.name, dest, notebooks, messages, as_name=target)
        if len(messages) == before:
            messages.append(f"{entry.name} was graded as {target}: the file must be named exactly {target} "
                            "(rename it for your next submission)")
        return
    if len(entries) == 1:
        messages.append(f"{module}.py was not submitted, but {names} looks like it: save it as {module}.py "
                        "(a .py file, named exactly so) and submit again")
        return
    messages.append(f"{module}.py was not submitted, but {names} look like it: none of them is graded, since "
                    f"it is not clear which one you meant; rename the one you mean to {module}.py exactly")


def _copy_file(entry: Path, shown: str, dest: Path, notebooks: dict[str, bytes], messages: list[str],
               as_name: str | None = None) -> None:
    """Copy one ``.py`` file into ``dest`` (as ``as_name``), or keep one module notebook's bytes."""
    name = as_name or entry.name
    stem, suffix = os.path.splitext(name)
    if suffix not in (".py", ".ipynb"):
        return
    try:
        data = _read_regular(entry)
    except OSError as exc:
        messages.append(f"skipped {shown}: {exc.strerror or exc}")
        return
    if suffix == ".ipynb":
        if stem in MODULES:
            notebooks[stem] = data
        return
    (dest / name).write_bytes(data)


def _copy_nbgrader(folder: Path, dest: Path, notebooks: dict[str, bytes], messages: list[str]) -> None:
    """nbgrader's layout: ``<student>/<assignment>/<assignment>.ipynb`` for each module."""
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if _ignored(name):
            continue
        if entry.is_symlink():
            messages.append(f"skipped {name}: a symbolic link (submit regular files only)")
            continue
        if not entry.is_dir():
            if entry.suffix in (".py", ".ipynb"):
                messages.append(f"skipped {name}: in nbgrader's layout a notebook belongs in its assignment's "
                                f"folder, e.g. {MODULES[0]}/{MODULES[0]}.ipynb")
            continue
        if name not in MODULES:
            messages.append(f"skipped folder {name}/: not an assignment of this course "
                            f"(assignments: {', '.join(MODULES)})")
            continue
        for item in sorted(entry.iterdir()):
            shown = f"{name}/{item.name}"
            if _ignored(item.name) or item.name in _NBGRADER_FILES:
                continue
            if item.is_symlink():
                messages.append(f"skipped {shown}: a symbolic link (submit regular files only)")
                continue
            if item.is_dir():
                messages.append(f"skipped folder {shown}/: only {name}.ipynb (or {name}.py) is graded")
                continue
            if item.suffix == ".ipynb" and item.stem != name:
                messages.append(f"skipped {shown}: the {name} assignment is graded from {name}.ipynb "
                                f"(or {name}.py)")
                continue
            _copy_file(item, shown, dest, notebooks, messages)


def content_digest(folder: Path) -> str:
    """A SHA-256 of every file under ``folder`` (relative paths and bytes, in sorted order).

    Of the scratch copy that is graded: the same submission always gives the same digest,
    and any change to the graded code gives another.
    """
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(folder).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
