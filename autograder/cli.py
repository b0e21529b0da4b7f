"""The ``autograder`` command: parses arguments, calls one core function, maps errors to exit codes.

Exit codes: 0 success (for ``grade``: grading completed, whatever the scores),
1 ``release --check`` found stale files (``check``: some checks fail), 2 unusable input
(an ``AutograderError``, a bad option), 3 ``grade`` completed but the grader failed on
some results (not graded: they need a regrade).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from .errors import AutograderError

# No emoji codes: messages echo what users typed ("local:zero" is not an emoji).
err = Console(stderr=True, highlight=False, emoji=False)
out = Console(highlight=False, emoji=False)


class _Group(click.Group):
    """Turns the project's exceptions into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AutograderError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
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


def _timeout(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    import math

    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a positive number of seconds (got {value:g})")
    return value


def _students(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip())) or None


@main.command()
@click.argument("submissions", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=Path("grading-output"),
              show_default=True, help="The course record: gradebook.db, one folder per student, gradebook.csv, "
              "class-report.html. Grows from run to run.")
@click.option("-a", "--assignments", "assignments", default=None, metavar="LIST",
              help="Comma-separated modules to grade, e.g. tensors,activations (default: all six).")
@click.option("--students", "students", default=None, metavar="LIST",
              help="Comma-separated student folders to grade (default: every student of SUBMISSIONS).")
@click.option("--force", is_flag=True, help="Grade again what has not changed since its latest result.")
@click.option("-j", "--workers", type=int, default=None,
              help="Students graded in parallel on this machine (default: the cores; not with --scheduler).")
@click.option("--timeout", "timeout", type=float, default=None, callback=_timeout,
              help="Seconds one call into student code may take (default: each assignment's config).")
@click.option("--mnist-root", type=click.Path(path_type=Path), envvar="AUTOGRADER_MNIST_ROOT", default=None,
              help="torchvision MNIST root [env AUTOGRADER_MNIST_ROOT] to grade on instead of the slice that "
              "ships with the grader.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random input.")
@click.option("--submitted-at", "submitted_at", type=click.Path(path_type=Path), default=None, metavar="CSV",
              help="Submission times (columns student,assignment,submitted_at) for students without a "
              "timestamp.txt.")
@click.option("--extensions", type=click.Path(path_type=Path), default=None, metavar="CSV",
              help="Per-student due dates (columns student,assignment,due); kept in the record.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Grade on Dask: a scheduler address (tcp://host:8786) or local:N for N local workers.")
@click.option("--similarity", is_flag=True, help="Also compare the submissions (OUT/similarity.csv, "
              "similarity.html and a section of the class report); it flags pairs, never changes a grade.")
@click.option("--no-sandbox", is_flag=True, help="Run workers without namespaces (reports say so). For debugging.")
@click.option("--nbgrader-course", "nbgrader_course", type=click.Path(path_type=Path), default=None,
              metavar="COURSE_DIR", help="Grade nbgrader's COURSE_DIR/submitted/<student>/<assignment>/ "
              "(when SUBMISSIONS is not given) and write the scores into COURSE_DIR's gradebook.")
@click.option("--to-nbgrader", "to_nbgrader", type=click.Path(path_type=Path), default=None, metavar="COURSE_DIR",
              help="Write the scores into the gradebook of this nbgrader course (replacing earlier ones).")
def grade(submissions: Path | None, output: Path, assignments: str | None, students: str | None, force: bool,
          workers: int | None, timeout: float | None, mnist_root: Path | None, seed: int,
          submitted_at: Path | None, extensions: Path | None, scheduler: str | None, similarity: bool,
          no_sandbox: bool, nbgrader_course: Path | None, to_nbgrader: Path | None) -> None:
    """Grade SUBMISSIONS (one sub-folder per student) into the course record --output.

    Only what changed since its latest result is graded (files, config, checks, seed);
    every report is then rendered from the record, so the gradebook holds every student
    and assignment ever graded into --output. SUBMISSIONS may also be an nbgrader course
    folder (or its submitted/ folder). Exit code 0: graded; 2: bad input (nothing
    graded); 3: graded, but the grader failed on some results (they need a regrade).
    """
    from .grading import GradeOptions, grade_submissions
    from .submissions import submissions_root

    if nbgrader_course is not None and to_nbgrader is not None and nbgrader_course != to_nbgrader:
        raise click.UsageError("--nbgrader-course and --to-nbgrader name different courses; give one")
    if workers is not None and workers < 1:
        raise click.BadParameter(f"must be at least 1 (got {workers})", param_hint="-j/--workers")
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
                           seed=seed, isolate=not no_sandbox, nbgrader_course=course_dir, force=force,
                           students=_students(students), submitted_at=submitted_at, extensions=extensions,
                           scheduler=scheduler, similarity=similarity)
    if workers is not None:
        options = GradeOptions(**{**options.__dict__, "workers": workers})
    options.validate()
    class_result = _run_with_progress(lambda done, start: grade_submissions(
        submissions, output, options, on_result=done, on_start=start))
    run = class_result.run
    for warning in run.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True, soft_wrap=True)
    _print_summary(class_result)
    unchanged = f"; {run.unchanged} unchanged since their latest result (not graded again)" if run.unchanged else ""
    out.print(f"graded {run.graded} (student, assignment) results{unchanged}, in {run.seconds:.1f} s")
    out.print(f"course record in {output}/ (gradebook.db, gradebook.csv, class-report.html, <student>/feedback.md)")
    if course_dir is not None:
        out.print(f"scores written into the nbgrader gradebook of {course_dir} (see `nbgrader export`, formgrader)")
    elif nbgrader_layout:
        out.print("read nbgrader's layout; to put the scores into its gradebook, grade with --nbgrader-course")
    if run.needs_regrade:
        shown = ", ".join(f"{s}/{a}" for s, a in run.grader_errors[:8])
        more = f" and {len(run.grader_errors) - 8} more" if len(run.grader_errors) > 8 else ""
        err.print(f"[bold red]not graded:[/] the grader failed on {escape(shown)}{more} (see their report.json); "
                  "run the same command again to regrade them", markup=True, soft_wrap=True)
        sys.exit(3)


def _run_with_progress(work):
    """Run ``work(done, start)`` under a progress bar on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=err, transient=False)
    task = None

    def start(total: int) -> None:
        nonlocal task
        if total:
            progress.start()
        task = progress.add_task("", total=total)

    def done(result) -> None:
        progress.update(task, advance=1, description=result.student)

    try:
        return work(done, start)
    finally:
        progress.stop()


def _print_summary(class_result) -> None:
    """The score table of the students of this run, fitted to the terminal."""
    from .reports.console import print_summary

    print_summary(class_result, out)


@main.command()
@click.argument("record", type=click.Path(path_type=Path))
def report(record: Path) -> None:
    """Render every file of the course record RECORD (an --output folder of `grade`) again,
    from its gradebook.db alone, without grading anything."""
    from .record import CourseRecord
    from .reports.render import render_record

    if not record.is_dir():
        raise click.BadParameter(f"{record} is not a folder; give the --output folder of `autograder grade`",
                                 param_hint="RECORD")
    with CourseRecord.open(record, write=True, create=False) as opened:
        result = render_record(opened, record)
    out.print(f"rendered the reports of {len(result.students)} students and the class files in {record}/")


@main.command()
@click.argument("record", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "long", "canvas", "gradescope", "nbgrader"]),
              required=True, help="csv: the wide gradebook; long: one row per task with raw, penalty and final "
              "points; canvas: Canvas' gradebook import; gradescope: results.json per student; nbgrader: the "
              "scores into an nbgrader course (--course).")
@click.option("-o", "--output", "dest", type=click.Path(path_type=Path), default=None,
              help="Where to write (a file; a folder for gradescope). Default: inside RECORD.")
@click.option("--course", type=click.Path(path_type=Path), default=None, metavar="COURSE_DIR",
              help="The nbgrader course to write into (with --format nbgrader).")
def export(record: Path, fmt: str, dest: Path | None, course: Path | None) -> None:
    """Export the course record RECORD (an --output folder of `grade`) without regrading."""
    from .export import export as run_export

    if not record.is_dir():
        raise click.BadParameter(f"{record} is not a folder; give the --output folder of `autograder grade`",
                                 param_hint="RECORD")
    out.print(f"exported: {run_export(record, fmt, dest, course)}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--timeout", "timeout", type=float, default=None, metavar="SECONDS",
              help="Seconds the import and each check may take (default: the assignment's limit, as when grading).")
def check(files: tuple[Path, ...], timeout: float | None) -> None:
    """Check your FILES (e.g. activations.py or activations.ipynb; or several: *.py) with the
    public checks.

    Runs the public checks of each file's module on your code, on this machine, through the
    grader's own rules (forbidden calls, time limits) and says what passes and what
    fails. Of several files, one whose name is no module of the course (a helper of yours)
    is left out. Exit code 0: every check passes; 1: some fail; 2: bad input (nothing is
    checked).
    """
    from .student_check import HOW_TO_READ, course_files, iter_checks, render, summary

    if timeout is not None and not timeout > 0:
        raise click.BadParameter(f"must be a positive number of seconds (got {timeout:g})", param_hint="--timeout")
    checked, left_out = course_files(list(files))
    results = []
    for result in iter_checks(checked, timeout):         # all validated first; each report as soon as known
        results.append(result)
        click.echo(render(result, guide=len(files) == 1))
        if len(files) > 1:
            click.echo("")
    if len(files) > 1:
        click.echo(summary(results))
        for path in left_out:
            click.echo(f"  ----  {path}: not checked, no module of this course is named so (a helper module of "
                       "yours is graded with the modules that import it)")
        click.echo("")
        click.echo(HOW_TO_READ.format(module="<module>"))
    sys.exit(max(result.exit_code for result in results))


@main.command("try-checks")
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("-a", "--assignments", "assignments", default=None, metavar="LIST",
              help="Comma-separated modules whose checks to run (default: every module SUBMISSION holds).")
@click.option("-k", "select", default=None, metavar="EXPRESSION",
              help="Only the checks this pytest -k expression matches, e.g. relu or \"softmax and not gradient\".")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random input (as for grade).")
@click.option("--timeout", "timeout", type=float, default=None, callback=_timeout,
              help="Seconds one call into student code may take (default: each assignment's config).")
@click.option("--mnist-root", type=click.Path(path_type=Path), envvar="AUTOGRADER_MNIST_ROOT", default=None,
              help="torchvision MNIST root [env AUTOGRADER_MNIST_ROOT] (default: the slice shipped with the grader).")
@click.option("--no-sandbox", is_flag=True, help="Run the worker without namespaces. For debugging.")
def try_checks_command(submission: Path, assignments: str | None, select: str | None, seed: int,
                       timeout: float | None, mnist_root: Path | None, no_sandbox: bool) -> None:
    """Run hidden checks on ONE student's folder SUBMISSION and print each one in full.

    For check authors: the checks that -k selects are graded as `grade` grades them (the
    same sandbox, inputs, seeds and limits) and each one's outcome, message and detail
    (falsifying example, traceback) is printed. Nothing is recorded. Exit code 0: every
    selected check passes; 1: some do not; 2: bad input; 3: the grader failed on a check.
    """
    from .try_checks import render, try_checks

    modules = _modules(assignments) if assignments else None
    result = try_checks(submission, modules, select, seed=seed, call_timeout_s=timeout, isolate=not no_sandbox,
                        mnist_root=mnist_root)
    click.echo(render(result))
    sys.exit(result.exit_code)


@main.command()
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=Path("grading-output"),
              show_default=True, help="Folder for similarity.csv and similarity.html.")
@click.option("-a", "--assignments", "assignments", default=None, metavar="LIST",
              help="Comma-separated modules to compare, e.g. tensors,activations (default: all six).")
@click.option("--template", "templates", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
              help="Starter code (<module>.py, released notebooks) to remove as boilerplate; repeatable "
                   "(default: this project's student_template/ and assignment notebooks).")
@click.option("--threshold", type=float, default=None, metavar="SHARE",
              help="Flag a pair when this share of one student's code is found in the other's (default: 0.5).")
@click.option("--common-share", type=float, default=None, metavar="SHARE",
              help="Drop code shared by more than this share of the class as common idiom (default: 0.2).")
def similarity(submissions: Path, output: Path, assignments: str | None, templates: tuple[Path, ...],
               threshold: float | None, common_share: float | None) -> None:
    """Find pairs of SUBMISSIONS whose code is suspiciously alike, for a person to review.

    Per module, with copydetect (winnowing over tokens, the MOSS method); the starter code
    is boilerplate. Writes OUTPUT/similarity.csv (every pair listed, ranked) and
    OUTPUT/similarity.html (the flagged pairs side by side). It never changes a grade.
    """
    from .similarity import SimilaritySettings, check_output_dir, find_similar, write_similarity

    settings = SimilaritySettings(**{k: v for k, v in (("threshold", threshold), ("common_share", common_share))
                                     if v is not None})
    if submissions.is_dir():
        check_output_dir(output, submissions)
    result = find_similar(submissions, list(templates) or None, modules=_modules(assignments), settings=settings)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}", markup=True, soft_wrap=True, highlight=False)
    csv_path, html_path = write_similarity(output, result)
    flagged = result.flagged
    out.print(f"{len(result.students)} students, {len(result.pairs)} pair(s) listed, {len(flagged)} flagged at "
              f"{settings.threshold:.0%} or more; {len(result.skipped)} file(s) not compared")
    for pair in flagged[:10]:
        out.print(f"  {pair.module}: {pair.student_a} and {pair.student_b}  "
                  f"{pair.similarity_a:.0%} / {pair.similarity_b:.0%}, {pair.tokens} tokens")
    if len(flagged) > 10:
        out.print(f"  and {len(flagged) - 10} more")
    out.print(f"for a person to review (it never changes a grade): {html_path}, {csv_path}")


if __name__ == "__main__":
    main()
