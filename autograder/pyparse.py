"""`ast.parse` that a concurrent thread cannot break.

CPython 3.11 keeps the AST converter's recursion counter in interpreter-wide state, so
two threads that build Python AST objects at once (the grader's static rules in a Dask
worker's task thread, and Dask reading its configuration with `ast.literal_eval` on its
event loop) can make either one raise ``SystemError: AST constructor recursion depth
mismatch`` (CPython gh-106905, fixed in 3.12). The counter is reset at the start of every
conversion, so parsing again gives the right tree; a real error is raised as before.
"""
from __future__ import annotations

import ast

_ATTEMPTS = 5


def parse(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse(source, filename)`, retried when CPython's thread-unsafe counter trips."""
    for attempt in range(_ATTEMPTS):
        try:
            return ast.parse(source, filename=filename)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
