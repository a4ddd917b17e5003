"""Hook loading runs in the child in production; here the fixtures are trusted."""
import pytest

from conftest import REPO, SUBMISSIONS
from grader.failures import SubmissionError
from grader.sandbox.hooks import HOOK_NAMES, load_hooks

REFERENCE = REPO / "reference" / "baseline.py"


def test_template_defines_every_hook_and_changes_none():
    """Its hooks are copies of the baseline's (with comments that teach): not changes."""
    hooks = load_hooks(REPO / "student_template", REFERENCE)
    assert all(name in hooks.values for name in HOOK_NAMES)
    assert hooks.customised == []
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


NET = ("from torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
       "        self.fc = nn.Linear(784, 10)\n\n    def forward(self, x):\n        return self.fc(x.flatten(1))\n")


def test_a_submission_without_any_hook_fails_and_names_its_model(tmp_path):
    f = tmp_path / "my_lab.py"
    f.write_text(NET + "\ndef train(model):\n    pass\n\nepochs = 10\n")
    with pytest.raises(SubmissionError) as info:
        load_hooks(f, REFERENCE)
    e = info.value
    assert e.code == "missing_hook"
    assert e.message == ("no hooks in my_lab.py; `Net` looks like a model (an nn.Module subclass): "
                         "define build_model(info) returning it")
    assert e.got == "classes Net; functions train"
    assert "return Net()" in e.hint and "`epochs` looks like `EPOCHS`" in e.hint


@pytest.mark.parametrize("text", ["", "import torch\nx = torch.zeros(1)\n"])
def test_an_empty_or_definition_free_file_fails_too(tmp_path, text):
    f = tmp_path / "s.py"
    f.write_text(text)
    with pytest.raises(SubmissionError) as info:
        load_hooks(f, REFERENCE)
    assert info.value.code == "missing_hook" and "defines none of the names" in info.value.message


def test_one_constant_is_a_hook_and_a_model_left_unused_gets_a_note(tmp_path):
    f = tmp_path / "s.py"
    f.write_text(NET + "\nEPOCHS = 3\n")
    hooks = load_hooks(f, REFERENCE)
    assert hooks.customised == ["EPOCHS"]
    assert any("`Net` is a model" in n and "build_model(info)" in n for n in hooks.notes)


def test_a_single_file_named_like_a_library_shadows_nothing(tmp_path):
    f = tmp_path / "torchvision.py"
    f.write_text("from torchvision import transforms as T\n\ndef build_test_transform(info):\n"
                 "    return T.ToTensor()\n")
    hooks = load_hooks(f, REFERENCE)
    assert hooks.customised == ["build_test_transform"]


def test_every_missing_import_is_reported_at_once_with_its_file_and_line(tmp_path):
    (tmp_path / "model.py").write_text("import torch\nimport timm\nfrom vgg import VGG\n"
                                       "def build_model(info):\n    return VGG()\n")
    (tmp_path / "vgg.py").write_text("from torch import nn\nimport albumentations as A\n"
                                     "class VGG(nn.Module):\n    pass\n")
    (tmp_path / "improvements.py").write_text("try:\n    import wandb\nexcept ImportError:\n"
                                              "    wandb = None\nimport lion_pytorch\n")
    with pytest.raises(SubmissionError) as info:
        load_hooks(tmp_path, REFERENCE)
    e = info.value
    assert e.code == "import_error" and e.got == "timm, lion_pytorch, albumentations"
    assert "`timm` (model.py, line 2)" in e.message and "`albumentations` (vgg.py, line 2)" in e.message
    assert "`lion_pytorch` (improvements.py, line 5)" in e.message and "wandb" not in e.message
    assert "beside model.py" in e.hint


def test_a_helper_module_beside_model_py_is_importable(tmp_path):
    (tmp_path / "model.py").write_text("from vgg import make\nfrom .vgg import make as again\n"
                                       "def build_model(info):\n    return make()\n")
    (tmp_path / "vgg.py").write_text("from torch import nn\ndef make():\n    return nn.Flatten()\n")
    assert load_hooks(tmp_path, REFERENCE).customised == ["build_model"]


def test_a_notebook_s_syntax_and_import_errors_name_its_cells(tmp_path):
    from grader.load.notebook import notebook_to_source
    from support.notebooks import write_notebook
    source, _ = notebook_to_source(write_notebook(tmp_path / "lab.ipynb", [
        "import torch", "EPOCHS = 2\ndef build_loss():\n    return torch.nn.CrossEntropyLoss()",
        "import timm"]))
    f = tmp_path / "lab.py"
    f.write_text(source)
    with pytest.raises(SubmissionError) as info:
        load_hooks(f, REFERENCE)
    assert info.value.message == ("lab.ipynb, cell 4, line 1 imports `timm`, which is not "
                                  "installed where it is graded")
    assert "Delete these imports" in info.value.hint


def test_a_changed_model_class_counts_as_a_changed_build_model(template_copy):
    model = template_copy / "model.py"
    model.write_text(model.read_text().replace("nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU()",
                                               "nn.Conv2d(in_channels, 32, 3, padding=1), "
                                               "nn.BatchNorm2d(32), nn.ReLU()"))
    improvements = template_copy / "improvements.py"
    improvements.write_text(improvements.read_text().replace("lr=3e-3", "lr=1e-3"))
    hooks = load_hooks(template_copy, REFERENCE)
    assert hooks.customised == ["build_model", "build_optimizer"]
