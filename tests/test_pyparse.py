"""`autograder.pyparse.parse`: CPython 3.11's spurious AST SystemError is retried, real errors are not."""
import ast

import pytest

from autograder import pyparse


def test_a_spurious_recursion_mismatch_is_parsed_again(monkeypatch):
    calls = []
    real = ast.parse

    def flaky(source, filename="<unknown>"):
        calls.append(source)
        if len(calls) < 3:
            raise SystemError("AST constructor recursion depth mismatch (before=81, after=224)")
        return real(source, filename=filename)

    monkeypatch.setattr(ast, "parse", flaky)
    tree = pyparse.parse("x = 1\n")
    assert isinstance(tree.body[0], ast.Assign) and len(calls) == 3


def test_a_mismatch_that_persists_is_raised(monkeypatch):
    def broken(source, filename="<unknown>"):
        raise SystemError("AST constructor recursion depth mismatch (before=1, after=2)")

    monkeypatch.setattr(ast, "parse", broken)
    with pytest.raises(SystemError, match="mismatch"):
        pyparse.parse("x = 1\n")


def test_other_errors_are_not_retried(monkeypatch):
    calls = []

    def other(source, filename="<unknown>"):
        calls.append(source)
        raise SystemError("something else")

    monkeypatch.setattr(ast, "parse", other)
    with pytest.raises(SystemError, match="something else"):
        pyparse.parse("x = 1\n")
    assert len(calls) == 1


def test_a_syntax_error_is_raised_as_before():
    with pytest.raises(SyntaxError) as error:
        pyparse.parse("def (:\n", "student.py")
    assert error.value.filename == "student.py"
