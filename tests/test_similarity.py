"""Similarity detection: a planted class, bad input, the files written, the command.

The planted class hands in ``activations.py`` built from the real starter file: alice and
bob are a copied pair (bob renamed every local variable, rewrote the comments and put the
functions in another order); carol, dave and erin wrote their own correct solutions in
their own ways; tmpl handed in the untouched starter file.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.errors import AutograderError, SubmissionsError
from autograder.similarity import (
    CSV_FILE, HTML_FILE, SimilaritySettings, find_similar, kgram_hashes, similarity_csv, similarity_html, winnow,
    write_similarity,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = (ROOT / "student_template" / "activations.py").read_text(encoding="utf-8")
M = "activations"

ALICE = {
    "sigmoid": """\
    # only ever exponentiate non-positive numbers
    neg = torch.exp(-torch.abs(x))
    pos = 1.0 / (1.0 + neg)
    return torch.where(x >= 0, pos, neg * pos)""",
    "tanh": """\
    e = torch.exp(-2.0 * torch.abs(x))
    magnitude = (1.0 - e) / (1.0 + e)
    return torch.sign(x) * magnitude""",
    "relu": """\
    zeros = torch.zeros_like(x)
    return torch.maximum(x, zeros)""",
    "leaky_relu": """\
    scaled = x * negative_slope
    return torch.where(x > 0, x, scaled)""",
    "softmax": """\
    biggest = x.max(dim=dim, keepdim=True).values
    e = torch.exp(x - biggest)
    total = e.sum(dim=dim, keepdim=True)
    return e / total""",
    "log_softmax": """\
    biggest = x.max(dim=dim, keepdim=True).values
    shifted = x - biggest
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))""",
    "mse_loss": """\
    difference = pred - target
    return (difference * difference).mean()""",
    "binary_cross_entropy": """\
    eps = 1e-12
    clipped = probs.clamp(eps, 1 - eps)
    losses = target * torch.log(clipped) + (1 - target) * torch.log(1 - clipped)
    return -losses.mean()""",
}

BOB_NAMES = {"neg": "small", "pos": "result", "e": "ex", "magnitude": "size", "zeros": "nothing",
             "scaled": "leaked", "biggest": "top", "total": "denominator", "shifted": "moved",
             "difference": "err", "eps": "tiny", "clipped": "p", "losses": "terms"}

CAROL = {
    "sigmoid": """\
    out = torch.empty_like(x)
    mask = x >= 0
    out[mask] = 1 / (1 + torch.exp(-x[mask]))
    z = torch.exp(x[~mask])
    out[~mask] = z / (1 + z)
    return out""",
    "tanh": """\
    return 2 * sigmoid(2 * x) - 1""",
    "relu": """\
    return x.clamp(min=0)""",
    "leaky_relu": """\
    return torch.clamp(x, min=0) + negative_slope * torch.clamp(x, max=0)""",
    "softmax": """\
    m, _ = torch.max(x, dim, True)
    numer = torch.exp(x - m)
    return numer / torch.sum(numer, dim, True)""",
    "log_softmax": """\
    return torch.log(softmax(x, dim))""",
    "mse_loss": """\
    return torch.mean((pred - target) ** 2)""",
    "binary_cross_entropy": """\
    p = torch.clamp(probs, 1e-7, 1 - 1e-7)
    return torch.mean(-(target * torch.log(p)) - (1 - target) * torch.log(1 - p))""",
}

DAVE = {
    "sigmoid": """\
    if x.dim() == 0:
        return sigmoid(x.reshape(1)).reshape(())
    values = []
    for item in x.flatten():
        if item >= 0:
            values.append(1 / (1 + torch.exp(-item)))
        else:
            values.append(torch.exp(item) / (1 + torch.exp(item)))
    return torch.stack(values).reshape(x.shape)""",
    "tanh": """\
    a = torch.exp(torch.clamp(x, max=20))
    b = torch.exp(torch.clamp(-x, max=20))
    return (a - b) / (a + b)""",
    "relu": """\
    return x * (x > 0).to(x.dtype)""",
    "leaky_relu": """\
    slope = torch.full_like(x, negative_slope)
    ones = torch.ones_like(x)
    return x * torch.where(x >= 0, ones, slope)""",
    "softmax": """\
    x = x.transpose(dim, -1)
    x = x - x.amax(-1, keepdim=True)
    w = x.exp()
    w = w / w.sum(-1, keepdim=True)
    return w.transpose(dim, -1)""",
    "log_softmax": """\
    x = x.transpose(dim, -1)
    c = x.amax(-1, keepdim=True)
    lse = c + (x - c).exp().sum(-1, keepdim=True).log()
    return (x - lse).transpose(dim, -1)""",
    "mse_loss": """\
    n = pred.numel()
    return ((pred - target).pow(2)).sum() / n""",
    "binary_cross_entropy": """\
    log_p = torch.log(probs).clamp(min=-100)
    log_q = torch.log(1 - probs).clamp(min=-100)
    return -(target * log_p + (1 - target) * log_q).mean()""",
}

ERIN = {
    "sigmoid": """\
    half = 0.5 * x
    return 0.5 * (1 + tanh(half))""",
    "tanh": """\
    t = torch.expm1(-2 * x.abs())
    return -torch.sign(x) * t / (t + 2)""",
    "relu": """\
    result = x.clone()
    result[result < 0] = 0
    return result""",
    "leaky_relu": """\
    return torch.max(x, x * negative_slope) if negative_slope <= 1 else torch.min(x, x * negative_slope)""",
    "softmax": """\
    return torch.exp(log_softmax(x, dim=dim))""",
    "log_softmax": """\
    peak = torch.amax(x, dim=dim, keepdim=True).detach()
    centred = x - peak
    log_norm = torch.log(torch.sum(torch.exp(centred), dim=dim, keepdim=True))
    return centred - log_norm""",
    "mse_loss": """\
    return torch.nn.functional.mse_loss(pred, target) if False else ((target - pred) ** 2).sum() / target.numel()""",
    "binary_cross_entropy": """\
    safe = torch.where(target > 0.5, probs, 1 - probs)
    return -torch.log(safe.clamp_min(1e-12)).mean()""",
}


def _chunks(text: str) -> tuple[str, list[str]]:
    """The starter file split into its head and one chunk per top-level function."""
    parts = re.split(r"(?m)^(?=def )", text)
    return parts[0], parts[1:]


def module_text(bodies: dict[str, str], order: list[str] | None = None) -> str:
    """The starter file with ``bodies`` in place of their stubs (functions in ``order``)."""
    head, chunks = _chunks(TEMPLATE)
    by_name = {re.match(r"def (\w+)", c).group(1): c for c in chunks}
    for name, body in bodies.items():
        stub = f'    raise NotImplementedError("{M}.{name}: not implemented yet")'
        assert stub in by_name[name], name
        by_name[name] = by_name[name].replace(stub, body)
    names = order or list(by_name)
    return head + "".join(by_name[n].rstrip("\n") + "\n\n\n" for n in names).rstrip("\n") + "\n"


def bob_text() -> str:
    renamed = {}
    for name, body in ALICE.items():
        for old, new in BOB_NAMES.items():
            body = re.sub(rf"\b{old}\b", new, body)
        renamed[name] = body.replace("# only ever exponentiate non-positive numbers", "# stay stable for big |x|")
    _, chunks = _chunks(TEMPLATE)
    names = [re.match(r"def (\w+)", c).group(1) for c in chunks]
    order = names[::2] + names[1::2][::-1]          # reordered: every other function, the rest reversed
    assert order != names
    return module_text(renamed, order)


def write_class(folder: Path, students: dict[str, dict[str, str | bytes]]) -> Path:
    for student, files in students.items():
        (folder / student).mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            path = folder / student / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = write_class(tmp_path_factory.mktemp("planted") / "subs", {
        "alice": {f"{M}.py": module_text(ALICE)},
        "bob": {f"{M}.py": bob_text()},
        "carol": {f"{M}.py": module_text(CAROL)},
        "dave": {f"{M}.py": module_text(DAVE)},
        "erin": {f"{M}.py": module_text(ERIN)},
        "tmpl": {f"{M}.py": TEMPLATE},
    })
    return folder, find_similar(folder, modules=(M,))


def test_the_copied_pair_ranks_first_and_independent_pairs_below(planted):
    _, result = planted
    assert result.students == ("alice", "bob", "carol", "dave", "erin", "tmpl")
    first = result.pairs[0]
    assert (first.module, first.student_a, first.student_b) == (M, "alice", "bob")
    assert first.flagged and first.similarity_a >= 0.8 and first.similarity_b >= 0.8 and first.tokens > 100
    rest = result.pairs[1:]
    assert all(not p.flagged and p.similarity < result.settings.threshold for p in rest), rest
    assert all(p.similarity < first.similarity - 0.3 for p in rest)
    assert result.flagged == (first,)
    # the untouched starter file is all boilerplate: nothing of its own to compare
    summary = result.modules[0]
    assert (summary.submissions, summary.compared, summary.starter_found) == (6, 5, True)
    assert any("tmpl" in w and "beyond the starter code" in w for w in result.warnings)
    assert not any(p.student_a == "tmpl" or p.student_b == "tmpl" for p in result.pairs)


def test_the_shared_code_is_located_in_both_files(planted):
    _, result = planted
    first = result.pairs[0]
    alice, bob = result.code[(M, "alice")], result.code[(M, "bob")]
    assert first.spans_a and first.spans_b
    marked_a = "".join(alice[a:b] for a, b in first.spans_a)
    marked_b = "".join(bob[a:b] for a, b in first.spans_b)
    assert "torch.exp(x - biggest)" in marked_a and "torch.exp(x - top)" in marked_b
    # only the flagged pairs carry their code and spans
    assert all(not p.spans_a for p in result.pairs[1:])
    assert set(result.code) == {(M, "alice"), (M, "bob")}


def test_csv_and_html(planted, tmp_path):
    _, result = planted
    rows = list(csv.DictReader(io.StringIO(similarity_csv(result))))
    assert list(rows[0]) == ["module", "student_a", "student_b", "similarity_a", "similarity_b",
                             "tokens_overlapping", "flagged"]
    assert (rows[0]["student_a"], rows[0]["student_b"], rows[0]["flagged"]) == ("alice", "bob", "yes")
    assert [r["flagged"] for r in rows[1:]] == ["no"] * (len(rows) - 1)
    ranked = [max(float(r["similarity_a"]), float(r["similarity_b"])) for r in rows]
    assert ranked == sorted(ranked, reverse=True) and len(rows) == len(result.pairs)
    page = similarity_html(result)
    assert "never changes a grade" in page and "for a person to review" in page.lower()
    assert "<script" not in page.lower() and not re.search(r"\ssrc\s*=", page)
    assert page.count('<section class="pair"') == 1 and "<mark>" in page
    csv_path, html_path = write_similarity(tmp_path / "out", result)
    assert csv_path.read_text(encoding="utf-8") == similarity_csv(result)
    assert html_path.read_text(encoding="utf-8") == page


def test_deterministic(planted):
    folder, result = planted
    again = find_similar(folder, modules=(M,))
    assert similarity_csv(again) == similarity_csv(result)
    assert similarity_html(again) == similarity_html(result)
    # the fingerprints themselves are fixed numbers, not Python's per-process salted hash()
    assert kgram_hashes("abcdef", 3).tolist() == kgram_hashes("abcdef", 3).tolist()
    assert len(set(kgram_hashes("abcabc", 3).tolist())) == 3


def test_winnowing_keeps_one_per_window_and_guarantees_long_matches():
    import numpy as np

    hashes = np.array([5, 3, 9, 3, 7, 1, 8, 8, 2], dtype=np.int64)
    chosen = winnow(hashes, 4)
    # every window of 4 holds a chosen position, the rightmost minimum of some window
    for start in range(len(hashes) - 3):
        assert any(start <= c < start + 4 for c in chosen)
    # windows (the partial ones at the start too): 0, 1, 1, then 3, 3, 5, 5, 5, 5
    assert chosen.tolist() == [0, 1, 3, 5]
    assert winnow(hashes, 1).tolist() == list(range(9))
    assert winnow(np.zeros(0, dtype=np.int64), 4).tolist() == []
    # the same positions as copydetect's own winnowing, on hashes without ties
    from copydetect.utils import winnow as copydetect_winnow

    random = np.random.default_rng(0).permutation(5000).astype(np.int64)
    _, theirs = copydetect_winnow(random, 6, remove_duplicates=False)
    assert winnow(random, 6).tolist() == sorted(set(theirs.tolist()))


def test_code_from_a_notebook_is_compared_the_way_grading_takes_it(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# my work"),
                      nbformat.v4.new_code_cell(module_text(ALICE)),
                      nbformat.v4.new_code_cell("print(softmax(torch.randn(3)))\nfor i in range(3):\n    print(i)")]
    folder = write_class(tmp_path / "subs", {
        "alice": {f"{M}.py": module_text(ALICE)},
        "nina": {f"{M}.ipynb": nbformat.writes(notebook)},
        "dave": {f"{M}.py": module_text(DAVE)},
    })
    result = find_similar(folder, modules=(M,))
    first = result.pairs[0]
    assert (first.student_a, first.student_b, first.flagged) == ("alice", "nina", True)
    assert first.similarity >= 0.9
    assert "print(i)" not in result.code[(M, "nina")]      # the definitions only, as graded


def test_common_idiom_is_dropped(tmp_path):
    # Everyone pastes the same long helper from the lecture notes; otherwise they differ.
    helper = "\n".join(f"    step{i} = torch.clamp(x * {i + 2}.5 - {i}, min=-{i + 1}, max={i + 3}) + step{i}"
                       for i in range(12))
    shared = f"    step0 = x\n{helper}\n    return step0"
    styles = [ALICE, CAROL, DAVE, ERIN]
    students = {}
    for index, style in enumerate(styles * 2):
        bodies = dict(style)
        bodies["elu"] = shared
        students[f"s{index}"] = {f"{M}.py": module_text(bodies)}
    folder = write_class(tmp_path / "subs", students)
    default = find_similar(folder, modules=(M,))
    assert default.modules[0].common_fingerprints > 0
    # s0/s4 (and s1/s5, ...) wrote the same style: those copies are flagged, nothing else
    flagged = {(p.student_a, p.student_b) for p in default.flagged}
    assert flagged == {("s0", "s4"), ("s1", "s5"), ("s2", "s6"), ("s3", "s7")}
    # without idiom removal the helper alone makes everyone look alike
    kept = find_similar(folder, modules=(M,), settings=SimilaritySettings(common_share=1.0))
    assert kept.modules[0].common_fingerprints == 0
    assert len(kept.pairs) > len(default.pairs)
    assert max(p.similarity for p in kept.pairs if (p.student_a, p.student_b) == ("s0", "s1")) > \
        max([p.similarity for p in default.pairs if (p.student_a, p.student_b) == ("s0", "s1")], default=0.0)


def test_bad_input_is_reported_never_a_crash(tmp_path):
    latin = module_text(ALICE).replace("# only ever", "# café: only ever").encode("latin-1")
    folder = write_class(tmp_path / "subs", {
        "alice": {f"{M}.py": module_text(ALICE), "tensors.py": b"\x7fELF\x02\x01\x01\x00\x00\x00binary"},
        "bob": {f"{M}.py": bob_text(), "tensors.py": ""},
        "cy": {f"{M}.ipynb": "this is not a notebook"},
        "di": {f"{M}.py": latin},
        "ed": {"notes.txt": "nothing graded here"},
        "fa": {f"{M}.ipynb": nbformat.writes(nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("def sigmoid(x)\n    return x")]))},
    })
    result = find_similar(folder, modules=("tensors", M))
    reasons: dict[tuple[str, str], str] = {}
    for item in result.skipped:
        reasons[(item.student, item.module)] = reasons.get((item.student, item.module), "") + item.reason + "\n"
    assert "binary" in reasons[("alice", "tensors")]
    assert "empty" in reasons[("bob", "tensors")]
    assert "not a valid notebook" in reasons[("cy", M)]
    assert "UTF-8" in reasons[("di", M)]
    assert ("ed", M) not in reasons                         # not handed in is not a problem
    assert "is not valid Python" in reasons[("fa", M)]      # as grading would tell the student
    assert result.pairs[0].student_a == "alice" and result.pairs[0].student_b == "bob"
    tensors = next(m for m in result.modules if m.module == "tensors")
    assert (tensors.submissions, tensors.compared, tensors.pairs_listed) == (2, 0, 0)
    page = similarity_html(result)
    assert "Not compared" in page and "binary" in page


def test_a_class_of_one_and_a_folder_without_starter_code(tmp_path):
    one = write_class(tmp_path / "one", {"solo": {f"{M}.py": module_text(ALICE)}})
    result = find_similar(one, modules=(M,))
    assert result.pairs == () and any("class of 1" in w for w in result.warnings)
    assert "No pair of submissions" in similarity_html(result)

    twins = write_class(tmp_path / "twins", {"t1": {f"{M}.py": TEMPLATE}, "t2": {f"{M}.py": TEMPLATE}})
    empty = tmp_path / "no-starter"
    empty.mkdir()
    without = find_similar(twins, [empty], modules=(M,))
    assert any("boilerplate was not removed" in w for w in without.warnings)
    assert without.modules[0].starter_found is False
    assert without.pairs and without.pairs[0].similarity == 1.0      # the starter code itself matches
    with_starter = find_similar(twins, [ROOT / "student_template"], modules=(M,))
    assert with_starter.pairs == () and not any("boilerplate" in w for w in with_starter.warnings)


def test_released_notebooks_are_starter_code_too(tmp_path):
    """nbgrader's release/<assignment>/<assignment>.ipynb (solutions replaced by its stub) is
    starter code: two students handing it back untouched share nothing of their own."""
    notebook = nbformat.read(ROOT / "assignments" / "03_activations" / f"{M}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":      # what `nbgrader generate_assignment` does to a solution region
            cell.source = re.sub(r"(?ms)^( *)### BEGIN SOLUTION\n.*?### END SOLUTION$",
                                 r"\1# YOUR CODE HERE\n\1raise NotImplementedError()", cell.source)
    released = nbformat.writes(notebook)
    assert "### BEGIN SOLUTION" not in released
    release = tmp_path / "release" / M
    release.mkdir(parents=True)
    (release / f"{M}.ipynb").write_text(released, encoding="utf-8")
    twins = write_class(tmp_path / "twins", {"t1": {f"{M}.ipynb": released}, "t2": {f"{M}.ipynb": released}})
    result = find_similar(twins, [tmp_path / "release"], modules=(M,))
    assert result.modules[0].starter_found and result.pairs == ()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert find_similar(twins, [empty], modules=(M,)).pairs[0].similarity == 1.0
    # this project's own source notebook, its solutions stubbed, counts as starter code by default
    assert find_similar(twins, modules=(M,)).pairs == ()


def test_errors_for_unusable_input(tmp_path):
    with pytest.raises(SubmissionsError, match="does not exist"):
        find_similar(tmp_path / "missing")
    folder = write_class(tmp_path / "subs", {"a": {f"{M}.py": TEMPLATE}})
    with pytest.raises(AutograderError, match="starter-code folder"):
        find_similar(folder, [tmp_path / "nope"])
    with pytest.raises(AutograderError, match="unknown assignment"):
        find_similar(folder, modules=("nonsense",))
    with pytest.raises(AutograderError, match="threshold"):
        SimilaritySettings(threshold=1.5)


def test_the_command(planted, tmp_path):
    folder, _ = planted
    runner = CliRunner()
    out = tmp_path / "out"
    run = runner.invoke(main, ["similarity", str(folder), "-o", str(out), "-a", M, "--threshold", "0.6"])
    assert run.exit_code == 0, run.output
    assert "alice" in run.output and "bob" in run.output and "never changes a grade" in run.output
    assert (out / CSV_FILE).is_file() and (out / HTML_FILE).is_file()
    rows = list(csv.DictReader((out / CSV_FILE).open(encoding="utf-8")))
    assert (rows[0]["student_a"], rows[0]["student_b"]) == ("alice", "bob")

    missing = runner.invoke(main, ["similarity", str(tmp_path / "missing"), "-o", str(out)])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    inside = runner.invoke(main, ["similarity", str(folder), "-o", str(folder / "report")])
    assert inside.exit_code == 2 and "inside the submissions folder" in inside.output
    bad = runner.invoke(main, ["similarity", str(folder), "-o", str(out), "--threshold", "2"])
    assert bad.exit_code == 2 and "threshold" in bad.output
    nostarter = tmp_path / "empty-template"
    nostarter.mkdir()
    warned = runner.invoke(main, ["similarity", str(folder), "-o", str(out), "-a", M, "--template", str(nostarter)])
    assert warned.exit_code == 0 and "boilerplate was not removed" in warned.output


def test_a_pool_of_processes_gives_the_same_result(tmp_path):
    """A class large enough to be read and tokenised by a pool of processes (spawned) gives
    the same result as one process."""
    styles = [ALICE, CAROL, DAVE, ERIN]
    students = {}
    for index in range(48):
        bodies = {name: body.replace("1e-12", f"{index + 1}e-12").replace("0.5", f"0.{index + 5}")
                  for name, body in styles[index % 4].items()}
        students[f"p{index:02d}"] = {f"{M}.py": module_text(bodies)}
    students["p99"] = {f"{M}.py": bob_text()}
    folder = write_class(tmp_path / "subs", students)
    pooled = find_similar(folder, modules=(M,), workers=2)
    alone = find_similar(folder, modules=(M,), workers=1)
    assert similarity_csv(pooled) == similarity_csv(alone)
    assert similarity_html(pooled) == similarity_html(alone)
    assert ("p00", "p99") in {(p.student_a, p.student_b) for p in pooled.flagged}
