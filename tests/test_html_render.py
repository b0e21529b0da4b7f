"""The students' feedback pages, rendered by a real browser (headless Chromium).

The example class is graded, and every student's ``feedback.html`` is rendered:

- as written (with its Content-Security-Policy, no script): Chromium loads it, the DOM
  holds the summary, the score table linking to each section, and every section; a
  1280x900 screenshot is not blank and shows the summary box at its top;
- a copy with a measuring script (the policy removed in the copy only) reports the real
  layout: the summary (title, "Fix this first", the whole table) ends within the first
  screen, code and tracebacks are in a monospace font, passed checks are folded.

Chromium is Debian's ``chromium`` (``.ci/run`` installs it). Without it the tests skip,
unless ``AUTOGRADER_REQUIRE_CHROMIUM`` is set (as in CI), where they fail.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from example_class import graded_example_class

WIDTH, HEIGHT = 1280, 900
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STUDENTS = ("broken", "notebook", "partial", "reference", "template")
SHOTS = Path(os.environ.get("AUTOGRADER_SCREENSHOTS", "")) if os.environ.get("AUTOGRADER_SCREENSHOTS") else None

if CHROMIUM is None:
    if os.environ.get("AUTOGRADER_REQUIRE_CHROMIUM"):
        raise RuntimeError("chromium is not installed (apt-get install chromium), and CI requires it")
    pytestmark = pytest.mark.skip(reason="chromium is not installed (apt-get install chromium)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
               "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def pages() -> dict[str, Path]:
    out = graded_example_class()
    return {student: out / student / "feedback.html" for student in STUDENTS}


@pytest.mark.parametrize("student", STUDENTS)
def test_the_page_renders_with_its_summary_and_sections(pages, student, tmp_path):
    page = pages[student]
    report = json.loads((page.parent / "report.json").read_text())
    done = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert '<header class="summary" id="summary">' in dom
    assert f"<h1>Feedback for {html.escape(student)}:" in dom
    for assignment in report["assignments"]:
        module = assignment["assignment"]
        assert f'<a href="#{module}">{module}</a>' in dom          # the table links ...
        assert f'<h2 id="{module}">' in dom                         # ... to the section
    assert "<script" not in dom


@pytest.mark.parametrize("student", STUDENTS)
def test_the_screenshot_shows_the_summary_first(pages, student, tmp_path):
    from PIL import Image

    shot = tmp_path / f"{student}.png"
    # every compositor stage before the picture: else the lower part may not be painted yet
    done = _chromium(tmp_path, f"--screenshot={shot}", "--run-all-compositor-stages-before-draw",
                     "--virtual-time-budget=3000", pages[student].as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    if SHOTS is not None:                       # to look at them: AUTOGRADER_SCREENSHOTS=folder
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SHOTS / shot.name)
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    colours = image.getcolors(maxcolors=WIDTH * HEIGHT)
    assert len(colours) > 20, "the screenshot is (almost) blank"
    # The summary box (background #f6f8fa) starts near the top of the first screen.
    summary_rows = [y for y in range(0, 200) if image.getpixel((WIDTH // 2, y)) == (0xf6, 0xf8, 0xfa)]
    assert summary_rows, "no summary box at the top of the page"
    # Dark text (the title) within the first 120 pixels.
    dark = [(x, y) for y in range(0, 120) for x in range(0, WIDTH, 4) if sum(image.getpixel((x, y))) < 200]
    assert dark, "no title at the top of the page"
    # ... and the page goes on below the summary, painted (every example page is longer than a screen)
    below = [(x, y) for y in range(HEIGHT - 150, HEIGHT) for x in range(0, WIDTH, 4)
             if sum(image.getpixel((x, y))) < 300]
    assert below, "nothing painted at the bottom of the first screen"


_MEASURE = """
<script>
window.addEventListener('load', () => {
  const box = (q) => { const e = document.querySelector(q); return e ? e.getBoundingClientRect().bottom : -1; };
  const mono = [...document.querySelectorAll('pre, code')].map(e => getComputedStyle(e).fontFamily);
  const sans = getComputedStyle(document.body).fontFamily;
  const out = document.createElement('pre');
  out.id = 'layout';
  out.textContent = JSON.stringify({
    summary: box('header.summary'), table: box('header.summary table'), fix: box('header.summary .fix'),
    mono: mono, sans: sans, details: document.querySelectorAll('details').length,
    open: document.querySelectorAll('details[open]').length,
    preWidths: [...document.querySelectorAll('pre')].map(e => e.scrollWidth <= e.clientWidth + 1),
  });
  document.body.appendChild(out);
});
</script>
"""


def _layout(page: Path, tmp_path: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)   # this copy only
    copy = tmp_path / "measured.html"
    copy.write_text(text.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    done = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", copy.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="layout">(.*?)</pre>', done.stdout, re.S)
    assert match, "the measuring script did not run"
    return json.loads(html.unescape(match.group(1)))


@pytest.mark.parametrize("student", STUDENTS)
def test_the_summary_fits_the_first_screen_and_code_is_monospace(pages, student, tmp_path):
    layout = _layout(pages[student], tmp_path)
    assert 0 < layout["table"] <= layout["summary"] <= HEIGHT, layout
    if layout["fix"] > 0:
        assert layout["fix"] < layout["table"]          # "Fix this first" above the table
    assert layout["mono"] and all("monospace" in family for family in layout["mono"]), set(layout["mono"])
    assert "monospace" not in layout["sans"]
    report = json.loads((pages[student].parent / "report.json").read_text())
    passed = any(c["outcome"] == "passed" for a in report["assignments"] for t in a["tasks"] for c in t["checks"])
    assert (layout["details"] > 0) == passed and layout["open"] == 0      # passed checks are folded
    assert all(layout["preWidths"]), "a code block overflows its box (it should wrap)"
