"""The ``autograder`` command: parses arguments, calls one core function, maps errors to exit codes.

Exit codes: 0 success (for ``grade``: grading completed, whatever the scores),
1 ``release --check`` found stale files, 2 unusable input (an ``AutograderError``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from .errors import AutograderError

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


class _Group(click.Group):
    """Turns the project's exceptions into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AutograderError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="autograder")
def main() -> None:
    """Grade PyTorch assignments with student code behind a trust boundary."""


@main.command()
@click.option("--check", is_flag=True, help="Only report generated files that are stale; exit 1 if any.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project folder holding solutions/ and assignments/ (default: this checkout).")
@click.option("--nbgrader", "nbgrader_dir", type=click.Path(path_type=Path), default=None, metavar="COURSE_DIR",
              help="Instead, lay the six source notebooks into this nbgrader course (source/<assignment>/, "
                   "nbgrader_config.py if none, the gradebook); then run `nbgrader generate_assignment "
                   "<assignment>` there.")
def release(check: bool, root: Path | None, nbgrader_dir: Path | None) -> None:
    """Generate student_template/ and the nbgrader source notebooks from solutions/."""
    from .release import plan_release, stale_files, write_release

    if nbgrader_dir is not None:
        if check:
            raise click.UsageError("--check and --nbgrader cannot be combined")
        from .nbgrader_course import release_course

        written = release_course(nbgrader_dir, root)
        out.print(f"nbgrader course {nbgrader_dir}: {len(written)} files written, six assignments registered "
                  "in its gradebook")
        for path in written:
            out.print(f"  {path}")
        out.print(f"next: cd {nbgrader_dir} && nbgrader generate_assignment <assignment>  "
                  "(e.g. activations; the student notebooks appear in release/)")
        return
    plan = plan_release(root)
    if check:
        stale = stale_files(plan, root)
        for path in stale:
            out.print(f"stale: {path}")
        if stale:
            err.print("generated files are stale: run `autograder release`")
            sys.exit(1)
        out.print(f"{len(plan.files)} generated files are up to date")
        return
    changed = write_release(plan, root)
    out.print(f"release: {len(changed)} of {len(plan.files)} generated files changed")
    for path in changed:
        out.print(f"  {path}")


def _modules(value: str | None) -> tuple[str, ...]:
    from .course import MODULES

    if not value:
        return MODULES
    chosen = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        raise click.BadParameter(f"unknown assignment(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    return chosen


@main.command()
@click.argument("submissions", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=Path("grading-output"),
              show_default=True, help="Folder for the reports (one sub-folder per student, gradebook.csv).")
@click.option("-a", "--assignments", "assignments", default=None, metavar="LIST",
              help="Comma-separated modules to grade, e.g. tensors,activations (default: all six).")
@click.option("-j", "--workers", type=int, default=None, help="Students graded in parallel (default: the cores).")
@click.option("--timeout", "timeout", type=float, default=None,
              help="Seconds one call into student code may take (default: each assignment's config).")
@click.option("--mnist-root", type=click.Path(path_type=Path), envvar="AUTOGRADER_MNIST_ROOT", default=None,
              help="torchvision MNIST root [env AUTOGRADER_MNIST_ROOT]; downloaded there when missing.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random input.")
@click.option("--no-sandbox", is_flag=True, help="Run workers without namespaces (reports say so). For debugging.")
@click.option("--nbgrader-course", "nbgrader_course", type=click.Path(path_type=Path), default=None,
              metavar="COURSE_DIR", help="Grade nbgrader's COURSE_DIR/submitted/<student>/<assignment>/ "
              "(when SUBMISSIONS is not given) and write the scores into COURSE_DIR's gradebook.")
@click.option("--to-nbgrader", "to_nbgrader", type=click.Path(path_type=Path), default=None, metavar="COURSE_DIR",
              help="Write the scores into the gradebook of this nbgrader course (replacing earlier ones).")
def grade(submissions: Path | None, output: Path, assignments: str | None, workers: int | None,
          timeout: float | None, mnist_root: Path | None, seed: int, no_sandbox: bool,
          nbgrader_course: Path | None, to_nbgrader: Path | None) -> None:
    """Grade SUBMISSIONS (one sub-folder per student) and write reports to --output.

    SUBMISSIONS may also be an nbgrader course folder (or its submitted/ folder): then
    each student's notebooks are read from <student>/<assignment>/<assignment>.ipynb.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .grading import GradeOptions, grade_submissions
    from .submissions import submissions_root

    if nbgrader_course is not None and to_nbgrader is not None and nbgrader_course != to_nbgrader:
        raise click.UsageError("--nbgrader-course and --to-nbgrader name different courses; give one")
    course_dir = nbgrader_course or to_nbgrader
    if course_dir is not None:
        from .nbgrader_course import find_course

        course = find_course(course_dir, submitted=submissions is None)   # exit 2 before any grading
        if submissions is None:
            submissions = course.submitted
    if submissions is None:
        raise click.UsageError("give SUBMISSIONS (a folder with one sub-folder per student) or --nbgrader-course")
    submissions, nbgrader_layout = submissions_root(submissions)
    options = GradeOptions(modules=_modules(assignments), call_timeout_s=timeout, mnist_root=mnist_root,
                           seed=seed, isolate=not no_sandbox, nbgrader_course=course_dir)
    if workers is not None:
        options = GradeOptions(**{**options.__dict__, "workers": workers})
    progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=err, transient=False)
    task = None

    def start(total: int) -> None:
        nonlocal task
        progress.start()
        task = progress.add_task("", total=total)

    def done(result) -> None:
        progress.update(task, advance=1, description=result.student)

    try:
        class_result = grade_submissions(submissions, output, options, on_result=done, on_start=start)
    finally:
        progress.stop()
    table = Table(title=f"Scores ({len(class_result.students)} students)")
    table.add_column("student")
    for module in class_result.assignments:
        table.add_column(module, justify="right")
    table.add_column("total", justify="right")
    for student in class_result.students:
        cells = []
        for module in class_result.assignments:
            result = student.assignment(module)
            cells.append("-" if result is None or not result.submitted else f"{result.points:g}")
        table.add_row(student.student, *cells, f"{student.points:g}/{student.max_points:g}")
    out.print(table)
    levels = sorted({s.isolation.level for s in class_result.students})
    out.print(f"sandbox isolation: {', '.join(levels)}; reports in {output}/ (gradebook.csv, <student>/feedback.md)")
    if course_dir is not None:
        out.print(f"scores written into the nbgrader gradebook of {course_dir} (see `nbgrader export`, formgrader)")
    elif nbgrader_layout:
        out.print("read nbgrader's layout; to put the scores into its gradebook, grade with --nbgrader-course")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--timeout", "timeout", type=float, default=None, metavar="SECONDS",
              help="Stop the checks after this long (default: 300).")
def check(file: Path, timeout: float | None) -> None:
    """Check your FILE (e.g. activations.py or activations.ipynb) with the public checks.

    Runs the public checks of that module on your code, on this machine, and says what
    passes and what fails. Exit code 0: every check passes; 1: some fail; 2: bad input.
    """
    from .student_check import DEFAULT_TIMEOUT_S, check_file, render

    if timeout is not None and timeout <= 0:
        raise click.BadParameter("must be positive", param_hint="--timeout")
    result = check_file(file, timeout if timeout is not None else DEFAULT_TIMEOUT_S)
    click.echo(render(result))
    sys.exit(result.exit_code)
if __name__ == "__main__":
    main()
