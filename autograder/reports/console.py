"""The class's scores on the console, after ``autograder grade``: a table readable at 80 columns.

- one row per student, one column per assignment, then the total (graded assignments
  only, after late penalties);
- a cell is the points, or ``n/s`` (not submitted: it scores zero, but is not a zero the
  student earned) or ``n/g`` (not graded: a grader error; no grade, kept out of the
  total, needs a regrade); a legend under the table says so;
- when the full assignment names do not fit the console's width, the columns are headed
  by short names (``tens``, ``act``, ...) and the legend spells them out; student ids are
  never cut, they wrap;
- the title counts students in the singular for one ("Scores (1 student)"), and a line
  names the results that need a regrade.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..results import ClassResult, StudentResult
from .feedback import format_points

__all__ = ["summary_table", "summary_notes", "print_summary", "short_names", "NOT_SUBMITTED_CELL",
           "NOT_GRADED_CELL"]

NOT_SUBMITTED_CELL = "n/s"
NOT_GRADED_CELL = "n/g"
_SHORT = {"tensors": "tens", "linear": "lin", "activations": "act", "training": "train", "mnist_cnn": "mnist",
          "devices": "dev"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def short_names(modules: tuple[str, ...]) -> dict[str, str]:
    """A short, unique column name for each module (the course's, else a prefix)."""
    names: dict[str, str] = {}
    for module in modules:
        short = _SHORT.get(module, module[:5])
        while short in names.values():
            short = module[: len(short) + 1] if len(short) < len(module) else module
            if short == module:
                break
        names[module] = short
    return names


def _cell(student: StudentResult, module: str) -> str:
    result = student.assignment(module)
    if result is None or not result.submitted:
        return NOT_SUBMITTED_CELL
    if not result.graded:
        return NOT_GRADED_CELL
    return format_points(result.final_points)


def _total(student: StudentResult) -> str:
    return f"{format_points(student.final_points)}/{format_points(student.max_points)}"


def _fits(result: ClassResult, headers: list[str], width: int) -> bool:
    """Would a table with these assignment headers fit in ``width`` columns?"""
    id_width = max([len("student")] + [len(s.student) for s in result.students])
    total_width = max([len("total")] + [len(_total(s)) for s in result.students])
    cells = [max([len(h)] + [len(_cell(s, m)) for s in result.students])
             for h, m in zip(headers, result.assignments)]
    # each column: its text plus 3 (a border and a space either side), and one last border
    return min(id_width, 24) + total_width + sum(cells) + 3 * (len(cells) + 2) + 1 <= width


def summary_table(result: ClassResult, width: int = 80) -> tuple[Table, dict[str, str]]:
    """The table, and the short names used for its columns ({} when full names fit)."""
    full = list(result.assignments)
    short = short_names(result.assignments)
    use_short = not _fits(result, full, width)
    table = Table(title=f"Scores ({_plural(len(result.students), 'student')})", title_justify="left")
    table.add_column("student", overflow="fold")
    for module in result.assignments:
        table.add_column(short[module] if use_short else module, justify="right", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    for student in result.students:
        table.add_row(student.student, *(_cell(student, m) for m in result.assignments), _total(student))
    return table, (short if use_short else {})


def summary_notes(result: ClassResult, short: dict[str, str]) -> list[str]:
    """The legend and the results that need a regrade, one line each."""
    lines = []
    if short:
        lines.append("columns: " + ", ".join(f"{s} = {m}" for m, s in short.items()))
    cells = {_cell(s, m) for s in result.students for m in result.assignments}
    legend = []
    if NOT_SUBMITTED_CELL in cells:
        legend.append(f"{NOT_SUBMITTED_CELL} = not submitted (scores 0)")
    if NOT_GRADED_CELL in cells:
        legend.append(f"{NOT_GRADED_CELL} = not graded: grader error (no grade, not in the total)")
    if legend:
        lines.append("; ".join(legend))
    lines.append("total = points of the graded assignments / their maximum")
    regrade = [f"{s.student}/{a.assignment}" for s in result.students for a in s.assignments if not a.graded]
    if regrade:
        verb = "needs" if len(regrade) == 1 else "need"
        lines.append(f"{_plural(len(regrade), 'result')} {verb} a regrade (grader error, see report.json): "
                     + ", ".join(regrade))
    return lines


def print_summary(result: ClassResult, console: Console) -> None:
    """Print the table and its notes to ``console``, fitted to its width."""
    table, short = summary_table(result, console.width)
    console.print(table)
    for line in summary_notes(result, short):
        console.print(line, soft_wrap=False, overflow="fold", markup=False, highlight=False)
