"""Benchmark: similarity detection over a synthetic class (default 1,000 students x 6 modules).

Generates the class from this project's starter files: every stub of every module is
filled, per student, with the reference solution's code (30%: its local names renamed, one
statement of the student's own added), with random code of the student's own (60%), or
left as the stub (10%); 5% of the modules are not handed in, 5% come as notebooks; and ``--copies`` planted pairs copy one
module from another student (names renamed, functions reordered). Then times
``find_similar`` (reading and tokenising, then comparing) and checks that the planted
pairs rank at the top.

    .venv/bin/python benchmarks/bench_similarity.py [--students 1000] [--copies 30] [--workers N] [--keep DIR]

The figures are wall-clock times: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.course import ASSIGNMENTS
from autograder.release.regions import find_regions
from autograder.similarity import SimilaritySettings, find_similar

ROOT = Path(__file__).resolve().parent.parent
_STUB = re.compile(r'^(?P<indent>\s*)raise NotImplementedError\("(?P<task>[\w.]+): not implemented yet"\)$', re.M)
_OPS = ["+", "-", "*", "/"]
_CALLS = ["torch.exp", "torch.log1p", "torch.abs", "torch.tanh", "torch.sqrt", "torch.clamp", "torch.sum",
          "torch.mean", "torch.where", "torch.maximum", "torch.stack", "len", "float", "int", "min", "max"]
_NAMES = ["value", "out", "result", "tmp", "acc", "h", "z", "total", "scale", "buf", "part", "item"]


def _reference_bodies(module: str) -> dict[str, list[str]]:
    """task id -> the reference code of its region (markers removed, indentation kept)."""
    path = ROOT / "solutions" / f"{module}.py"
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    bodies: dict[str, list[str]] = {}
    for region in find_regions(source, path.relative_to(ROOT), module):
        bodies.setdefault(region.task, []).append(lines[region.begin:region.end - 1])
    return {task: parts[0] for task, parts in bodies.items()}


def _expression(rng: random.Random, names: list[str], depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(names) if rng.random() < 0.7 else f"{rng.uniform(-9, 9):.{rng.randint(0, 3)}f}"
    if rng.random() < 0.5:
        return f"({_expression(rng, names, depth + 1)} {rng.choice(_OPS)} {_expression(rng, names, depth + 1)})"
    return f"{rng.choice(_CALLS)}({_expression(rng, names, depth + 1)})"


def _own_code(rng: random.Random, indent: str, names: list[str], lines: int) -> list[str]:
    """Random code of the student's own: assignments, a branch or a loop, a return."""
    known = list(names)
    out = []
    for _ in range(lines):
        target = rng.choice(_NAMES)
        kind = rng.random()
        if kind < 0.15:
            out.append(f"{indent}if {_expression(rng, known)} > {rng.randint(0, 5)}:")
            out.append(f"{indent}    {target} = {_expression(rng, known)}")
            out.append(f"{indent}else:")
            out.append(f"{indent}    {target} = {_expression(rng, known)}")
        elif kind < 0.25:
            out.append(f"{indent}for index in range({rng.randint(2, 9)}):")
            out.append(f"{indent}    {target} = {_expression(rng, known + ['index'])}")
        else:
            out.append(f"{indent}{target} = {_expression(rng, known)}")
        known.append(target)
    out.append(f"{indent}return {_expression(rng, known)}")
    return out


def _renamed(lines: list[str], rng: random.Random) -> list[str]:
    text = "\n".join(lines)
    local = sorted(set(re.findall(r"^\s*(\w+)\s*=", text, re.M)))
    for name in local:
        text = re.sub(rf"\b{name}\b", f"{name}_{rng.randint(1, 99)}", text)
    return text.split("\n")


def student_module(template: str, bodies: dict[str, list[str]], rng: random.Random) -> str:
    """One student's version of a module: each stub filled as described in the docstring."""
    def fill(match: re.Match) -> str:
        indent, task = match.group("indent"), match.group("task")
        choice = rng.random()
        if choice < 0.1 or task not in bodies:
            return match.group(0)
        names = ["x", "self", "data", "model"]
        if choice < 0.4:
            code = _renamed(bodies[task], rng)
            # a statement of the student's own, with a constant of their own (a bare
            # ``value = self`` would be the same for many students by chance)
            code.insert(rng.randint(0, max(0, len(code) - 1)),
                        f"{indent}{rng.choice(_NAMES)} = {_expression(rng, names)} * {rng.uniform(0.5, 2):.3f}")
            return "\n".join(code)
        return "\n".join(_own_code(rng, indent, names, rng.randint(2, 8)))

    return _STUB.sub(fill, template)


def copied(text: str, rng: random.Random) -> str:
    """``text`` with its local names renamed and its top-level functions reordered."""
    parts = re.split(r"(?m)^(?=def |class )", text)
    head, chunks = parts[0], parts[1:]
    rng.shuffle(chunks)
    body = "".join(c.rstrip("\n") + "\n\n\n" for c in chunks)
    return "\n".join(_renamed((head + body).split("\n"), rng))


def make_class(folder: Path, students: int, copies: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """Write the synthetic class; return the planted pairs (module, student_a, student_b)."""
    rng = random.Random(seed)
    modules = [a.module for a in ASSIGNMENTS]
    templates = {m: (ROOT / "student_template" / f"{m}.py").read_text(encoding="utf-8") for m in modules}
    bodies = {m: _reference_bodies(m) for m in modules}
    names = [f"s{i:04d}" for i in range(students)]
    texts: dict[tuple[str, str], str] = {}
    for name in names:
        for module in modules:
            if rng.random() < 0.95:          # some modules are not handed in
                for _ in range(20):          # an insertion may land where Python forbids it: draw again
                    text = student_module(templates[module], bodies[module], rng)
                    try:
                        ast.parse(text)
                        break
                    except SyntaxError:
                        continue
                texts[(name, module)] = text
    planted = []
    involved: set[tuple[str, str]] = set()     # a module copied once, from an original
    while len(planted) < copies:
        module = rng.choice(modules)
        source, copier = rng.sample(names, 2)
        if (source, module) not in texts or {(source, module), (copier, module)} & involved:
            continue
        texts[(copier, module)] = copied(texts[(source, module)], rng)
        involved |= {(source, module), (copier, module)}
        planted.append((module, *sorted((source, copier))))
    for (name, module), text in texts.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        if rng.random() < 0.05:              # a few hand in notebooks
            notebook = nbformat.v4.new_notebook()
            notebook.cells = [nbformat.v4.new_code_cell(text), nbformat.v4.new_code_cell("print('done')")]
            (folder / name / f"{module}.ipynb").write_text(nbformat.writes(notebook), encoding="utf-8")
        else:
            (folder / name / f"{module}.py").write_text(text, encoding="utf-8")
    return planted


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have exited (the pool's processes)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--copies", type=int, default=30, help="planted copied pairs")
    parser.add_argument("--workers", type=int, default=None, help="processes that read and tokenise")
    parser.add_argument("--keep", type=Path, default=None, help="write the class here and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-similarity-"))
    started = time.perf_counter()
    planted = make_class(folder, args.students, args.copies)
    made = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"class: {args.students} students, {size / 1e6:.1f} MB of code, {len(planted)} planted pairs "
          f"(generated in {made:.1f} s)")
    try:
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        result = find_similar(folder, workers=args.workers, settings=SimilaritySettings())
        wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"find_similar: {wall:.1f} s wall on {len(os.sched_getaffinity(0))} cores "
          f"({args.workers or len(os.sched_getaffinity(0))} processes reading and tokenising), "
          f"{cpu:.1f} s of CPU time in all (this process and its pool; the wall time on an idle machine "
          f"is about this divided by the cores)")
    for m in result.modules:
        print(f"  {m.module:12s} handed in {m.submissions:5d}  compared {m.compared:5d}  idiom dropped "
              f"{m.common_fingerprints:6d}  pairs compared {m.pairs_compared:7d}  listed {m.pairs_listed:5d}  "
              f"flagged {m.flagged:4d}")
    flagged = {(p.module, p.student_a, p.student_b) for p in result.flagged}
    found = sum(1 for p in planted if p in flagged)
    top = {(p.module, p.student_a, p.student_b) for p in result.pairs[:len(planted)]}
    print(f"planted pairs flagged: {found} of {len(planted)}; among the top {len(planted)} pairs: "
          f"{sum(1 for p in planted if p in top)}; other pairs flagged: {len(flagged - set(planted))} "
          f"(of {sum(m.compared * (m.compared - 1) // 2 for m in result.modules)} pairs); "
          f"files not compared: {len(result.skipped)}")
    return 0 if found == len(planted) else 1


if __name__ == "__main__":
    sys.exit(main())
