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
def release(check: bool, root: Path | None) -> None:
    """Generate student_template/ and the nbgrader source notebooks from solutions/."""
    from .release import plan_release, stale_files, write_release

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
