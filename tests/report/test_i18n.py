"""Feedback in the student's language: the catalogs are complete and current, the language
is chosen as documented, and a graded submission reads in Korean with the same numbers."""
import ast
import gettext
import io
import json
import re
import shutil
import subprocess
import tokenize
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from conftest import REPO, SUBMISSIONS, write_rubric
from grader import i18n
from grader.grading import grade_submission
from grader.report.html import render_html
from grader.report.markdown import render_markdown
from grader.rubric import RubricError, load_rubric

LOCALE = REPO / "grader" / "locale"
HANGUL = re.compile("[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")
CODE = re.compile(r"`[^`]*`|\w+\([^)]*\)")  # `code` and calls stay English
WORD = re.compile(r"\b[A-Za-z]{3,}\b")       # an English word a student reads


def catalog(lang="ko"):
    with open(LOCALE / lang / "LC_MESSAGES" / "grader.po", "rb") as f:
        return read_po(f, locale=lang)


def ids(message) -> tuple:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def test_every_message_in_the_code_has_a_korean_translation():
    """What `pybabel extract` finds in grader/ (babel.cfg, keywords _, gettext, ngettext and
    N_) is in the Korean catalog, translated and not fuzzy: a new message fails here."""
    with open(REPO / "babel.cfg") as f:
        method_map = [(line.split("python:")[1].strip(" ]\n"), "python")
                      for line in f if line.startswith("[python:")]
    found = {entry[2] if isinstance(entry[2], str) else entry[2][0]
             for entry in extract_from_dir(REPO / "grader", method_map,
                                           keywords={"_": None, "gettext": None, "N_": None,
                                                     "ngettext": (1, 2)})}
    ko = catalog()
    translated = {ids(m)[0]: m for m in ko if m.id and not m.fuzzy
                  and all(s for s in (m.string if isinstance(m.string, tuple) else (m.string,)))}
    assert len(found) > 200
    assert sorted(found - set(translated)) == []


def test_translations_keep_every_placeholder_and_are_korean():
    """`{module}`, `{got}`... are filled in by the code: a translation that drops or renames
    one would lose a number or raise KeyError. Prose is translated, not copied."""
    bad = []
    for m in catalog():
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = set(PLACEHOLDER.findall(" ".join(ids(m))))
        prose = len(WORD.findall(PLACEHOLDER.sub("", CODE.sub("", ids(m)[0])))) >= 2
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != want or (prose and not HANGUL.search(s)):
                bad.append((ids(m)[0], s))
    assert bad == []


def test_the_committed_mo_is_compiled_from_the_current_po():
    """The wheel ships the .mo as committed: it must say what the .po says. Every message
    and its translation are compared, and of the header only what changes behaviour (the
    charset, the plural rule, the language): the generator's own lines (`Generated-By`, the
    dates) change with each Babel release and say nothing about the messages."""
    buf = io.BytesIO()
    write_mo(buf, catalog())
    fresh = gettext.GNUTranslations(io.BytesIO(buf.getvalue()))
    with open(LOCALE / "ko" / "LC_MESSAGES" / "grader.mo", "rb") as f:
        shipped = gettext.GNUTranslations(f)
    messages = lambda t: {k: v for k, v in t._catalog.items() if k != ""}  # noqa: E731
    assert len(messages(fresh)) > 200
    assert messages(shipped) == messages(fresh)
    header = lambda t: {k: t.info().get(k) for k in  # noqa: E731
                        ("content-type", "plural-forms", "language")}
    assert header(shipped) == header(fresh)


def test_no_message_hides_inside_an_f_string():
    """Babel's extractor (Python 3.11 tokens) cannot see `_()` inside an f-string: such a
    message would never reach the catalog and would stay English."""
    hidden = []
    for path in sorted((REPO / "grader").rglob("*.py")):
        with open(path, "rb") as f:
            for tok in tokenize.tokenize(f.readline):
                prefix = tok.string[:2].lower() if tok.type == tokenize.STRING else ""
                if "f" in prefix and re.search(r"\b(_|gettext|ngettext)\(", tok.string):
                    hidden.append(f"{path.relative_to(REPO)}:{tok.start[0]}")
    assert hidden == []


def test_plural_forms_follow_the_count():
    i18n.use("en")
    assert i18n.ngettext("{n} epoch", "{n} epochs", 1).format(n=1) == "1 epoch"
    assert i18n.ngettext("{n} epoch", "{n} epochs", 3).format(n=3) == "3 epochs"
    i18n.use("ko")
    assert i18n.ngettext("{n} epoch", "{n} epochs", 3).format(n=3) == "3 에폭"


@pytest.mark.parametrize("lang,rubric,env,chosen", [
    ("en", "ko", {"LANG": "ko_KR.UTF-8"}, "en"),            # --lang first
    (None, "ko", {"LANG": "en_US.UTF-8"}, "ko"),            # then the rubric's language:
    (None, None, {"LANG": "ko_KR.UTF-8"}, "ko"),            # then the locale
    (None, None, {"LC_ALL": "C", "LANG": "ko_KR.UTF-8"}, "en"),  # LC_ALL overrides LANG
    (None, None, {"LC_MESSAGES": "ko_KR", "LANG": "C"}, "ko"),
    (None, None, {}, "en"),                                 # English by default
])
def test_the_language_is_chosen_by_flag_then_rubric_then_locale(lang, rubric, env, chosen):
    assert i18n.choose(lang, rubric, env) == chosen


def test_the_rubric_language_key_is_validated(tmp_path):
    text = (REPO / "rubrics" / "fashion_mnist.yaml").read_text()
    good = tmp_path / "ko.yaml"
    good.write_text(text + "\nlanguage: ko\n")
    assert load_rubric(str(good)).language == "ko"
    bad = tmp_path / "fr.yaml"
    bad.write_text(text + "\nlanguage: fr\n")
    with pytest.raises(RubricError) as e:
        load_rubric(str(bad))
    assert e.value.key == "language" and "ko" in e.value.problem


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError):
        i18n.use("fr")


@pytest.fixture(scope="module")
def korean_rubric(tmp_path_factory):
    """The tiny rubric with an instructor's Korean title for one check."""
    folder = tmp_path_factory.mktemp("korubric")
    text = (write_rubric(folder).read_text()
            .replace("{id: output_shape, kind: output_shape, points: 5}",
                     "{id: output_shape, kind: output_shape, points: 5, title: '출력 모양 확인'}"))
    return write_rubric(folder, text=text)


@pytest.fixture(scope="module")
def shape_failures(korean_rubric, fmnist_dir, session_cache):
    """fails_output_shape.py graded in English and in Korean."""
    out = {}
    for lang in ("en", "ko"):
        i18n.use(lang)
        out[lang] = grade_submission(submission=SUBMISSIONS / "fails_output_shape.py",
                                     rubric=load_rubric(str(korean_rubric)),
                                     data_dir=fmnist_dir, cache_dir=session_cache, quick=True)
    i18n.use("en")
    return out


def test_a_failing_submission_gets_the_korean_failure_box_with_the_same_values(shape_failures):
    en, ko = shape_failures["en"], shape_failures["ko"]
    assert en.failure.code == ko.failure.code == "output_shape"
    assert "[2, 128]" in ko.failure.got and "[2, 128]" in en.failure.got
    assert ko.failure.summary == "모델 출력의 모양이 잘못되었습니다"
    assert "[2, 10]" in ko.failure.expected and "[2, 10]" in en.failure.expected
    assert ko.score == en.score and ko.status == en.status == "failed"
    i18n.use("ko")  # the renderers' labels are in the run's language, like its messages
    box = render_markdown(ko)
    assert "## 채점할 수 없었던 이유" in box
    assert re.search(r"기대값: .*\[2, 10\]", box) and re.search(r"실제값: .*\[2, 128\]", box)
    assert "가능한 원인:" in box
    assert "expected:" not in box and "Why it could not be graded" not in box


def test_korean_reports_keep_numbers_identifiers_and_the_rubric_titles(shape_failures):
    en, ko = shape_failures["en"], shape_failures["ko"]
    names = [t.name for t in ko.tests]
    assert "출력 모양 확인" in names  # the instructor's title, as written, in both languages
    assert "출력 모양 확인" in [t.name for t in en.tests]
    assert "파라미터 수가 예산 이내" in names  # the grader's own default title, translated
    assert [t.score for t in ko.tests] == [t.score for t in en.tests]
    budget = ko.item("budget")
    assert "EPOCHS = " in budget.output and "BATCH_SIZE = " in budget.output
    assert "점수 10 / " in ko.output  # Gradescope's text
    i18n.use("ko")
    md = render_markdown(ko)
    for english in ("## Rubric", "| Item |", "Test accuracy", "Provenance"):
        assert english not in md
    for korean in ("## 루브릭", "| 항목 |", "테스트 정확도", "## 채점 정보"):
        assert korean in md
    assert json.dumps(en.dump(), sort_keys=True).count('"status": "passed"') == \
        json.dumps(ko.dump(), sort_keys=True).count('"status": "passed"')  # statuses stay identifiers


def test_the_english_run_reads_as_before(shape_failures):
    md = render_markdown(shape_failures["en"])
    assert "## Why it could not be graded" in md and "## Rubric" in md
    assert not HANGUL.search(md.replace("출력 모양 확인", ""))


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def screenshot(browser: str, page: Path, png: Path) -> bytes:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", "--window-size=1000,700", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return png.read_bytes()


@pytest.mark.skipif(chromium() is None, reason="needs chromium (CI: apt-get install chromium "
                                               "fonts-noto-cjk)")
def test_report_html_renders_hangul_in_a_headless_browser(shape_failures, tmp_path):
    """Rendered, not only written: with a Hangul font the glyphs differ from syllable to
    syllable; without one every syllable is the same empty box, and the page rendered with
    every syllable replaced by one same syllable would look identical."""
    fonts = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True).stdout
    assert fonts.strip(), "no font with Hangul installed (CI: apt-get install fonts-noto-cjk)"
    i18n.use("ko")
    html = render_html(shape_failures["ko"])
    assert html.startswith("<!doctype html><html lang=ko>") and "채점할 수 없었던 이유" in html
    page, flat = tmp_path / "report.html", tmp_path / "flat.html"
    page.write_text(html, encoding="utf-8")
    flat.write_text(HANGUL.sub("가", html), encoding="utf-8")
    assert screenshot(chromium(), page, tmp_path / "page.png") != \
        screenshot(chromium(), flat, tmp_path / "flat.png")


# --- the Korean template ----------------------------------------------------------------

def code_only(path: Path) -> str:
    """The module's code without its docstrings (comments are not in the tree)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@pytest.mark.parametrize("name", ["__init__.py", "model.py", "transforms.py", "improvements.py"])
def test_the_korean_template_is_the_template_with_korean_comments(name):
    """student_template_ko/ only explains in Korean: it grades exactly as the template."""
    ko = (REPO / "student_template_ko" / name)
    assert code_only(ko) == code_only(REPO / "student_template" / name)
    assert HANGUL.search(ko.read_text())


def test_the_korean_templates_unanswered_answer_is_no_answer(tmp_path):
    from grader.load.answers import collect_answers
    from grader.load.submission import load_submission
    rubric = load_rubric("simple_cnn")
    found = collect_answers(load_submission(REPO / "student_template_ko", tmp_path / "w"),
                            rubric.manual)["xray_answer"]
    assert found["text"] is None and "still the template's" in found["source"]


# --- every front end's text -------------------------------------------------------------

def test_the_terminal_screen_is_korean(shape_failures):
    from rich.console import Console
    from grader.report.terminal import render_tables
    i18n.use("ko")
    console = Console(record=True, width=140)
    console.print(render_tables(shape_failures["ko"]))
    screen = console.export_text()
    for korean in ("채점할 수 없음", "모델 요약", "루브릭", "항목", "점수 10 / 70", "기대값:", "실제값:"):
        assert korean in screen
    for english in ("Could not be graded", "Model summary", "Rubric", "expected:"):
        assert english not in screen


def test_the_job_summary_is_korean(shape_failures, tmp_path, monkeypatch):
    from grader.commands import ci
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    i18n.use("ko")
    ci.job_summary(shape_failures["ko"], 50, 1)
    text = summary.read_text()
    assert "## 루브릭" in text and "**통과 기준 50점 미만입니다.**" in text


def test_the_gradescope_bundle_carries_the_language_to_its_output(tmp_path):
    from grader.cli import main as cli
    from grader.commands import gradescope
    assert cli(["gradescope", "--rubric", "fashion_mnist", "--out", str(tmp_path / "ag.zip"),
                "--lang", "ko"]) == 0
    import zipfile
    with zipfile.ZipFile(tmp_path / "ag.zip") as z:
        config = json.loads(z.read("config.json"))
        assert "grader-src/grader/locale/ko/LC_MESSAGES/grader.mo" in z.namelist()
        assert "grader-src/student_template_ko/answers.md" in z.namelist()
    assert config["lang"] == "ko"
    # a bundle that cannot even load its rubric still answers in the student's language
    (tmp_path / "ag" / "source").mkdir(parents=True)
    (tmp_path / "ag" / "source" / "config.json").write_text(
        json.dumps({**config, "rubric": "missing.yaml"}))
    gradescope.run(tmp_path / "ag")
    form = json.loads((tmp_path / "ag" / "results" / "results.json").read_text())
    assert form["score"] == 0 and form["output"].startswith("자동 채점기를 실행할 수 없었습니다")


def test_predict_speaks_korean(tmp_path, capsys):
    from grader.cli import main as cli
    picture = tmp_path / "cat.png"
    picture.write_text("not an image")
    assert cli(["predict", str(picture), "--run", str(tmp_path), "--lang", "ko"]) == 2
    out = capsys.readouterr().out
    assert "오류" in out and "학습된 모델이 없습니다" in out and "model.json" in out


def test_pictures_are_labelled_in_korean_where_matplotlib_has_a_hangul_font():
    """With a Hangul font the curves and bars carry Korean labels; without one they stay
    English (matplotlib would draw empty boxes), never half of each."""
    from grader import i18n
    from grader.report import figures
    from grader.report.record import Epoch, History
    from support.results import golden
    i18n.use("ko")
    results = golden()
    results.history = History(student=[[Epoch(1, 1.0, 0.5, 1.0)]], baseline=[])
    assert figures.training_curves_png(results)[:4] == b"\x89PNG"
    if figures._hangul_font():
        assert figures._t(i18n.N_("Training loss")) == "학습 손실"
        import matplotlib.pyplot as plt
        assert plt.rcParams["font.family"][0] == figures._hangul_font()
    else:
        assert figures._t(i18n.N_("Training loss")) == "Training loss"
