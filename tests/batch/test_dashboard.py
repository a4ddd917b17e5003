"""The class dashboard (OUT/exports/index.html): self-contained, everything a submission
wrote escaped, and, in a real headless browser, a table that sorts and filters."""
import re
from html.parser import HTMLParser

import pytest

from grader.batch import amend, dashboard, export
from grader.failures import Failure, failure_dict
from grader.report.record import Pair
from support.gradebooks import gradebook_of
from support.results import results_for
from support.pages import rendered, visible_students

HOSTILE_ID = "<script>document.title='pwned'"  # a file name can hold this
HOSTILE_MESSAGE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
CLASSES = ["cat", "dog", "frog"]


def trained(accuracy, gain, score, *, anomaly=None, official=True, status="graded", message=None):
    r = results_for("x", accuracy=accuracy, official=official, status=status)
    r.score = score
    m = r.metrics
    m.gain_pp, m.parameters, m.classes = gain, 120_000, CLASSES
    m.confusion = Pair(student=[[8, 2, 0], [1, 7, 2], [0, 3, 7]],
                       baseline=[[7, 3, 0], [2, 6, 2], [1, 3, 6]])
    m.per_class = Pair(student=[0.8, 0.7, 0.7], baseline=[0.7, 0.6, 0.6])
    r.anomaly = anomaly
    if message:
        r.failure = Failure(**failure_dict("training_error", message))
    return r


def write_predictions(folder, predicted):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["test_index,label,predicted,confidence,label_name,predicted_name"]
    lines += [f"{i},{i % 3},{p},0.9,a,b" for i, p in enumerate(predicted)]
    (folder / "predictions.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def out(tmp_path):
    gradebook_of(tmp_path, {
        "u_ada": trained(0.74, 4.1, 70), "u_bo": trained(0.69, -0.8, 40, official=False),
        "u_cy": trained(0.99, 30.0, 90, anomaly="Test accuracy 99% is above what this budget allows"),
        "u_di": trained(0.75, 5.0, 55), "u_ed": trained(0.75, 5.0, 55),
        HOSTILE_ID: trained(None, None, 10, status="failed", message=HOSTILE_MESSAGE)})
    import numpy as np
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 3
    copied = np.where(rng.random(300) < 0.3, (labels + 1) % 3, labels)  # 30% wrong
    for student, predicted in (("u_di", copied), ("u_ed", copied),
                               ("u_ada", np.where(rng.random(300) < 0.3, (labels + 2) % 3, labels))):
        write_predictions(tmp_path / "feedback" / student, predicted)
    amend.main(out=tmp_path, student="u_bo", points=61, reason="regraded by hand")
    return tmp_path


def test_the_page_is_self_contained_and_escapes_what_students_wrote(out):
    page_path, similar = export.main(out=out, fmt="dashboard")
    page = page_path.read_text()
    assert page_path == out / "exports" / "index.html" and similar.name == "similarity.csv"
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page)  # nothing fetched
    assert "<script>document.title" not in page and "<img src=x" not in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;" in page
    assert "../feedback/%3Cscript%3Edocument.title%3D%27pwned%27/report.html" in page
    assert page.count("<script>") == 1  # ours
    flags = page[page.index("id=flags"):]
    assert "u_di" in flags and "u_ed" in flags and "predictions" in flags  # the copied pair
    assert "implausible accuracy" in flags and "unofficial grade" in flags
    assert "<svg" in page and "cat" in page  # charts and the per-class view, inline
    assert "predictions for 3 of 6 students" in page  # the three with a predictions.csv


def test_a_headless_browser_sorts_and_filters_the_table(out):
    page, _ = export.main(out=out, fmt="dashboard")
    dom = rendered(page, "#sort=score&dir=desc")
    assert "<title>pwned</title>" not in dom and "pwned</title>" not in dom  # nothing ran
    assert "6 of 6 students shown" in dom  # the script ran: the server wrote "6 students"
    # the final grade: bo's 40 amended to 61
    assert visible_students(dom) == ["u_cy", "u_ada", "u_bo", "u_di", "u_ed", HOSTILE_ID]
    assert 'aria-sort="descending"' in dom
    dom = rendered(page, "#sort=accuracy&dir=asc")
    assert visible_students(dom) == ["u_bo", "u_ada", "u_di", "u_ed", "u_cy", HOSTILE_ID]  # none last
    dom = rendered(page, "#show=similar")
    assert visible_students(dom) == ["u_di", "u_ed"] and "2 of 6 students shown" in dom
    dom = rendered(page, "#q=pwned")
    assert visible_students(dom) == [HOSTILE_ID]
    dom = rendered(page, "#show=amended")
    assert visible_students(dom) == ["u_bo"]


def test_a_class_graded_quick_is_said_unofficial_once_not_flagged_on_every_row(tmp_path):
    gradebook_of(tmp_path, {s: trained(0.7, 1.0, 50, official=False) for s in ("u_a", "u_b")})
    page = export.main(out=tmp_path, fmt="dashboard")[0].read_text()
    assert "Every grade here is unofficial" in page
    assert "unofficial grade" not in page and "Nothing flagged" in page


def test_pending_written_answers_are_flagged_until_a_person_grades_them(tmp_path):
    from support.gradebooks import with_written_answer
    gradebook_of(tmp_path, {"u_a": with_written_answer(trained(0.7, 1.0, 50)),
                            "u_b": trained(0.7, 1.0, 50)})
    page = export.main(out=tmp_path, fmt="dashboard")[0].read_text()
    assert page.count(">written answers pending</span>") == 1  # u_a only, in the table
    assert "<td>written answers pending</td>" in page  # and in the list of flags
    amend.main(out=tmp_path, student="u_a", item="why_bn", points=8, reason="clear")
    page = export.main(out=tmp_path, fmt="dashboard")[0].read_text()
    assert "written answers pending" not in page and "58 / 110 ✎" in page


class SvgTree(HTMLParser):
    """The parent of every element inside an <svg>, as an HTML parser (and a browser)
    reads it: a start tag without a real `/>` stays open, and what follows nests in it."""

    def __init__(self):
        super().__init__()
        self.stack, self.parents = [], []

    def handle_starttag(self, tag, attrs):
        if self.stack or tag == "svg":
            if self.stack:
                self.parents.append((tag, self.stack[-1], dict(attrs)))
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if self.stack:
            self.parents.append((tag, self.stack[-1], dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass


def test_every_class_bar_and_baseline_mark_is_drawn_as_a_sibling(out):
    """stroke-width=2/> read as the value "2/" on an unclosed <line>: every later bar was
    nested inside the first mark, and only the first class was drawn."""
    page = export.main(out=out, fmt="dashboard")[0].read_text()
    tree = SvgTree()
    tree.feed(page)
    drawn = [(tag, parent) for tag, parent, _ in tree.parents if tag in ("rect", "line", "text")]
    assert drawn and all(parent == "svg" for _, parent in drawn), drawn
    marks = [a for tag, _, a in tree.parents if tag == "line" and a.get("stroke-width")]
    assert len(marks) == len(CLASSES) and {a["stroke-width"] for a in marks} == {"2"}
    bars = [a for tag, _, a in tree.parents if tag == "rect" and a.get("height") == "14"]
    assert len(bars) == len(CLASSES)  # one bar per class (20 px rows, 14 px bars)


def test_the_histogram_of_equal_scores_has_round_ticks_around_the_value():
    svg = dashboard.histogram([50, 50, 50], "score (points)")
    ticks = re.findall(r"text-anchor='middle' font-size='11'>([^<]*)<", svg)
    assert ticks == ["49", "50", "51"]
    assert dashboard.nice_ticks(0, 100, integers=True) == [0, 20, 40, 60, 80, 100]
    assert dashboard.nice_ticks(-3.2, 7.9) == [-2, 0, 2, 4, 6]
    assert dashboard.nice_ticks(-1, 1) == [-1, -0.5, 0, 0.5, 1]


def test_a_bidi_control_in_a_student_id_is_shown_not_obeyed(tmp_path):
    """U+202E turns "u_ada<RLO>fdp.exe" into what reads as u_adaexe.pdf."""
    gradebook_of(tmp_path, {"u_ada\u202efdp.exe": trained(0.7, 1.0, 50),
                            "u_bo\u2066x\u2069": trained(0.7, 1.0, 50)})
    page = export.main(out=tmp_path, fmt="dashboard")[0].read_text()
    assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]", page)
    assert "../feedback/u_ada%E2%80%AEfdp.exe/report.html" in page  # the link still finds it
    assert "u_ada&lt;U+202E&gt;fdp.exe" in page and "u_bo&lt;U+2066&gt;x&lt;U+2069&gt;" in page
