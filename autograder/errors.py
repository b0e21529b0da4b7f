"""The project's exceptions.

    AutograderError                 base: a problem the user can fix; the CLI prints it and exits 2
    ├── ConfigError                 an assignment's config.toml is invalid (names file and key)
    ├── SolutionMarkerError         BEGIN/END SOLUTION markers are nested, unclosed or stray
    ├── SubmissionsError            the submissions folder is missing, empty or not a folder
    └── OutputError                 the output folder cannot be written

Failures of student code are never exceptions of this hierarchy: they become check
results (see ``autograder.results``).
"""

from __future__ import annotations


class AutograderError(Exception):
    """A problem with the instructor's input that the user can fix."""


class ConfigError(AutograderError):
    """An assignment configuration file is invalid."""


class SolutionMarkerError(AutograderError):
    """Solution region markers are malformed in a solution file."""


class SubmissionsError(AutograderError):
    """The submissions folder cannot be graded."""


class OutputError(AutograderError):
    """The output folder cannot be written."""
