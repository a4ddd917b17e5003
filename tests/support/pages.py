"""Pages as a browser renders them: the DOM after their scripts ran, in headless chromium."""
import re
import subprocess
from html import unescape

import pytest

from conftest import chromium


def rendered(page, fragment=""):
    """The DOM after the page's script ran, in a real headless browser."""
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium here (apt-get install chromium)")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--virtual-time-budget=3000", "--dump-dom", page.as_uri() + fragment],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def visible_students(dom):
    body = dom[dom.index("<tbody>"):dom.index("</tbody>")]
    rows = re.findall(r"<tr ([^>]*)>", body)
    return [unescape(re.search(r'data-student="([^"]*)"', r).group(1)) for r in rows
            if " hidden" not in r]
