"""Atomic file and folder writes, so a reader never sees a half-written report.

- ``atomic_write_text(path, text)``: the file at ``path`` holds either its old content or
  all of ``text``, never a prefix of it.
- ``replace_dir_atomically(target, files)``: the folder ``target`` holds either its
  complete old set of files or the complete new one, never a mix.

Both write into a temporary entry beside the destination (same folder, hence same
filesystem, so the final rename is atomic), flush and ``fsync`` it, and rename it into
place. On any error before the final rename the temporary entry is removed, the
destination is left as it was, and the error is re-raised unchanged.

Temporary entries are hidden names (``.<name>.tmp-<random>``, ``.<name>.new-<random>``,
``.<name>.old-<random>``) so that a glob over the output folder does not pick them up if a
crash leaves one behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import suppress
from pathlib import Path
from typing import Mapping

__all__ = ["atomic_write_text", "replace_dir_atomically", "check_plain_name"]

# Tries at a random temporary name before giving up; a clash needs 64 random bits to
# collide, so more than one try only ever happens when something else is wrong.
_NAME_TRIES = 16


def check_plain_name(name: str, what: str = "file name") -> str:
    """Return ``name`` if it is a plain, single path component; ``ValueError`` otherwise.

    Refused: the empty string, ``.``, anything containing ``..``, ``/`` (or the platform's
    other separator) or NUL. The check is on the text alone; nothing is resolved.
    """
    if not isinstance(name, str):
        raise ValueError(f"{what} must be a str (got {name!r}, a {type(name).__name__})")
    separators = {"/", os.sep, os.altsep} - {None}
    bad = (
        name in ("", ".")
        or ".." in name
        or "\0" in name
        or any(sep in name for sep in separators)
    )
    if bad:
        raise ValueError(
            f"{what} must be a plain name without '/', '..' or NUL (got {name!r})"
        )
    return name


def _fresh_path(folder: Path, stem: str, kind: str) -> Path:
    """A name in ``folder`` that does not exist yet (it may be taken before it is used)."""
    return folder / f".{stem}.{kind}-{secrets.token_hex(8)}"


def _open_new(path: Path) -> int:
    """Create the file ``path`` (which must not exist) for writing; return its descriptor."""
    # Mode 0o666 under the umask, as open() gives; tempfile.mkstemp would make a 0o600
    # file, and os.replace would then leave reports unreadable to the group. O_BINARY
    # (Windows only) stops the C runtime from turning "\n" into "\r\n".
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, 0o666)


def _create_file(folder: Path, stem: str) -> tuple[int, Path]:
    """Create a new, empty temporary file in ``folder``; return its descriptor and path."""
    for _ in range(_NAME_TRIES):
        path = _fresh_path(folder, stem, "tmp")
        try:
            fd = _open_new(path)
        except FileExistsError:
            continue
        return fd, path
    raise FileExistsError(f"no free temporary name in {folder} after {_NAME_TRIES} tries")


def _create_dir(folder: Path, stem: str) -> Path:
    """Create a new, empty temporary folder in ``folder`` and return its path."""
    for _ in range(_NAME_TRIES):
        path = _fresh_path(folder, stem, "new")
        try:
            os.mkdir(path, 0o777)  # under the umask; tempfile.mkdtemp would make it 0o700
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name in {folder} after {_NAME_TRIES} tries")


def _write_and_sync(fd: int, text: str) -> None:
    """Write ``text`` as UTF-8 to the open descriptor ``fd``, fsync it and close it."""
    # newline="" keeps "\n" as written on every platform, so files are byte-identical.
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


def _sync_dir(folder: Path) -> None:
    """Best-effort fsync of a folder, so that a rename in it survives a power cut."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows cannot open a folder; the rename itself is still atomic
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove a temporary file or folder, ignoring one that is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(FileNotFoundError):
            os.unlink(path)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines untranslated) to ``path`` atomically.

    The text goes to a new temporary file in ``path``'s folder, which is flushed,
    fsynced and renamed over ``path`` with ``os.replace``. A reader of ``path`` sees the
    old file or the new one, complete. On any error (including ``KeyboardInterrupt``) the
    temporary file is removed and the error re-raised; ``path`` is then unchanged. The
    folder must exist.
    """
    path = Path(path)
    fd, tmp = _create_file(path.parent, path.name)
    try:
        _write_and_sync(fd, text)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _sync_dir(path.parent)


def replace_dir_atomically(target: Path, files: Mapping[str, str]) -> None:
    """Make ``target`` a folder holding exactly ``files`` (name -> UTF-8 text).

    Every name must be a plain file name (see ``check_plain_name``); a bad one is a
    ``ValueError`` before anything is written. The files are written and fsynced into a
    fresh temporary folder beside ``target``; then the old ``target`` (if any) is renamed
    aside, the new folder renamed into place, and the old one removed. A reader thus
    sees the complete old folder or the complete new one, never a mix; between the two
    renames (microseconds) ``target`` is briefly absent, which a reader can tell from a
    mix. The parent folder is created if needed.

    If anything fails before the new folder is in place, the temporary folder is
    removed, the old ``target`` is put back untouched, and the error is re-raised.
    ``target`` must be a real folder or absent: a file or a symlink there is refused with
    ``NotADirectoryError`` rather than replaced.
    """
    target = Path(target)
    for name in files:
        check_plain_name(name)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise NotADirectoryError(f"{target} exists and is not a folder; refusing to replace it")
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)

    new = _create_dir(parent, target.name)
    try:
        # Sorted so that the order of writes (and of any failure) does not depend on
        # the mapping's insertion order.
        for name in sorted(files):
            _write_and_sync(_open_new(new / name), files[name])
        _sync_dir(new)
        _swap_in(new, target)
    except BaseException:
        _remove(new)
        raise
    _sync_dir(parent)


def _swap_in(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``, moving an existing ``target`` aside and removing it.

    If the second rename fails, the old folder is renamed back before re-raising, so
    ``target`` is never left missing by an error of ours.
    """
    if not target.exists():
        os.rename(new, target)
        return
    old = _fresh_path(target.parent, target.name, "old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    # The new folder is complete and in place; failing to delete the old one leaves a
    # hidden leftover, not a wrong report, so it must not turn success into an error.
    shutil.rmtree(old, ignore_errors=True)
