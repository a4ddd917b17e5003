"""The lecture's SimpleCNN exercise: layer shape and parameter checks with the likely cause
of each mistake, the first wrong layer marked, hand counts, and written answers left
pending for a person in every output."""
from __future__ import annotations

import json
import shutil
import zipfile

import nbformat
import pytest

from conftest import REPO
from grader.load.answers import collect_answers
from grader.inspection.checks import evaluate_checks, first_wrong
from grader.sandbox.protocol import Run
from grader.commands.ci import classroom_result, junit_xml
from grader.batch.export import canvas_table, grades_table
from grader.batch.gradebook import Row
from grader.commands.gradescope import gradescope_form
from grader.grading import grade_submission
from grader.inspection.facts import inspect_model
from grader.inspection.modelfacts import ModelFacts
from grader.report.markdown import render_markdown
from grader.report.html import render_html
from grader.rubric import RubricError, load_rubric
from grader.load.submission import load_submission
from grader.report.rows import summary_rows
from grader.report.record import Model, Results
from simple_cnn_variants import MISTAKES, SimpleCNN

RUBRIC = load_rubric("simple_cnn")
MODULES = sorted({c.module for c in RUBRIC.checks if c.module})
STRUCTURAL = {"layer1_shape", "layer1_params", "layer2_shape", "layer2_params", "layer3_shape",
              "layer3_params", "fc_input", "fc_params", "output_shape", "parameters"}
RIGHT_COUNTS = {"layer1": 960, "layer2": 18_624, "layer3": 74_112, "fc": 20_490}


def judge(model, counts=RIGHT_COUNTS):
    facts, _ = inspect_model(model, (3, 32, 32), MODULES)
    run = Run(seed=0, inspection=ModelFacts.load(facts),
              requested={"EPOCHS": 5, "BATCH_SIZE": 128, "PARAMETER_COUNTS": counts})
    return facts, {c.id: c for c in evaluate_checks(RUBRIC, run, 10)}


def test_the_lectures_numbers_are_the_rubrics():
    import torch
    from torch import nn
    conv = nn.Conv2d(3, 32, 3, padding=1)
    assert sum(p.numel() for p in conv.parameters()) == 3 * 3 * 3 * 32 + 32 == 896
    assert sum(p.numel() for p in nn.BatchNorm2d(32).parameters()) == 2 * 32
    model = SimpleCNN()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    expected = {c.module: c.expected for c in RUBRIC.checks if c.kind == "module_parameters"}
    assert expected == RIGHT_COUNTS


def test_a_correct_simple_cnn_gets_every_structural_point():
    _, checks = judge(SimpleCNN())
    assert all(checks[i].passed for i in STRUCTURAL | {"layer2_count", "fc_count"}), \
        [c.output for c in checks.values() if not c.passed]
    assert "3×3×3×32 + 32 = 896" in checks["layer1_params"].output
    assert "2×32 = 64" in checks["layer1_params"].output


@pytest.mark.parametrize("mistake, failed, words", [
    ("missing_pool", {"layer2_shape", "layer3_shape", "fc_input", "output_shape"},
     {"layer2_shape": "a MaxPool2d(2) is missing", "layer3_shape": "follows from `layer2`",
      "fc_input": "follows from `layer2`", "output_shape": "raised in `fc`"}),
    ("linear_for_28x28", {"fc_input", "fc_params", "output_shape"},
     {"fc_input": "sized for a 3×3 feature map (what a 28×28 input gives)",
      "fc_params": "1152×10 + 10 = 11,530"}),
    ("conv_without_bias", {"layer1_params"},
     {"layer1_params": "bias=False has no + out term, 32 fewer"}),
    ("no_batchnorm", {"layer3_params"},
     {"layer3_params": "no BatchNorm2d(128): its weight and bias add 2×128 = 256"}),
])
def test_each_mistake_gets_its_message_and_partial_credit(mistake, failed, words):
    _, checks = judge(SimpleCNN(**MISTAKES[mistake]))
    assert {i for i in STRUCTURAL if not checks[i].passed} == failed
    for check_id, text in words.items():
        assert text in checks[check_id].output, checks[check_id].output
    earned = sum(checks[i].points for i in STRUCTURAL)
    assert 0 < earned < sum(checks[i].max_points for i in STRUCTURAL)


def test_a_forward_error_keeps_what_ran_before_it():
    facts, _ = judge(SimpleCNN(**MISTAKES["missing_pool"]))
    assert facts["error"]["module"] == "fc" and "mat1 and mat2" in facts["error"]["message"]
    assert facts["modules"]["layer2"]["output_shape"] == [2, 64, 16, 16]
    assert facts["modules"]["fc"]["input_shape"] == [2, 8192]
    assert facts["modules"]["fc"]["output_shape"] is None
    assert first_wrong(RUBRIC, ModelFacts.load(facts)).module == "layer2"


def test_the_summary_marks_the_first_wrong_layer_and_the_one_that_raised():
    facts, _ = judge(SimpleCNN(**MISTAKES["missing_pool"]))
    typed = ModelFacts.load(facts)
    model = Model(layers=typed.layers, modules=typed.modules, error=typed.error,
                  first_wrong=first_wrong(RUBRIC, typed),
                  expected={c.module: c.expected for c in RUBRIC.checks
                            if c.kind == "module_output_shape"})
    rows = summary_rows(model)
    marked = {r.name: r.mark for r in rows if r.mark}
    assert marked == {"layer2": "first wrong shape",
                      "fc": marked["fc"]} and marked["fc"].startswith("raised here")
    names = [r.name for r in rows]
    assert names.index("layer2") < names.index("layer2.0") < names.index("layer3")
    layer2 = rows[names.index("layer2")]
    assert (layer2.shape, layer2.expected, layer2.ok, layer2.block) == \
        ("64×16×16", "64×8×8", False, True)


@pytest.mark.parametrize("stated, passed, words", [
    (18_624, True, "is right"),
    (18_624 + 128, False, "running mean and variance (128): those are buffers"),
    (18_624 - 128, False, "left out BatchNorm2d's weight and bias (2×64 = 128)"),
    (18_624 - 64, False, "left out the biases"),
    (12_345, False, "recount: Conv2d(32→64, 3×3): 3×3×32×64 + 64 = 18,496"),
    (None, False, "PARAMETER_COUNTS has no entry for `layer2`"),
])
def test_hand_counts_are_graded_with_the_likely_slip(stated, passed, words):
    _, checks = judge(SimpleCNN(), {**RIGHT_COUNTS, "layer2": stated})
    assert checks["layer2_count"].passed is passed
    assert words in checks["layer2_count"].output


def test_a_hand_count_right_for_the_assignment_passes_even_if_the_layer_is_wrong():
    _, checks = judge(SimpleCNN(**MISTAKES["linear_for_28x28"]))
    assert checks["fc_count"].passed and "right for the assignment's `fc`" in checks["fc_count"].output


# --- written answers -------------------------------------------------------------------

def _loaded(path, tmp_path):
    return load_submission(path, tmp_path / "work")


def test_answers_come_from_the_folder_a_notebook_heading_or_nowhere(tmp_path, template_copy):
    (template_copy / "answers.md").write_text("# Written answers\n\nUse Conv2d(1, 32, 3).\n")
    found = collect_answers(_loaded(template_copy, tmp_path), RUBRIC.manual)["xray_answer"]
    assert found == {"text": "# Written answers\n\nUse Conv2d(1, 32, 3).", "source": "answers.md"}

    untouched = collect_answers(_loaded(REPO / "student_template", tmp_path / "t"), RUBRIC.manual)
    assert untouched["xray_answer"]["text"] is None
    assert "still the template's" in untouched["xray_answer"]["source"]

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("EPOCHS = 3"),
                nbformat.v4.new_markdown_cell("## Written answer: xray_answer\nFirst, in_channels=1."),
                nbformat.v4.new_markdown_cell("Then the Linear grows: 128×28×28."),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell("Not part of it.")]
    nbformat.write(nb, tmp_path / "lab.ipynb")
    text = collect_answers(_loaded(tmp_path / "lab.ipynb", tmp_path / "n"), RUBRIC.manual)
    assert text["xray_answer"]["text"] == "First, in_channels=1.\n\nThen the Linear grows: 128×28×28."

    single = tmp_path / "alone.py"
    single.write_text("EPOCHS = 3\n")
    none = collect_answers(_loaded(single, tmp_path / "s"), RUBRIC.manual)["xray_answer"]
    assert none["text"] is None and "single .py" in none["source"]

    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in template_copy.iterdir():
            if f.is_file():
                z.write(f, f"student/{f.name}")
    zipped = collect_answers(_loaded(archive, tmp_path / "z"), RUBRIC.manual)["xray_answer"]
    assert zipped["text"].endswith("Use Conv2d(1, 32, 3).")

    secret = tmp_path / "secret.txt"  # a link (a cloned repo can carry one) is not followed
    secret.write_text("the grader's private key")
    (template_copy / "answers.md").unlink()
    (template_copy / "answers.md").symlink_to(secret)
    linked = collect_answers(_loaded(template_copy, tmp_path / "l"), RUBRIC.manual)["xray_answer"]
    assert linked["text"] is None and "symbolic link" in linked["source"]


def test_rubric_refuses_bad_manual_items_and_hooks(tmp_path):
    base = (REPO / "rubrics" / "simple_cnn.yaml").read_text()
    for change, key in [(("file: answers.md", "file: ../secrets.md"), "manual[0].file"),
                        (("model_hook: build_simple_cnn", "model_hook: build simple"), "model_hook"),
                        (("expected: [2048]", "expected: 2048"), "checks[6].expected"),
                        (("id: xray_answer", "id: budget"), "manual[0].id")]:
        path = tmp_path / "r.yaml"
        path.write_text(base.replace(*change))
        with pytest.raises(RubricError) as e:
            load_rubric(str(path))
        assert e.value.key == key


# --- end to end, on synthetic CIFAR-10 -------------------------------------------------

@pytest.fixture(scope="module")
def graded(cifar_tree, session_cache, tmp_path_factory):
    """The instructor's solution (with an answer) and the untouched template, graded."""
    folder = tmp_path_factory.mktemp("solution")
    shutil.copy(REPO / "reference" / "simple_cnn.py", folder / "model.py")
    (folder / "answers.md").write_text("Change layer1 to Conv2d(1, 32, 3, padding=1) and fc "
                                       "to Linear(128*28*28, 2).\n<script>alert(1)</script>\n")
    kw = dict(rubric=RUBRIC, data_dir=cifar_tree, quick=True, cache_dir=session_cache)
    return (grade_submission(submission=folder, **kw).dump(),  # results.json's form
            grade_submission(submission=REPO / "student_template", **kw).dump())


def test_the_solution_gets_every_structural_point_and_its_answer_pends(graded):
    solution, _ = graded
    tests = {t["tags"][0]: t for t in solution["tests"]}
    assert all(tests[i]["status"] == "passed" for i in STRUCTURAL | {"layer2_count", "fc_count"})
    assert solution["metrics"]["parameters"] == 960 + 18_624 + 74_112 + 20_490
    assert solution["max_score"] == 100 and solution["pending_points"] == 10
    answer = tests["xray_answer"]
    # Gradescope's statuses only: a pending answer is "failed", tagged pending, never passed
    assert answer["status"] == "failed" and "pending" in answer["tags"]
    assert answer["score"] == 0 and answer["max_score"] == 10
    assert "Conv2d(1, 32, 3" in answer["answer"]
    assert "build_simple_cnn" in solution["submission"]["customised_hooks"]

    typed = Results.load(solution)
    md = render_markdown(typed)
    assert "(+ 10 points pending manual grading)" in md and "⏳" in md
    assert "> Change layer1 to Conv2d(1, 32, 3, padding=1)" in md
    page = render_html(typed)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page

    form = gradescope_form(typed)
    pending = [t for t in form["tests"] if "pending manual grading" in t["name"]]
    # Gradescope shows a test at its max_score without a status as passed: never for pending
    assert len(pending) == 1 and pending[0]["max_score"] == 0 and pending[0]["status"] == "failed"
    assert form["score"] == solution["score"]
    junit = junit_xml(typed)
    assert 'skipped="1"' in junit and "pending manual grading (10 points)" in junit
    assert all(t["status"] != "pass" for t in classroom_result(typed)["tests"]
               if "pending" in t["name"])

    row = Row(student="ada", rubric="simple_cnn", status="graded", score=solution["score"],
              max_score=solution["max_score"], accuracy=None, baseline_accuracy=None,
              gain_pp=None, failure_code=None, failure_message=None, results=typed)
    header, body = grades_table([row])
    assert body[0][header.index(answer["name"])] == "pending"
    assert body[0][header.index("pending_manual_points")] == 10
    header, body = canvas_table([row])
    manual = [h for h in header if h.endswith("(graded by hand)")]
    assert len(manual) == 1 and body[0][header.index(manual[0])] == 10 \
        and body[1][header.index(manual[0])] == ""
    json.dumps(solution)


def test_the_template_skeleton_runs_and_teaches(graded):
    _, template = graded
    assert template["status"] == "graded"  # runnable as is: it trains
    tests = {t["tags"][0]: t for t in template["tests"]}
    assert tests["layer1_shape"]["status"] == "passed" and tests["layer1_params"]["status"] == "passed"
    assert "nn.Identity() placeholder" in tests["layer2_shape"]["output"]
    assert "no entry for `layer2`" in tests["layer2_count"]["output"]
    assert template["model"]["first_wrong"]["module"] == "layer2"
    assert tests["xray_answer"]["answer"] is None


def test_a_submission_without_the_exercise_hook_is_told_what_to_define(
        tmp_path, cifar_tree, session_cache):
    lone = tmp_path / "tinycnn_only.py"
    lone.write_text("EPOCHS = 2\n")
    results = grade_submission(submission=lone, rubric=RUBRIC, data_dir=cifar_tree, quick=True,
                               cache_dir=session_cache).dump()
    assert results["failure"]["code"] == "missing_hook"
    assert "build_simple_cnn(info)" in results["failure"]["message"]
    assert results["pending_points"] == 10
