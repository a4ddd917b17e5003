"""The renderers on their own: two stored results.json (a real grading of the untouched
template and of a model that fails to build, tests/golden/) rendered into report.md,
report.html, the terminal's final screen and the class exports, each compared with the
stored expected file. A deliberate change to a renderer: `python tests/golden/regenerate.py`,
then read the diff before committing it."""
from __future__ import annotations

import difflib
import json
import re
import subprocess
from html.parser import HTMLParser

import pytest

from golden.regenerate import HERE, INPUTS, renders
from conftest import chromium

EXPECTED = HERE / "expected"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return renders()


def test_every_expected_file_is_rendered(rendered):
    assert sorted(rendered) == sorted(p.name for p in EXPECTED.iterdir())


@pytest.mark.parametrize("name", sorted(p.name for p in EXPECTED.iterdir()))
def test_the_render_is_the_stored_one(rendered, name):
    expected = (EXPECTED / name).read_text()
    got = rendered[name]
    diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                        "expected/" + name, "rendered", n=2))
    assert got == expected, ("the render changed; if on purpose, run "
                             "`python tests/golden/regenerate.py` and read the diff:\n" + diff[:4000])


class Balance(HTMLParser):
    """Every element the page opens is closed, in order: what a browser would otherwise
    repair by nesting the rest of the page inside it."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass  # <line .../>, <img .../>: nothing left open

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'} at {self.getpos()}")
        else:
            self.stack.pop()


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_report_html_closes_every_element_it_opens(rendered, name):
    tree = Balance()
    tree.feed(rendered[f"{name}.report.html"])
    tree.close()
    assert not tree.errors and not tree.stack, (tree.errors, tree.stack)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_a_browser_keeps_every_row_and_picture_of_report_html(rendered, name, tmp_path):
    """Parsed by a real browser, nothing of the page is dropped or swallowed by an element
    left open: the same table rows, pictures and headings as the source has."""
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium here (apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(rendered[f"{name}.report.html"])
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    source, dom = page.read_text(), done.stdout
    for tag in ("tr", "img", "h2", "table"):
        count = len(re.findall(rf"<{tag}[\s>]", source))
        assert count and len(re.findall(rf"<{tag}[\s>]", dom)) == count, tag


def test_the_stored_inputs_are_a_graded_and_a_failed_grading():
    """What the golden files cover: both paths through every renderer."""
    template = json.loads((HERE / "template.results.json").read_text())
    failed = json.loads((HERE / "failed.results.json").read_text())
    assert template["status"] == "graded" and template["metrics"]["gain_pp"] == 0
    assert failed["status"] == "failed" and failed["failure"]["code"]
