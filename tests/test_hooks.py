"""Hook loading runs in the child in production; here the fixtures are trusted."""
import pytest

from conftest import REPO, SUBMISSIONS
from grader.failures import SubmissionError
from grader.sandbox.hooks import HOOK_NAMES, load_hooks

REFERENCE = REPO / "reference" / "baseline.py"


def test_template_defines_every_hook():
    hooks = load_hooks(REPO / "student_template", REFERENCE)
    assert hooks.customised == list(HOOK_NAMES)
    assert hooks.EPOCHS == 5 and hooks.BATCH_SIZE == 128 and hooks.SCHEDULER_STEP == "epoch"


def test_missing_hooks_fall_back_to_the_baseline():
    hooks = load_hooks(SUBMISSIONS / "passes_only_optimizer_changed.py", REFERENCE)
    assert hooks.customised == ["build_optimizer", "EPOCHS"]
    assert hooks.EPOCHS == 3 and hooks.BATCH_SIZE == 128
    assert hooks.build_model.__module__ == "_grader_reference"


def test_package_files_may_import_each_other(tmp_path):
    (tmp_path / "model.py").write_text("from torch import nn\nclass Net(nn.Linear):\n    pass\n"
                                       "def build_model(info):\n    return Net(1, 1)\n")
    (tmp_path / "improvements.py").write_text("from .model import Net\nfrom model import Net as N2\n"
                                              "EPOCHS = 2\n")
    hooks = load_hooks(tmp_path, REFERENCE)
    assert hooks.customised == ["build_model", "EPOCHS"]


def test_near_miss_names_get_a_note():
    hooks = load_hooks(SUBMISSIONS / "passes_misnamed_hook.py", REFERENCE)
    assert "build_model" not in hooks.customised
    text = " ".join(hooks.notes)
    assert "`build_models` looks like the hook `build_model`" in text
    assert "`epochs` looks like the hook `EPOCHS`" in text


@pytest.mark.parametrize("name,code,words", [
    ("fails_syntax_error.py", "syntax_error", "line 5"),
    ("fails_missing_module.py", "import_error", "timm_not_installed_anywhere"),
    ("fails_wrong_signature.py", "bad_hook", "build_model takes the wrong arguments"),
])
def test_broken_submissions_raise_typed_failures(name, code, words):
    with pytest.raises(SubmissionError) as info:
        load_hooks(SUBMISSIONS / name, REFERENCE)
    assert info.value.code == code
    assert words in info.value.message or words in str(info.value.to_dict())


@pytest.mark.parametrize("line,expected", [
    ("EPOCHS = 0", "a whole number >= 1"),
    ("EPOCHS = 2.5", "a whole number >= 1"),
    ("BATCH_SIZE = True", "a whole number >= 1"),
    ("SCHEDULER_STEP = 'step'", '"epoch" or "batch"'),
    ("GRAD_CLIP_NORM = -1", "None or a positive number"),
    ("EARLY_STOPPING_PATIENCE = 0", "None or a whole number >= 1"),
    ("build_loss = 3", "a function"),
])
def test_invalid_constants_are_bad_hooks(tmp_path, line, expected):
    f = tmp_path / "s.py"
    f.write_text(line + "\n")
    with pytest.raises(SubmissionError) as info:
        load_hooks(f, REFERENCE)
    e = info.value
    assert e.code == "bad_hook"
    assert expected in (e.expected or "") or expected in e.message


def test_import_time_crash_says_to_keep_definitions_only(tmp_path):
    f = tmp_path / "s.py"
    f.write_text("def helper():\n    return 1 / 0\n\nhelper()\n")
    with pytest.raises(SubmissionError) as info:
        load_hooks(f, REFERENCE)
    e = info.value
    assert e.code == "import_error" and "ZeroDivisionError" in e.message
    assert "s.py" in e.trace and "helper" in e.trace
