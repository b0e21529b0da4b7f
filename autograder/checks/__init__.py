"""Checks: the pytest plugin, the check-writing API, static source checks, and the
hidden check suites (``hidden/test_<module>.py``), all run in the grader process."""
