"""The README's main command on a fresh machine: a clean copy of the project, its own
virtual environment, an empty ``HOME``, no ``AUTOGRADER_MNIST_ROOT``, and no way to
download anything (the proxy settings point at a closed port).

The copy holds the project's files as git sees them (tracked files and new files git
does not ignore, as they are in the working tree): no ``.venv``, no caches, no earlier
output. Its virtual environment is made with ``python -m venv`` and the project
installed into it with ``pip install -e .`` as the README says; the packages the project
depends on are taken from this test's own environment (a path in a ``.pth`` file:
installing torch again would need the internet), nothing of this checkout's installation
of the project itself.

Then, in the copy, ``.venv/bin/autograder grade examples/submissions -o grading-output``:
every example student is graded in all six assignments (``mnist_cnn`` on the MNIST slice
shipped in the package) and the reference scores 600/600; the output is what the README
says (the four files of each student, the gradebook, the scores printed), and the example
students score as they are meant to (the template zero, partial and broken lose points,
each with its message).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("tensors", "linear", "activations", "training", "mnist_cnn", "devices")
CLOSED = "http://127.0.0.1:9"     # the discard port: any download attempt fails at once


def project_files(root: Path = ROOT) -> list[Path]:
    """The project's files as git sees them in the working tree (relative paths)."""
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs a git checkout of the project (to know which files are the project's)")
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [Path(p) for p in listed if p and (root / p).is_file() and not (root / p).is_symlink()]


def copy_project(dest: Path, root: Path = ROOT) -> Path:
    """A clean copy of the project in ``dest`` (see the module docstring)."""
    for relative in project_files(root):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    return dest


def fresh_env(home: Path) -> dict[str, str]:
    """A user with an empty home, no MNIST setting and no network for downloads."""
    home.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR", "TERM")}
    return {**keep, "HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin",
            "http_proxy": CLOSED, "https_proxy": CLOSED, "HTTP_PROXY": CLOSED, "HTTPS_PROXY": CLOSED,
            "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def make_venv(project: Path, env: dict[str, str]) -> Path:
    """``project/.venv`` with the project installed editable (``pip install -e .``);
    the dependencies come from this test's environment (see the module docstring)."""
    venv = project / ".venv"
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, env=env, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, env=env).stdout.strip()
    ours = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    # Plain paths in a .pth file: the packages there become importable, but the .pth files
    # in them (this checkout's own editable install of the project) are not run.
    Path(site, "dependencies-from-the-test-environment.pth").write_text("\n".join(ours) + "\n")
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                             "-e", str(project)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, f"pip install -e . failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert (venv / "bin" / "autograder").is_file()
    return venv


@pytest.fixture(scope="module")
def fresh_grading(tmp_path_factory):
    base = tmp_path_factory.mktemp("fresh-machine")
    project = copy_project(base / "project")
    env = fresh_env(base / "home")
    assert "AUTOGRADER_MNIST_ROOT" not in env
    make_venv(project, env)
    # The README's main command, from the project's folder.
    result = subprocess.run([".venv/bin/autograder", "grade", "examples/submissions", "-o", "grading-output"],
                            cwd=project, capture_output=True, text=True, env=env, timeout=1500)
    return project, result, base / "home"


def test_the_readmes_main_command_grades_every_student(fresh_grading):
    project, result, _ = fresh_grading
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    out = project / "grading-output"
    students = sorted(p.name for p in (project / "examples" / "submissions").iterdir() if p.is_dir())
    assert students and "reference" in students
    for student in students:
        report = json.loads((out / student / "report.json").read_text())
        graded = {a["assignment"]: a for a in report["assignments"]}
        assert set(graded) == set(MODULES), (student, sorted(graded))
        assert all(a["graded"] for a in graded.values()), (student, [m for m, a in graded.items() if not a["graded"]])
        assert (out / student / "feedback.html").is_file() and (out / student / "feedback.md").is_file()


def test_the_reference_scores_600_of_600_with_the_shipped_mnist(fresh_grading):
    project, _, _ = fresh_grading
    report = json.loads((project / "grading-output" / "reference" / "report.json").read_text())
    assert (report["points"], report["max_points"]) == (600, 600), [
        (t["task"], t["points"], t["max_points"]) for a in report["assignments"] for t in a["tasks"]
        if t["points"] < t["max_points"]]
    mnist = next(a for a in report["assignments"] if a["assignment"] == "mnist_cnn")
    assert mnist["submitted"] and mnist["points"] == 100
    accuracy = next(t for t in mnist["tasks"] if t["task"] == "mnist_cnn.accuracy_threshold")
    assert accuracy["checks"] and all(c["outcome"] == "passed" for c in accuracy["checks"])


def test_grading_the_examples_writes_all_four_formats(fresh_grading):
    project, result, _ = fresh_grading
    out = project / "grading-output"
    assert result.returncode == 0, result.stderr[-3000:]
    students = {p.name for p in (project / "examples" / "submissions").iterdir() if p.is_dir()}
    assert {p.name for p in out.iterdir() if p.is_dir()} == students
    for student in students:
        files = {p.name for p in (out / student).iterdir()}
        assert files == {"report.json", "feedback.md", "feedback.html", "results.json"}
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert {r["student"] for r in rows} == students
    assert "Scores" in result.stdout


def test_reference_scores_full_marks_and_template_zero(fresh_grading):
    out = fresh_grading[0] / "grading-output"
    reference = json.loads((out / "reference" / "report.json").read_text())
    template = json.loads((out / "template" / "report.json").read_text())
    assert reference["points"] == reference["max_points"] > 0
    assert template["points"] == 0
    stub_messages = [c["message"] for a in template["assignments"] for t in a["tasks"] for c in t["checks"]]
    assert any("NotImplementedError" in m for m in stub_messages)


def test_partial_and_broken_lose_points_with_messages(fresh_grading):
    out = fresh_grading[0] / "grading-output"
    partial = json.loads((out / "partial" / "report.json").read_text())
    softmax = next(t for a in partial["assignments"] for t in a["tasks"] if t["task"] == "activations.softmax")
    assert softmax["points"] < softmax["max_points"]
    broken = (out / "broken" / "feedback.md").read_text()
    assert "SyntaxError" in broken and "did not finish" in broken


def test_gradescope_results_follow_the_format(fresh_grading):
    out = fresh_grading[0] / "grading-output"
    results = json.loads((out / "reference" / "results.json").read_text())
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert all({"name", "score", "max_score", "status", "visibility"} <= set(t) for t in results["tests"])


def test_no_mnist_data_was_fetched_or_cached_in_home(fresh_grading):
    """Offline and settings-free: no MNIST was downloaded into the (empty) home. The one
    file of that name there is the machine's cache of the reference Net's result (its
    accuracy and losses under the budget: a small JSON file, no images)."""
    _, _, home = fresh_grading
    found = [p for p in home.rglob("*") if "mnist" in p.name.lower()]
    result = home / ".cache" / "autograder" / "mnist-reference.json"
    assert found == [result]
    entries = json.loads(result.read_text())
    assert result.stat().st_size < 64_000 and len(entries) == 1
    ((key, value),) = entries.items()
    assert key.startswith("mnist-reference ") and set(value) == {"accuracy", "losses", "seconds"}


# -- the shipped MNIST slice -------------------------------------------------------------------
SOURCE_ROOT = ROOT.parent / "shared" / "data" / "mnist-5k"     # the slice's source, beside the checkout in CI


def test_the_shipped_slice_is_what_its_recipe_builds():
    """Reproducible: the build script, run on its source root, gives the shipped files byte for byte."""
    if not (SOURCE_ROOT / "MNIST" / "raw").is_dir():
        pytest.skip(f"the slice's source root {SOURCE_ROOT} is not here")
    result = subprocess.run([sys.executable, str(ROOT / "autograder" / "data" / "build_mnist_slice.py"),
                             "--root", str(SOURCE_ROOT), "--check"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_shipped_slice_is_checked_and_reads_as_a_torchvision_root(tmp_path):
    from torchvision import datasets

    from autograder.checks.mnist_data import SLICE, load_slice, write_torchvision_root
    from autograder.errors import AutograderError

    data = load_slice()
    assert [tuple(data[k].shape) for k in ("train_images", "train_labels", "test_images", "test_labels")] == [
        (3000, 28, 28), (3000,), (2000, 28, 28), (2000,)]
    assert set(data["train_labels"].tolist()) == set(range(10)) == set(data["test_labels"].tolist())
    root = write_torchvision_root(tmp_path / "root")
    test_set = datasets.MNIST(str(root), train=False, download=False)
    assert len(test_set) == 2000 and bool((test_set.data == data["test_images"]).all())
    # A damaged installation is refused with a message, not graded on wrong data.
    damaged = tmp_path / "damaged"
    shutil.copytree(SLICE, damaged)
    import gzip

    path = damaged / "t10k-labels-idx1-ubyte.gz"
    labels = bytearray(gzip.decompress(path.read_bytes()))
    labels[-1] = (labels[-1] + 1) % 10
    path.write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(AutograderError, match="SHA-256"):
        load_slice(damaged)
