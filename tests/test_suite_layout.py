"""How the suite's tests go to the test processes (tests/conftest.py): one unit per file,
the files that share a grading run in one unit, whatever the parameter ids hold."""

from __future__ import annotations

import conftest


def test_a_files_tests_are_one_unit_whatever_their_ids():
    units = {conftest.unit_of(n) for n in ("tests/test_cli.py::test_a", "tests/test_cli.py::test_b[x-y]",
                                           "tests/test_cli.py::test_c[a@b]", "tests/test_cli.py::Class::test_d")}
    assert units == {"tests/test_cli.py"}
    assert conftest.unit_of("tests/test_cli.py::test_a") != conftest.unit_of("tests/test_pool.py::test_a")


def test_the_files_sharing_a_grading_run_are_one_unit():
    assert conftest.unit_of("tests/test_corpus.py::test_x[tensors]") == \
        conftest.unit_of("tests/test_feedback.py::test_y") == "graded-corpus"
    assert conftest.unit_of("tests/test_html_render.py::test_x") == \
        conftest.unit_of("tests/test_student_check.py::test_y[broken/tensors.py]") == \
        conftest.unit_of("tests/test_cluster.py::test_z") == "example-class"


class _Config:
    """The session's config, with another ``--dist``."""

    def __init__(self, config, dist: str):
        self._config, self._dist = config, dist

    def getvalue(self, name: str):
        return {"dist": self._dist, "tx": ["2*popen"]}.get(name) or self._config.getvalue(name)

    def __getattr__(self, name: str):
        return getattr(self._config, name)


def test_xdist_schedules_by_these_units(pytestconfig):
    scheduler = conftest.pytest_xdist_make_scheduler(_Config(pytestconfig, "loadfile"), log=None)
    assert scheduler._split_scope("tests/test_feedback.py::test_y") == "graded-corpus"
    assert scheduler._split_scope("tests/test_cli.py::test_b[x-y]") == "tests/test_cli.py"
    assert conftest.pytest_xdist_make_scheduler(_Config(pytestconfig, "each"), log=None) is None
