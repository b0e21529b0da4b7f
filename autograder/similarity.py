"""Similarity detection: pairs of submissions whose code is suspiciously alike, per module.

What ``autograder similarity SUBS -o OUT`` calls. It *flags pairs for a person to review*;
it never changes a grade (similar code can be legitimate: the starter code, idioms every
student writes, allowed collaboration).

The method is copydetect's (winnowing over tokens, the MOSS method of Schleimer, Wilkerson
and Aiken, SIGMOD 2003):

1. each student's module is taken the way grading takes it (:func:`read_modules`): the
   ``.py`` file, or, from a notebook, the definitions ``autograder.notebook_code`` extracts
   (a ``.py`` and a notebook of the same module: the ``.py``, as in grading);
2. copydetect tokenises it (``copydetect.utils.filter_code``: every name becomes ``V``,
   ``F`` or ``O``, every string ``S``, whitespace and comments go), so renamed variables
   and reformatted code do not hide a copy;
3. every ``noise_tokens``-gram of tokens is hashed and winnowed (one fingerprint per
   window of ``guarantee_tokens - noise_tokens + 1`` k-grams): a match of
   ``guarantee_tokens`` tokens is always found, one shorter than ``noise_tokens`` never;
4. fingerprints of the starter code (``student_template/<module>.py`` and the code of the
   released notebooks) are removed as boilerplate, and so are fingerprints shared by more
   than ``common_share`` of the module's submissions (common idiom; one shared by fewer
   than ``common_min_students`` students is never common, so that a small class's pair
   still counts);
5. pairs sharing fingerprints are compared with ``copydetect.detector.compare_files``:
   ``similarity_a`` is the share of a's tokens found in b, ``similarity_b`` the converse,
   ``tokens`` the overlapping tokens (in a). A pair is *flagged* when the larger of the
   two reaches ``threshold``.

Two things are done here rather than by copydetect, for a reason: the k-gram hashes
(copydetect uses Python's ``hash()``, salted per process, so its fingerprints would differ
between runs: ours are a fixed polynomial hash, and the same input gives the same output,
byte for byte) and the choice of the pairs to compare (copydetect compares every pair;
here only pairs sharing enough fingerprints after boilerplate and idiom removal, found
from an inverted index, which is what makes 1,000 students tractable).

Bad input never stops the run: a class of one, an empty module, a notebook that cannot
be read, a binary file, a file that is not text are reported in ``SimilarityResult.skipped``
and ``warnings``; starter code that cannot be found is a warning that boilerplate was not
removed. Only a missing or empty submissions folder, or a missing template folder, is an
``AutograderError`` (the CLI's exit 2).
"""

from __future__ import annotations

import csv
import html
import io
import os
import tempfile
import tokenize
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

import numpy as np

from .course import MODULES, assignment_for, project_root
from .errors import AutograderError, OutputError
from .submissions import Submission, copy_submission, discover

__all__ = [
    "SimilaritySettings", "SimilarPair", "SkippedFile", "ModuleSummary", "SimilarityResult",
    "find_similar", "read_modules", "starter_code", "similarity_csv", "similarity_html",
    "write_similarity", "check_output_dir", "CSV_FILE", "HTML_FILE",
]

CSV_FILE = "similarity.csv"
HTML_FILE = "similarity.html"
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
# Above this many students the reading and tokenising (pygments, ~0.3 MB/s) is spread
# over processes; below it a pool costs more than it saves.
_POOL_MIN_STUDENTS = 48
_SHOWN_NAMES = 6            # students named in a summary line before "and N more"


@dataclass(frozen=True)
class SimilaritySettings:
    """The knobs of :func:`find_similar`. Defaults are defined here only."""

    noise_tokens: int = 25          # k: matches shorter than this many tokens are never counted
    guarantee_tokens: int = 30      # matches at least this long are always found (winnowing window)
    common_share: float = 0.2       # a fingerprint in more than this share of a module's submissions is idiom
    common_min_students: int = 5    # ... unless fewer students than this share it
    threshold: float = 0.5          # flag a pair whose larger similarity reaches this
    min_similarity: float = 0.1     # pairs below this are not listed at all
    top: int = 50                   # flagged pairs shown side by side in similarity.html

    def __post_init__(self) -> None:
        checks = [
            (self.noise_tokens >= 1, f"noise_tokens must be at least 1 (got {self.noise_tokens})"),
            (self.guarantee_tokens >= self.noise_tokens,
             f"guarantee_tokens ({self.guarantee_tokens}) must be at least noise_tokens ({self.noise_tokens})"),
            (0.0 < self.common_share <= 1.0, f"common_share must be in (0, 1] (got {self.common_share})"),
            (self.common_min_students >= 2, f"common_min_students must be at least 2 (got {self.common_min_students})"),
            (0.0 <= self.threshold <= 1.0, f"threshold must be in [0, 1] (got {self.threshold})"),
            (0.0 <= self.min_similarity <= 1.0, f"min_similarity must be in [0, 1] (got {self.min_similarity})"),
            (self.top >= 0, f"top must be at least 0 (got {self.top})"),
        ]
        for ok, message in checks:
            if not ok:
                raise AutograderError(f"similarity settings: {message}")

    @property
    def window(self) -> int:
        return self.guarantee_tokens - self.noise_tokens + 1


@dataclass(frozen=True)
class SimilarPair:
    """Two students' versions of one module that share code. ``student_a < student_b``.

    ``spans_a`` / ``spans_b``: the shared code as (start, end) character offsets into each
    student's module text (as taken for grading); kept for the pairs shown side by side only.
    """

    module: str
    student_a: str
    student_b: str
    similarity_a: float            # share of a's (fingerprinted) tokens also found in b, in [0, 1]
    similarity_b: float
    tokens: int                    # tokens of a that overlap with b
    flagged: bool = False
    spans_a: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    spans_b: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    @property
    def similarity(self) -> float:
        """The larger of the two: one student's code may be all inside a longer file."""
        return max(self.similarity_a, self.similarity_b)


@dataclass(frozen=True)
class SkippedFile:
    """A student's module that could not be compared, and why (for the instructor)."""

    student: str
    module: str
    reason: str


@dataclass(frozen=True)
class ModuleSummary:
    """What was compared for one module."""

    module: str
    submissions: int               # students who handed this module in (readable or not)
    compared: int                  # of them, with code of their own left to compare
    starter_found: bool            # boilerplate was removed
    common_fingerprints: int       # dropped as idiom
    pairs_compared: int
    pairs_listed: int
    flagged: int


@dataclass(frozen=True)
class SimilarityResult:
    """Everything :func:`find_similar` found. ``pairs`` are ranked: the most similar first
    (larger similarity, then more tokens), every pair listed at least ``min_similarity``."""

    students: tuple[str, ...]
    modules: tuple[ModuleSummary, ...]
    pairs: tuple[SimilarPair, ...]
    settings: SimilaritySettings
    skipped: tuple[SkippedFile, ...] = ()
    warnings: tuple[str, ...] = ()
    # (module, student) -> the module's text, for the students of the pairs shown side by side
    code: Mapping[tuple[str, str], str] = field(default_factory=lambda: MappingProxyType({}), repr=False,
                                                compare=False)

    @property
    def flagged(self) -> tuple[SimilarPair, ...]:
        return tuple(p for p in self.pairs if p.flagged)


# -- reading: the module text the grader would grade ------------------------------------

def _decode(data: bytes, name: str) -> tuple[str | None, str | None]:
    """(text, None) for Python source; (None, why not) for a binary or undecodable file."""
    if b"\0" in data:
        return None, f"{name} is a binary file, not Python source: not compared"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return None, f"{name} is not text in UTF-8 (or the encoding it declares): not compared"
    return text.lstrip("\ufeff"), None


def read_modules(submission: Submission, modules: Iterable[str]) -> tuple[dict[str, str], list[SkippedFile]]:
    """The text of each of ``modules`` the student handed in, as grading takes it.

    The files are copied the way grading copies them (``copy_submission``: regular files
    only, size-capped, nbgrader's layout understood); a module's ``.py`` wins over its
    notebook; from a notebook, ``autograder.notebook_code.extract`` takes the definitions
    (the assignment's configuration decides whether every statement is taken). Returns
    ``({module: text}, skipped)``; a module not handed in is in neither.
    """
    from . import notebook_code

    wanted = tuple(modules)
    texts: dict[str, str] = {}
    skipped: list[SkippedFile] = []
    with tempfile.TemporaryDirectory(prefix="autograder-similarity-") as scratch:
        folder = Path(scratch) / "submission"
        try:
            notebooks, messages = copy_submission(submission, folder)
        except OSError as exc:
            return {}, [SkippedFile(submission.student, m, f"cannot read the submission: {exc}") for m in wanted]
        for module in wanted:
            for message in messages:
                if f"{module}.py" in message or f"{module}.ipynb" in message:
                    skipped.append(SkippedFile(submission.student, module, message))
            path = folder / f"{module}.py"
            if path.is_file():
                text, problem = _decode(path.read_bytes(), f"{module}.py")
            elif module in notebooks:
                text, problem, notes = _from_notebook(notebooks[module], module, folder, notebook_code)
                skipped += [SkippedFile(submission.student, module, note) for note in notes]
            else:
                continue
            if problem is not None:
                skipped.append(SkippedFile(submission.student, module, problem))
            elif not text.strip():
                skipped.append(SkippedFile(submission.student, module, f"{module}: the file is empty: not compared"))
            else:
                texts[module] = text
    return texts, skipped


def _execute_notebook(module: str) -> bool:
    try:
        from .config import load_course

        return load_course()[module].execute_notebook
    except Exception:   # a project without assignments/: notebooks give their definitions
        return False


def _from_notebook(data: bytes, module: str, folder: Path, notebook_code) -> tuple[str | None, str | None, list[str]]:
    """(the code grading takes from the notebook, why none, what grading would say about
    cells it could not take: not valid Python, nothing to grade; that code is not compared)."""
    try:
        extraction = notebook_code.extract(
            data, module, execute=_execute_notebook(module), reference=notebook_code.load_reference(module),
            local_modules={p.stem for p in folder.glob("*.py")})
    except notebook_code.NotebookError as exc:
        return None, f"{exc}: not compared", []
    notes = [f"{m}: not compared" for m in extraction.messages
             if "is not valid Python" in m or "cannot be read as Python" in m or "no code to grade" in m]
    return extraction.source, None, notes


def _stubbed(source: str) -> str:
    """``source`` with each solution region replaced by nbgrader's stub (as the released
    notebooks have it): a source notebook's solutions are not boilerplate."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        stripped = line.strip()
        if stripped == _BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
        elif stripped == _END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _notebook_starter(data: bytes, module: str) -> str | None:
    """The code a released notebook gives students (solution regions stubbed), or None."""
    from . import notebook_code

    try:
        nbformat = notebook_code.import_nbformat()
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        for cell in notebook.cells:
            if cell.get("cell_type") == "code":
                cell.source = _stubbed(cell.source)
        stubbed = nbformat.writes(notebook).encode("utf-8")
        return notebook_code.extract(stubbed, module, reference=notebook_code.load_reference(module)).source
    except Exception:   # an unreadable notebook is simply no starter code
        return None


def starter_code(template_dirs: Sequence[Path] | None, modules: Iterable[str]) -> dict[str, list[str]]:
    """The starter code of each module: texts whose fingerprints are boilerplate.

    From each folder of ``template_dirs``: ``<module>.py``, ``<module>.ipynb`` and
    ``<module>/<module>.ipynb`` (nbgrader's ``release/<assignment>/``). Without
    ``template_dirs``: this project's ``student_template/`` and its assignments' source
    notebooks (solution regions stubbed, as nbgrader releases them). A folder that does
    not exist is an ``AutograderError``.
    """
    modules = tuple(modules)
    found: dict[str, list[str]] = {m: [] for m in modules}
    if template_dirs is None:
        root = project_root()
        folders = [root / "student_template"]
        for module in modules:
            notebook = root / "assignments" / assignment_for(module).folder / f"{module}.ipynb"
            if notebook.is_file():
                text = _notebook_starter(notebook.read_bytes(), module)
                if text:
                    found[module].append(text)
    else:
        folders = [Path(d) for d in template_dirs]
        for folder in folders:
            if not folder.is_dir():
                raise AutograderError(f"starter-code folder {folder} does not exist or is not a folder; pass "
                                      "--template with a folder holding <module>.py or the released notebooks")
    for folder in folders:
        for module in modules:
            path = folder / f"{module}.py"
            if path.is_file() and not path.is_symlink():
                text, _ = _decode(path.read_bytes(), path.name)
                if text:
                    found[module].append(text)
            for notebook in (folder / f"{module}.ipynb", folder / module / f"{module}.ipynb"):
                if notebook.is_file() and not notebook.is_symlink():
                    text = _notebook_starter(notebook.read_bytes(), module)
                    if text:
                        found[module].append(text)
    return found


# -- fingerprints -----------------------------------------------------------------------

_MASK = (1 << 64) - 1


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads a polynomial hash's bits, so window minima are fair."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * np.uint64(0xBF58476D1CE4E5B9)
        values = values ^ (values >> np.uint64(27))
        values = values * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def kgram_hashes(tokens: str, k: int) -> np.ndarray:
    """A 64-bit hash of every k-character window of ``tokens`` (copydetect's filtered code:
    one character per token), the same on every machine and in every run (int64)."""
    if len(tokens) < k:
        return np.zeros(0, dtype=np.int64)
    codes = np.frombuffer(tokens.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, k)
    powers = np.array([pow(1_000_003, k - 1 - i, 1 << 64) for i in range(k)], dtype=np.uint64)
    with np.errstate(over="ignore"):
        hashes = (windows * powers).sum(axis=1, dtype=np.uint64)   # wraps modulo 2**64
    return _mix(hashes).view(np.int64)


def winnow(hashes: np.ndarray, window: int) -> np.ndarray:
    """The positions winnowing selects: in every window of ``window`` consecutive hashes,
    the rightmost minimum (Schleimer et al.'s robust winnowing), each position once, sorted.

    As in copydetect, the windows start before the first hash (the partial windows at the
    start count too), so the first hashes of a short file are not lost.
    """
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    if window <= 1:
        return np.arange(len(hashes), dtype=np.int64)
    padded = np.concatenate([np.full(window - 1, np.iinfo(np.int64).max, dtype=np.int64),
                             hashes.astype(np.int64, copy=False)])
    views = np.lib.stride_tricks.sliding_window_view(padded, window)
    rightmost = window - 1 - np.argmin(views[:, ::-1], axis=1)
    return np.unique(np.arange(len(views), dtype=np.int64) + rightmost - (window - 1))


@dataclass
class _Document:
    """One student's module, tokenised and winnowed: what copydetect's ``compare_files``
    reads (``k``, ``hashes``, ``hash_idx``, ``filtered_code``, ``offsets``,
    ``token_coverage``), built without reading a file again."""

    raw_code: str
    filtered_code: str
    offsets: np.ndarray
    positions: np.ndarray          # winnowed k-gram positions in filtered_code
    values: np.ndarray             # their hashes
    k: int
    hashes: set = field(default_factory=set)
    hash_idx: dict = field(default_factory=dict)
    token_coverage: int = 0

    def keep_only(self, drop: np.ndarray) -> None:
        """Remove the fingerprints in ``drop`` (boilerplate, idiom); build the lookups."""
        from copydetect.utils import get_token_coverage

        keep = ~np.isin(self.values, drop) if len(drop) else np.ones(len(self.values), dtype=bool)
        self.values, self.positions = self.values[keep], self.positions[keep]
        index: dict[int, list[int]] = {}
        for value, position in zip(self.values.tolist(), self.positions.tolist()):
            index.setdefault(value, []).append(position)
        self.hash_idx = index
        self.hashes = set(index)
        self.token_coverage = int(get_token_coverage(index, self.k, len(self.filtered_code)))


def _tokenise(text: str, module: str, settings: SimilaritySettings) -> _Document:
    from copydetect.utils import filter_code

    filtered, offsets = filter_code(text, f"{module}.py", language="python")
    hashes = kgram_hashes(filtered, settings.noise_tokens)
    positions = winnow(hashes, settings.window)
    return _Document(text, filtered, offsets, positions, hashes[positions], settings.noise_tokens)


def _boilerplate(texts: list[str], module: str, settings: SimilaritySettings) -> np.ndarray:
    """Every k-gram hash of the starter code (not only the winnowed ones, as copydetect does)."""
    from copydetect.utils import filter_code

    parts = [kgram_hashes(filter_code(t, f"{module}.py", language="python")[0], settings.noise_tokens)
             for t in texts]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _read_and_tokenise(args: tuple[Submission, tuple[str, ...], SimilaritySettings]
                       ) -> tuple[str, dict[str, _Document], list[SkippedFile]]:
    submission, modules, settings = args
    texts, skipped = read_modules(submission, modules)
    documents = {}
    for module, text in texts.items():
        try:
            documents[module] = _tokenise(text, module, settings)
        except Exception as exc:   # pygments on a pathological file: report, go on
            skipped.append(SkippedFile(submission.student, module,
                                       f"{module}: could not be tokenised ({type(exc).__name__}): not compared"))
    return submission.student, documents, skipped


# -- comparing ---------------------------------------------------------------------------

def _shared_counts(fingerprints: list[np.ndarray], limit: int) -> np.ndarray:
    """n x n: how many fingerprints each pair of documents shares (upper triangle), among
    fingerprints held by 2 .. ``limit`` documents; an inverted index, counted in chunks."""
    n = len(fingerprints)
    counts = np.zeros((n, n), dtype=np.int32)
    if n < 2:
        return counts
    values = np.concatenate(fingerprints)
    owners = np.concatenate([np.full(len(f), i, dtype=np.int64) for i, f in enumerate(fingerprints)])
    order = np.lexsort((owners, values))
    values, owners = values[order], owners[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    pending: list[np.ndarray] = []
    pending_size = 0
    triangles: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for start, size in zip(starts[(sizes >= 2) & (sizes <= limit)].tolist(),
                           sizes[(sizes >= 2) & (sizes <= limit)].tolist()):
        if size not in triangles:
            triangles[size] = np.triu_indices(size, 1)
        i, j = triangles[size]
        group = owners[start:start + size]
        pending.append(group[i] * n + group[j])
        pending_size += len(i)
        if pending_size > 4_000_000:
            counts += np.bincount(np.concatenate(pending), minlength=n * n).reshape(n, n).astype(np.int32)
            pending, pending_size = [], 0
    if pending:
        counts += np.bincount(np.concatenate(pending), minlength=n * n).reshape(n, n).astype(np.int32)
    return counts


def _spans(slices: np.ndarray) -> tuple[tuple[int, int], ...]:
    if slices is None or len(slices) == 0 or np.asarray(slices).ndim != 2:
        return ()
    return tuple((int(a), int(b)) for a, b in zip(slices[0], slices[1]))


def _names(students: Sequence[str]) -> str:
    shown = ", ".join(students[:_SHOWN_NAMES])
    more = len(students) - _SHOWN_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _compare_module(module: str, docs: dict[str, _Document], boilerplate: np.ndarray, starter_found: bool,
                    submissions: int, settings: SimilaritySettings
                    ) -> tuple[ModuleSummary, list[SimilarPair], list[tuple[SimilarPair, tuple, tuple]], list[str]]:
    from copydetect.detector import compare_files

    notes: list[str] = []
    students = sorted(docs)
    for student in students:
        docs[student].keep_only(boilerplate)
    # Idiom: fingerprints a large share of the class has (after the starter code is gone).
    unique = [np.unique(docs[s].values) for s in students]
    common = np.zeros(0, dtype=np.int64)
    n = len(students)
    limit = max(int(settings.common_share * n), settings.common_min_students - 1)
    if n and unique:
        values, frequency = np.unique(np.concatenate(unique), return_counts=True)
        common = values[frequency > limit]
    if len(common):
        for student in students:
            docs[student].keep_only(common)
    empty = [s for s in students if not docs[s].hashes]
    if empty:
        notes.append(f"{module}: {len(empty)} submission(s) with no code of their own beyond the starter code "
                     f"and common idiom (or too short to compare), not compared: {_names(empty)}")
    live = [s for s in students if docs[s].hashes]
    fingerprints = [np.fromiter(docs[s].hashes, dtype=np.int64, count=len(docs[s].hashes)) for s in live]
    shared = _shared_counts(fingerprints, limit)
    sizes = np.array([len(f) for f in fingerprints], dtype=np.float64)
    # A pair is compared exactly only when the share of fingerprints it has in common could
    # reach the listing floor: the share of fingerprints tracks the share of tokens closely,
    # and halving the floor leaves a wide margin for the difference.
    a_index, b_index = np.nonzero(shared)
    if len(a_index):
        share = np.maximum(shared[a_index, b_index] / sizes[a_index], shared[a_index, b_index] / sizes[b_index])
        keep = share >= settings.min_similarity / 2
        a_index, b_index = a_index[keep], b_index[keep]
    pairs: list[SimilarPair] = []
    slices: list[tuple[SimilarPair, tuple, tuple]] = []
    for i, j in zip(a_index.tolist(), b_index.tolist()):
        first, second = live[i], live[j]
        if first > second:
            first, second = second, first
        overlap, (sim_a, sim_b), (slices_a, slices_b) = compare_files(docs[first], docs[second])
        sim_a, sim_b = round(min(1.0, float(sim_a)), 4), round(min(1.0, float(sim_b)), 4)
        if max(sim_a, sim_b) < settings.min_similarity:
            continue
        pair = SimilarPair(module, first, second, sim_a, sim_b, int(overlap),
                           flagged=max(sim_a, sim_b) >= settings.threshold)
        pairs.append(pair)
        slices.append((pair, _spans(slices_a), _spans(slices_b)))
    summary = ModuleSummary(module=module, submissions=submissions, compared=len(live),
                            starter_found=starter_found, common_fingerprints=int(len(common)),
                            pairs_compared=int(len(a_index)), pairs_listed=len(pairs),
                            flagged=sum(p.flagged for p in pairs))
    return summary, pairs, slices, notes


def _rank_key(pair: SimilarPair) -> tuple:
    order = MODULES.index(pair.module) if pair.module in MODULES else len(MODULES)
    return (-pair.similarity, -pair.tokens, order, pair.module, pair.student_a, pair.student_b)


def find_similar(
    submissions_dir: Path,
    template_dirs: Sequence[Path] | None = None,
    *,
    modules: Sequence[str] = MODULES,
    settings: SimilaritySettings = SimilaritySettings(),
    workers: int | None = None,
) -> SimilarityResult:
    """Find the pairs of submissions of ``submissions_dir`` whose modules are alike.

    ``template_dirs``: folders holding the starter code (see :func:`starter_code`); None
    for this project's own. ``workers``: processes that read and tokenise (default: the
    cores, for a class large enough to gain from it). Deterministic: the same folders and
    settings give the same result. Raises ``AutograderError`` for a missing or empty
    submissions folder, an unknown module or a missing template folder; anything wrong
    with one student's files is reported in the result.
    """
    modules = tuple(dict.fromkeys(modules))
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise AutograderError(f"unknown assignment(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    submissions = discover(Path(submissions_dir))
    starters = starter_code(template_dirs, modules)
    warnings: list[str] = []
    if len(submissions) < 2:
        warnings.append(f"a class of {len(submissions)}: there is no pair to compare")
    missing = [m for m in modules if not starters[m]]
    if missing:
        where = ("the --template folders" if template_dirs is not None
                 else "this project's student_template/ and assignments/")
        warnings.append(f"no starter code found for {', '.join(missing)} in {where}: boilerplate was not removed, "
                        "so code every student got counts as shared (pass --template with the starter folder)")

    jobs = [(s, modules, settings) for s in submissions]
    processes = workers if workers is not None else len(os.sched_getaffinity(0))
    read = None
    if processes > 1 and len(jobs) >= _POOL_MIN_STUDENTS:
        import multiprocessing
        from concurrent.futures.process import BrokenProcessPool

        # spawn: the caller may be a grading process with PyTorch's threads running.
        try:
            with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
                read = list(pool.map(_read_and_tokenise, jobs, chunksize=max(1, len(jobs) // (processes * 8))))
        except (BrokenProcessPool, OSError):
            # a spawned process could not start (a caller whose __main__ cannot be
            # re-imported, say, or no processes left): do the same work here, slower
            read = None
    if read is None:
        read = [_read_and_tokenise(job) for job in jobs]

    skipped = [item for _, _, items in read for item in items]
    summaries: list[ModuleSummary] = []
    pairs: list[SimilarPair] = []
    spans: dict[tuple[str, str, str], tuple[tuple, tuple]] = {}
    for module in modules:
        docs = {student: documents[module] for student, documents, _ in read if module in documents}
        handed_in = len(docs) + len({s.student for s in skipped if s.module == module and s.student not in docs})
        boilerplate = _boilerplate(starters[module], module, settings)
        summary, found, found_spans, notes = _compare_module(module, docs, boilerplate, bool(starters[module]),
                                                             handed_in, settings)
        summaries.append(summary)
        pairs += found
        warnings += notes
        for pair, a, b in found_spans:
            spans[(pair.module, pair.student_a, pair.student_b)] = (a, b)
    pairs.sort(key=_rank_key)
    shown = {(p.module, p.student_a, p.student_b) for p in [p for p in pairs if p.flagged][: settings.top]}
    texts = {student: documents for student, documents, _ in read}
    code: dict[tuple[str, str], str] = {}
    final: list[SimilarPair] = []
    for pair in pairs:
        key = (pair.module, pair.student_a, pair.student_b)
        if key in shown:
            a, b = spans[key]
            pair = SimilarPair(**{**pair.__dict__, "spans_a": a, "spans_b": b})
            code[(pair.module, pair.student_a)] = texts[pair.student_a][pair.module].raw_code
            code[(pair.module, pair.student_b)] = texts[pair.student_b][pair.module].raw_code
        final.append(pair)
    skipped.sort(key=lambda s: (s.student, MODULES.index(s.module) if s.module in MODULES else 0, s.reason))
    return SimilarityResult(students=tuple(s.student for s in submissions), modules=tuple(summaries),
                            pairs=tuple(final), settings=settings, skipped=tuple(skipped),
                            warnings=tuple(warnings), code=MappingProxyType(code))


# -- writing -----------------------------------------------------------------------------

def similarity_csv(result: SimilarityResult) -> str:
    """The listed pairs, ranked: module, student_a, student_b, similarity_a, similarity_b,
    tokens_overlapping, flagged (yes/no)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["module", "student_a", "student_b", "similarity_a", "similarity_b", "tokens_overlapping",
                     "flagged"])
    for p in result.pairs:
        writer.writerow([p.module, p.student_a, p.student_b, f"{p.similarity_a:.4f}", f"{p.similarity_b:.4f}",
                         p.tokens, "yes" if p.flagged else "no"])
    return buffer.getvalue()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _marked(text: str, spans: tuple[tuple[int, int], ...], context: int = 3) -> str:
    """``text`` escaped, the shared spans in <mark>, lines numbered; only the lines within
    ``context`` lines of shared code are shown (the rest is elided), so that a pair reads
    as its shared code rather than as two whole files of starter code."""
    out: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        start, end = max(start, cursor), min(end, len(text))
        if end <= start:
            continue
        out.append(_e(text[cursor:start]))
        # one <mark> per line, so that each line stays a line of its own
        out.append("\n".join(f"<mark>{_e(part)}</mark>" if part else "" for part in text[start:end].split("\n")))
        cursor = end
    out.append(_e(text[cursor:]))
    lines = "".join(out).split("\n")
    marked = [i for i, line in enumerate(lines) if "<mark>" in line]
    keep = {j for i in marked for j in range(i - context, i + context + 1)} if marked else set(range(len(lines)))
    shown: list[str] = []
    for number, line in enumerate(lines):
        if number in keep:
            shown.append(f'<span class="ln">{number + 1:>4}</span> {line}')
        elif number - 1 in keep or (number == 0 and keep):
            shown.append('<span class="ln">   ⋯</span>')
    return "\n".join(shown)


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733; margin: 0;
       background: #f5f7fa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.notice { background: #fff8e1; border: 1px solid #f0c36d; border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.warn { background: #fdecea; border-color: #e6a19a; }
table { border-collapse: collapse; background: #fff; width: 100%; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid #e3e8ee; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flag td { background: #fff3f0; }
.pair { background: #fff; border: 1px solid #dfe5ec; border-radius: 6px; padding: 10px 14px; margin: 14px 0;
        break-inside: avoid; }
.sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 10px; }
pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #fbfcfd;
      border: 1px solid #e3e8ee; padding: 8px; overflow-x: auto; white-space: pre; margin: 4px 0; max-height: 640px; }
mark { background: #ffd98a; color: inherit; }
.ln { color: #98a2ad; user-select: none; }
.muted { color: #5b6773; }
@media print { body { background: #fff; } pre { max-height: none; overflow: visible; white-space: pre-wrap; }
               .pair { border-color: #999; } }
"""


def similarity_html(result: SimilarityResult) -> str:
    """A self-contained page (no scripts, no network): the settings, the warnings, the ranked
    pairs, and the flagged pairs side by side with the shared code highlighted."""
    s = result.settings
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>Similarity of submissions</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
        "<h1>Similarity of submissions</h1>",
        f'<p class="muted">{len(result.students)} students, modules {_e(", ".join(m.module for m in result.modules))}'
        f"; {len(result.flagged)} pair(s) flagged at a similarity of {s.threshold:.0%} or more.</p>",
        '<div class="notice"><strong>For a person to review.</strong> This page flags pairs of submissions whose '
        "code is alike; it never changes a grade. Similar code can be legitimate: idioms every student writes, a "
        "hint from the handout, allowed collaboration. Read the highlighted code, and the students' other "
        "modules, before drawing any conclusion.</div>",
    ]
    for warning in result.warnings:
        kind = "notice warn" if "boilerplate was not removed" in warning else "notice"
        parts.append(f'<div class="{kind}">{_e(warning)}</div>')
    parts += [
        "<h2>How it was measured</h2>",
        f"<p>copydetect's winnowing over tokens (the MOSS method): every name becomes one token, strings and "
        f"whitespace do not count, so renamed variables and reordered functions do not hide shared code. Matches "
        f"of {s.guarantee_tokens} tokens or more are always found, of fewer than {s.noise_tokens} never. The "
        f"starter code was removed as boilerplate, and so was code shared by more than {s.common_share:.0%} of "
        f"a module's submissions (common idiom). <em>similarity a</em> is the share of a's code found in b's, "
        f"<em>similarity b</em> the converse.</p>",
        "<table><tr><th>module</th><th class=num>handed in</th><th class=num>compared</th><th>starter code</th>"
        "<th class=num>idiom fingerprints dropped</th><th class=num>pairs listed</th><th class=num>flagged</th></tr>",
    ]
    for m in result.modules:
        parts.append(f"<tr><td>{_e(m.module)}</td><td class=num>{m.submissions}</td><td class=num>{m.compared}</td>"
                     f"<td>{'removed' if m.starter_found else '<strong>not found</strong>'}</td>"
                     f"<td class=num>{m.common_fingerprints}</td><td class=num>{m.pairs_listed}</td>"
                     f"<td class=num>{m.flagged}</td></tr>")
    parts.append("</table>")
    listed = result.pairs[:200]
    parts.append(f"<h2>Pairs, most similar first</h2><p class=muted>{len(result.pairs)} pair(s) at "
                 f"{s.min_similarity:.0%} or more" + (f"; the first {len(listed)} here, all in {CSV_FILE}"
                                                      if len(listed) < len(result.pairs) else "") + ".</p>")
    if listed:
        parts.append("<table><tr><th class=num>#</th><th>module</th><th>student a</th><th>student b</th>"
                     "<th class=num>similarity a</th><th class=num>similarity b</th><th class=num>tokens</th></tr>")
        shown = {(p.module, p.student_a, p.student_b) for p in result.pairs if p.spans_a or p.spans_b}
        for rank, p in enumerate(listed, start=1):
            anchor = f"pair-{rank}"
            name = (f'<a href="#{anchor}">{_e(p.module)}</a>' if (p.module, p.student_a, p.student_b) in shown
                    else _e(p.module))
            parts.append(f"<tr{' class=flag' if p.flagged else ''}><td class=num>{rank}</td><td>{name}</td>"
                         f"<td>{_e(p.student_a)}</td><td>{_e(p.student_b)}</td>"
                         f"<td class=num>{p.similarity_a:.0%}</td><td class=num>{p.similarity_b:.0%}</td>"
                         f"<td class=num>{p.tokens}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No pair of submissions shares enough code to be listed.</p>")
    flagged = [(rank, p) for rank, p in enumerate(result.pairs, start=1) if p.spans_a or p.spans_b]
    if flagged:
        parts.append("<h2>Flagged pairs side by side</h2><p class=muted>Shared code is highlighted; lines far from "
                     "it are elided (⋯). Docstrings and names count as one token each.</p>")
    for rank, p in flagged:
        a = result.code.get((p.module, p.student_a), "")
        b = result.code.get((p.module, p.student_b), "")
        parts += [
            f'<section class="pair" id="pair-{rank}">',
            f"<h3>#{rank} {_e(p.module)}: {_e(p.student_a)} and {_e(p.student_b)} "
            f'<span class="muted">({p.similarity_a:.0%} of a in b, {p.similarity_b:.0%} of b in a, '
            f"{p.tokens} tokens)</span></h3>",
            '<div class="sides">',
            f"<div><strong>{_e(p.student_a)}</strong><pre>{_marked(a, p.spans_a)}</pre></div>",
            f"<div><strong>{_e(p.student_b)}</strong><pre>{_marked(b, p.spans_b)}</pre></div>",
            "</div></section>",
        ]
    if result.skipped:
        parts.append("<h2>Not compared</h2><table><tr><th>student</th><th>module</th><th>why</th></tr>")
        for item in result.skipped:
            parts.append(f"<tr><td>{_e(item.student)}</td><td>{_e(item.module)}</td><td>{_e(item.reason)}</td></tr>")
        parts.append("</table>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_similarity(out_dir: Path, result: SimilarityResult) -> tuple[Path, Path]:
    """Write ``OUT/similarity.csv`` and ``OUT/similarity.html`` atomically; return their paths.

    ``OutputError`` (naming the file) when one cannot be written.
    """
    from .reports.atomic import atomic_write_text

    out_dir = Path(out_dir)
    written = []
    for name, text in ((CSV_FILE, similarity_csv(result)), (HTML_FILE, similarity_html(result))):
        path = out_dir / name
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}; choose another --output") from None
        written.append(path)
    return written[0], written[1]


def check_output_dir(out_dir: Path, submissions_dir: Path) -> None:
    """``OutputError`` when ``out_dir`` is inside the submissions folder (it would become
    a student the next time) or is a file."""
    out, subs = Path(out_dir).resolve(), Path(submissions_dir).resolve()
    if out == subs or subs in out.parents:
        raise OutputError(f"the output folder {out_dir} is inside the submissions folder {submissions_dir}; "
                          "choose another --output")
    if out.exists() and not out.is_dir():
        raise OutputError(f"the output {out_dir} is a file, not a folder; choose another --output")

