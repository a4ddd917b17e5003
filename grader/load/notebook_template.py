"""The notebook templates, student_template.ipynb and student_template_ko.ipynb, made
from the template folders (student_template/, student_template_ko/) so the two forms
never drift: tests/frontends/test_colab.py fails when a committed notebook differs from what this
writes. Regenerate with `python -m grader.load.notebook_template`.

Each template file becomes a markdown cell (its module docstring: the teaching text)
and one code cell per hook, the hook's comments and docstring as the file has them
(a cell ends after each top-level function). Around them: a set-up cell (installs the
grader only where it is not importable, and no second torch), a cell that calls
`colab.check()`, the written answers (answers.md, a heading per question naming the
rubric item's id, which is how grader.load.answers finds them) and a last cell that
calls `colab.export()`. Nothing is run: the files are parsed with `ast`.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

from grader.paths import ROOT

FILES = ("transforms", "model", "improvements")
# The line a course puts in its set-up cell; pip keeps the torch already installed
# (Colab's) since the grader asks only for torch>=2.2.
INSTALL = "tinycnn-grader @ git+https://github.com/YOUR-COURSE/tinycnn-grader@main"
ANSWER_ITEM = "xray_answer"   # rubrics/simple_cnn.yaml's written answer, in answers.md

TEXT = {
    "en": {
        "folder": "student_template",
        "title": "# TinyCNN improvement lab\n\n"
                 "Improve the lab's TinyCNN by editing the hooks below: the grader owns the data, "
                 "the training loop and the test set, and calls your hooks. Any hook you delete "
                 "falls back to the baseline's. Run the cells top to bottom: the first sets up "
                 "the grader, `colab.check()` grades your hooks (a quick, unofficial check) and "
                 "shows the result here, and the last cell writes the file to hand in.\n\n"
                 "Only imports, functions, classes and plain constants (`EPOCHS = 10`) are "
                 "graded; training loops and plots in your own cells are not run by the grader.",
        "setup": "# Set-up: installs the grader only where it is missing (a course machine or a\n"
                 "# second run has it already) and keeps the torch that is installed. The data:\n"
                 "# the GRADER_DATA_DIR environment variable when set (course machines), else\n"
                 "# downloaded once into the grader's cache.",
        "check_md": "## Check your work\n\n"
                    "The quick check trains your model and the baseline on a subset for one epoch "
                    "(about a minute on a GPU, a few on a CPU) and scores the gain. It is "
                    "unofficial: the course grades the full rubric. "
                    "`colab.check(quick=False)` runs the full rubric here.",
        "check": "# Grades the hooks above, read from this notebook (Colab: as shown; Jupyter: its\n"
                 "# saved file), in a sandboxed child process, never in this kernel.\n"
                 "colab.check()",
        "export_md": "## Hand in\n\n"
                     "`colab.export()` grades this notebook's file once more and writes that exact "
                     "file to hand in (`<name>-handin.ipynb`; `colab.export(as_zip=True)` for a "
                     ".zip with answers.md). In Colab it is downloaded too; in Jupyter, save the "
                     "notebook first (File > Save): the grader reads its file.",
        "export": "colab.export()",
    },
    "ko": {
        "folder": "student_template_ko",
        "title": "# TinyCNN 개선 실습\n\n"
                 "아래 훅을 고쳐 실습의 TinyCNN을 개선하세요. 데이터, 학습 루프, 테스트 세트는 "
                 "채점기가 맡고 여러분의 훅을 호출합니다. 지운 훅은 기준 모델의 것을 씁니다. "
                 "셀을 위에서부터 차례로 실행하세요. 첫 셀은 채점기를 준비하고, "
                 "`colab.check()`는 훅을 채점해(빠른 비공식 점검) 결과를 여기에 보여 주며, "
                 "마지막 셀은 제출할 파일을 씁니다.\n\n"
                 "채점되는 것은 import, 함수, 클래스, 단순 상수(`EPOCHS = 10`)뿐입니다. "
                 "직접 만든 셀의 학습 루프나 그래프는 채점기가 실행하지 않습니다.",
        "setup": "# 준비: 채점기가 없을 때만 설치하고(강의 서버나 두 번째 실행에는 이미 있음)\n"
                 "# 설치된 torch는 그대로 둡니다. 데이터: GRADER_DATA_DIR 환경 변수가 있으면\n"
                 "# 그 폴더(강의 서버), 없으면 채점기 캐시에 한 번 내려받습니다.",
        "check_md": "## 점검하기\n\n"
                    "빠른 점검은 여러분의 모델과 기준 모델을 일부 데이터로 한 에포크 학습해 향상을 "
                    "채점합니다(GPU에서 1분쯤, CPU에서 몇 분). 비공식 점수이며, 강의는 전체 루브릭으로 "
                    "채점합니다. `colab.check(quick=False)`는 여기서 전체 루브릭을 실행합니다.",
        "check": "# 이 노트북(Colab: 화면 그대로, Jupyter: 저장된 파일)에서 위의 훅을 읽어\n"
                 "# 샌드박스의 자식 프로세스에서 채점합니다(이 커널에서는 실행하지 않음).\n"
                 "colab.check(lang=\"ko\")",
        "export_md": "## 제출하기\n\n"
                     "`colab.export()`는 이 노트북 파일을 한 번 더 채점하고, 채점한 바로 그 파일을 "
                     "제출용으로 씁니다(`<이름>-handin.ipynb`; answers.md가 든 .zip은 "
                     "`colab.export(as_zip=True)`). Colab에서는 내려받기도 시작됩니다. Jupyter에서는 "
                     "먼저 노트북을 저장하세요(파일 > 저장). 채점기는 저장된 파일을 읽습니다.",
        "export": "colab.export(lang=\"ko\")",
    },
}


def setup_cell(lang: str) -> str:
    return TEXT[lang]["setup"] + "\n" + "\n".join([
        "try:",
        "    from grader import colab",
        "except ImportError:",
        f"    %pip install --quiet \"{INSTALL}\"",
        "    from grader import colab",
    ])


def hook_cells(path: Path) -> list[tuple[str, str]]:
    """[(cell type, source)]: the file's docstring as markdown, then its code cut after
    each top-level function, each piece with the comments around it."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    body, start = tree.body, 0
    cells: list[tuple[str, str]] = []
    doc = ast.get_docstring(tree, clean=True)
    if doc:
        cells.append(("markdown", TEXT_FILE_HEADING.format(name=path.stem) + _markdown(doc)))
        start, body = body[0].end_lineno, body[1:]
    cuts = [node.end_lineno for node in body if isinstance(node, ast.FunctionDef)]
    if not cuts or cuts[-1] < len(lines):
        cuts.append(len(lines))
    for end in cuts:
        piece = "\n".join(lines[start:end]).strip("\n")
        if piece.strip():
            cells.append(("code", piece))
        start = end
    return cells


TEXT_FILE_HEADING = "## `{name}.py`\n\n"


def _markdown(doc: str) -> str:
    """A docstring as markdown: indented lists become bullets, the rest stays prose."""
    out = []
    for line in doc.splitlines():
        m = re.match(r"^\s{2,}- (.*)", line)
        out.append(f"- {m.group(1)}" if m else ("    " + line.strip() if line.startswith("  ") else line))
    return "\n".join(out)


def answer_cells(path: Path) -> list[tuple[str, str]]:
    """answers.md as cells: its title and the prompts, then a heading per question that
    names the rubric item (so grader.load.answers finds the answer under it) above the
    placeholder the student replaces. A prompt stays out of the answer's cells, where it
    would count as an answer."""
    text = re.sub(r"<!--.*?-->\s*", "", path.read_text(encoding="utf-8"), flags=re.S)
    parts = re.split(r"^(## .*)$", text, flags=re.M)
    intro, cells = [parts[0].strip()], []
    for heading, section in zip(parts[1::2], parts[2::2]):
        body = section.replace("(your answer here)", "").strip()
        if body:
            intro.append(f"**{heading[3:].strip()}** {body}")
        cells.append(("markdown", f"## {ANSWER_ITEM}: {heading[3:].strip()}\n\n(your answer here)"))
    return [("markdown", "\n\n".join(intro))] + cells


def build(lang: str) -> dict:
    """The notebook for a language, as nbformat v4 JSON (a dict), deterministic: no ids
    from a clock or a random source, so the committed file equals a fresh build."""
    t = TEXT[lang]
    folder = ROOT / t["folder"]
    cells: list[tuple[str, str]] = [("markdown", t["title"]), ("code", setup_cell(lang))]
    for name in FILES:
        cells += hook_cells(folder / f"{name}.py")
    cells += [("markdown", t["check_md"]), ("code", t["check"])]
    cells += answer_cells(folder / "answers.md")
    cells += [("markdown", t["export_md"]), ("code", t["export"])]
    return {"cells": [_cell(kind, src, i) for i, (kind, src) in enumerate(cells, start=1)],
            "metadata": {"accelerator": "GPU",
                         "colab": {"name": f"{t['folder']}.ipynb", "provenance": []},
                         "kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _cell(kind: str, source: str, number: int) -> dict:
    lines = source.splitlines(keepends=True)
    cell = {"cell_type": kind, "id": f"cell-{number:02d}", "metadata": {}, "source": lines}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def render(lang: str) -> str:
    return json.dumps(build(lang), ensure_ascii=False, indent=1) + "\n"


def target(lang: str) -> Path:
    return ROOT / f"{TEXT[lang]['folder']}.ipynb"


def main(argv: list[str] | None = None) -> int:
    for lang in TEXT:
        target(lang).write_text(render(lang), encoding="utf-8")
        print(f"wrote {target(lang)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
