"""Why a student's module could not be loaded, said once and in a way a student can act on.

A module that cannot be imported breaks every check of its assignment at once. The
grader (:mod:`autograder.checks.plugin`) and ``autograder check``
(:mod:`autograder.student_check`) both turn such a failure into one *module failure*
message, built here, which every broken check carries; the feedback shows it once, at
the top of the module's section, and counts the checks it broke.

Two kinds of failure are found on the grader's side before any student code runs
(:func:`source_problem`, on the bytes, with :func:`compile`: nothing executes):

- the file is not saved as UTF-8 (UTF-16, latin-1 / Windows-1252) and declares no other
  encoding (a UTF-8 byte order mark is fine: Python accepts it);
- a syntax error, shown as Python shows it: file, line, the line and a caret.

The others happen when the module is imported (in the worker, or in the child process of
``autograder check``): an exception at import, an import that does not finish within the
call time limit, the process dying.

A module failure's message starts with ``"<module>.py could not be imported"``
(:func:`is_module_failure`); only the grader writes such text (a student's exception
reaches the report prefixed with "Your code raised"), so it cannot be forged.
"""

from __future__ import annotations

import codecs
import io
import tokenize
import traceback
from dataclasses import dataclass

__all__ = ["ModuleFailure", "source_problem", "encoding_problem", "import_exception", "import_timeout",
           "import_crash", "is_module_failure", "MARK"]

MARK = "could not be imported"
_TOP_LEVEL = ("code at the top level of a module runs when it is imported: keep only imports, definitions "
              "and constants there, and put anything else (training, prints, plots, input()) inside a "
              'function or under `if __name__ == "__main__":`')


@dataclass(frozen=True)
class ModuleFailure:
    """Why ``file`` (``"activations.py"``) could not be imported.

    ``summary``: one line ("SyntaxError: expected ':' (line 3)"); ``body``: what Python
    showed (the line and its caret, the student's traceback), may be ""; ``todo``: what to
    do about it.
    """

    file: str
    summary: str
    body: str = ""
    todo: str = ""

    @property
    def message(self) -> str:
        """The message every check broken by this failure carries."""
        parts = [f"{self.file} {MARK}, so none of its checks could run: {self.summary}"]
        if self.body.strip():
            parts.append(self.body.rstrip())
        if self.todo:
            parts.append(f"What to do: {self.todo}")
        return "\n".join(parts)


def is_module_failure(module: str, message: str) -> bool:
    """True when ``message`` is a module failure of ``module`` (see the module docstring);
    the module may have been handed in as a notebook (``<module>.ipynb``)."""
    return message.startswith((f"{module}.py {MARK}", f"{module}.ipynb {MARK}"))


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def encoding_problem(file: str, data: bytes) -> ModuleFailure | None:
    """A failure when ``data`` is not text Python can read as this module's source.

    UTF-8 (with or without a byte order mark) and any encoding the file declares itself
    (PEP 263: ``# -*- coding: latin-1 -*-``) are fine.
    """
    save = ("save the file as UTF-8 and submit it again (in VS Code: click the encoding in the status bar, "
            "'Save with Encoding', 'UTF-8'; in Notepad: 'Save as', Encoding 'UTF-8'; in PyCharm: File, "
            "'File Properties', 'File Encoding')")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) \
            and not data.startswith(codecs.BOM_UTF8):
        return ModuleFailure(file, "the file is saved as UTF-16 (or UTF-32), not UTF-8", todo=save)
    if b"\x00" in data:
        # UTF-16 without a byte order mark: every other byte of ASCII text is zero.
        zeros = data.count(b"\x00")
        if zeros * 3 >= len(data):
            return ModuleFailure(file, "the file is saved as UTF-16, not UTF-8", todo=save)
        line = _line_of(data, data.index(b"\x00"))
        return ModuleFailure(file, f"the file contains a null byte (line {line}), so it is not a text file",
                             todo=save)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "unknown encoding" in str(exc.msg):     # a coding declaration naming no known encoding
            return ModuleFailure(file, f"its encoding declaration is invalid ({exc.msg})",
                                 todo="remove the `# coding: ...` line, then " + save)
        encoding = "utf-8"       # the first lines are not UTF-8 (and declare nothing): said below
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc.start)
        byte = data[exc.start]
        guess = ""
        if encoding in ("utf-8", "utf-8-sig"):
            try:
                char = bytes([byte]).decode("cp1252")
                guess = f"; in latin-1 / Windows-1252 it would be {char!r}, so the file was probably saved in that encoding"
            except UnicodeDecodeError:
                pass
        return ModuleFailure(file, f"the file is not saved as {encoding.upper().replace('-SIG', '')}: byte "
                                   f"0x{byte:02x} on line {line} is not valid there{guess}", todo=save)
    return None


def source_problem(file: str, data: bytes) -> ModuleFailure | None:
    """What stops ``data`` from loading before any of it runs (encoding, syntax), or None.

    Compiles only (nothing is executed). ``file`` names the file in messages.
    """
    problem = encoding_problem(file, data)
    if problem is not None:
        return problem
    try:
        # to bytecode, not only an AST: some errors are found there ("from __future__"
        # not first, "return" outside a function); compiling runs nothing
        compile(data, file, "exec", dont_inherit=True)
    except SyntaxError as exc:
        if exc.text is None and exc.lineno:
            # errors found after parsing carry no source line: show it as Python would
            lines = data.decode("utf-8-sig", "replace").splitlines()
            if 0 < exc.lineno <= len(lines):
                exc.text = lines[exc.lineno - 1] + "\n"
                if not exc.offset:
                    exc.offset = len(lines[exc.lineno - 1]) - len(lines[exc.lineno - 1].lstrip()) + 1
        return syntax_failure(file, exc)
    except (ValueError, RecursionError, MemoryError) as exc:
        return ModuleFailure(file, f"Python could not parse it ({type(exc).__name__}: {exc})",
                             todo="simplify the deeply nested expression, then check again")
    return None


def syntax_failure(file: str, exc: SyntaxError) -> ModuleFailure:
    """A syntax error as Python shows it: the line, a caret under the problem."""
    exc.filename = file
    shown = "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n")
    # format_exception_only ends with the "SyntaxError: ..." line, already in the summary
    body = "\n".join(shown.splitlines()[:-1])
    where = f" (line {exc.lineno})" if exc.lineno else ""
    kind = type(exc).__name__
    at = " at the caret" if "^" in body else (f" on line {exc.lineno}" if exc.lineno else "")
    return ModuleFailure(file, f"{kind}: {exc.msg}{where}", body,
                         todo=f"fix the {kind}{at} (run `python {file}` to see it too), then run "
                              f"`autograder check {file}` again")


def import_exception(file: str, type_name: str, message: str, student_traceback: str,
                     mro: tuple[str, ...] = ()) -> ModuleFailure:
    """The module raised an exception while being imported."""
    summary = f"{type_name}: {message}" if message else type_name
    if "ModuleNotFoundError" in (type_name, *mro):
        todo = ("it imports a module that is not available when grading: use only the standard library, torch, "
                "torchvision and numpy (and your own modules of this course, submitted with it)")
    elif "SyntaxError" in (type_name, *mro):
        todo = "fix the syntax error shown above, then check again"
    else:
        todo = f"the exception happened while importing {file}: {_TOP_LEVEL}"
    body = ("Traceback (your code):\n" + student_traceback) if student_traceback.strip() else ""
    return ModuleFailure(file, summary, body, todo)


def import_timeout(file: str, limit_s: float) -> ModuleFailure:
    """Importing the module did not finish within ``limit_s`` seconds."""
    return ModuleFailure(file, f"importing it did not finish within {limit_s:g} s (an endless loop, or a long "
                               "computation at import?)", todo=_TOP_LEVEL)


def import_crash(file: str, why: str) -> ModuleFailure:
    """The process running the student's code died while importing the module."""
    return ModuleFailure(file, f"the Python process running it died while importing it ({why})",
                         todo=f"look for sys.exit(), os._exit() or a very large allocation at the top level; "
                              f"{_TOP_LEVEL}")
