"""Real-world submissions and bad input (issue #17), graded end to end in the sandbox on
synthetic Fashion-MNIST: each ends with the grade it earned, or a failure whose first
line names the student's own file or cell, the hook, what was expected and what was found.

The submissions live in submissions/real_world/, named by expected outcome.
"""
from __future__ import annotations

import dataclasses
import functools
import io
import json
import struct
import zipfile
import zlib
from dataclasses import asdict

import pytest
from rich.console import Console
from torch import nn

from conftest import SUBMISSIONS, TINY_RUBRIC, grade, write_rubric
from grader.failures import Failure, describe
from grader.grading import grade_submission
from grader.inspection.facts import inspect_model
from grader.load.datasets import FASHION_MNIST
from grader.rubric import load_rubric

REAL = SUBMISSIONS / "real_world"


def why(results: dict) -> str:
    """The failure of results.json's form, as the reports say it (for an assert's message)."""
    return describe(Failure(**results["failure"])) if results["failure"] else ""


# the CPU even where a GPU is: one case is a model that calls .cuda() itself
grade = functools.partial(grade, device="cpu")

# (submission, failure code, the failure's message (the first line a student reads) starts
#  with this, words the rest of the failure (expected, got, hint, trace) must hold)
FAILURES = [
    ("fails_no_hooks_own_net.ipynb", "missing_hook",
     "no hooks in fails_no_hooks_own_net.ipynb; `Net` looks like a model (an nn.Module "
     "subclass): define build_model(info) returning it",
     ["got:      classes Net; functions evaluate", "return Net()"]),
    ("fails_notebook_missing_imports.ipynb", "import_error",
     "fails_notebook_missing_imports.ipynb imports 2 modules that are not installed where it is "
     "graded: `timm` (cell 2, line 4); `albumentations` (cell 3, line 1)",
     ["Delete these imports"]),
    ("fails_notebook_dropped_transform_variable.ipynb", "hook_error",
     "build_train_transform raised NameError (fails_notebook_dropped_transform_variable.ipynb, "
     "cell 4, line 5): it uses `transform`, which cell 3, line 2 sets at the top level",
     ["constant assignments", "cell 4, line 5, in build_train_transform\n    return transform"]),
    ("fails_lazy_linear_wrong_channels.py", "forward_error",
     "model(x) raised RuntimeError in `conv1` on a batch of 2 images: Given groups=1",
     ["`conv1` is Conv2d(3, ...), but these images have 1 channel", "not counted yet: fc",
      "fails_lazy_linear_wrong_channels.py, line 17, in forward"]),
    ("fails_functional_pool_wrong_view.py", "forward_error",
     "model(x) raised RuntimeError on a batch of 2 images: shape '[-1, 400]' is invalid",
     ["12,544 per image (= 64×14×14", "F.max_pool2d",
      "fails_functional_pool_wrong_view.py, line 18, in forward"]),
    ("fails_tuple_output.py", "output_shape",
     "wrong shape: for a batch of 2 images the model returned a tuple of 2 tensors with shapes [2, 10], "
     "[2, 16], not logits of shape [2, 10]", ["`return logits`"]),
    ("fails_resnet18_over_budget.py", "too_many_parameters",
     "the model has 11,172,810 trainable parameters, over the budget of 2,000,000, so it was "
     "not trained; its largest layer is `layer4.0.conv2`, Conv2d(512→512, 3×3), with 2,359,296",
     ["Conv2d 11,158,080", "fewer channels"]),
    ("fails_pretrained_weights_download.py", "hook_error",
     "build_model raised URLError (fails_pretrained_weights_download.py, line 12): a download "
     "failed, and grading has no network", ["weights=None",
                                            "fails_pretrained_weights_download.py, line 12, in build_model"]),
    ("fails_cuda_call_in_forward.py", "forward_error",
     "model(x) asks for CUDA, but the grader runs the model on the CPU (RuntimeError: ",
     ["device=x.device", "fails_cuda_call_in_forward.py, line 1"]),  # 12, or 13 on a GPU machine
    ("fails_transform_resize_128.py", "bad_transform",
     "build_train_transform(info) makes 1×128×128 images, but fashion_mnist's images are 1×28×28",
     ["expected: [1, 28, 28]", "got:      [1, 128, 128]", "info.image_size"]),
]


@pytest.mark.parametrize("name,code,first,words", FAILURES, ids=[f[0] for f in FAILURES])
def test_a_real_world_mistake_fails_with_a_reason_the_student_can_act_on(
        name, code, first, words, tiny_rubric, fmnist_dir, session_cache):
    r = grade(REAL / name, tiny_rubric, fmnist_dir, session_cache)
    failure = r["failure"]
    assert r["status"] == "failed" and failure["code"] == code, describe(Failure(**failure))
    assert failure["message"].startswith(first), failure["message"]
    text = describe(Failure(**failure))
    for w in words:
        assert w in text, f"{w!r} not in\n{text}"
    assert describe(Failure(**failure)).splitlines()[0] in r["output"]
    assert "/tmp/" not in (failure["message"] + (failure["trace"] or ""))  # the student's names


def test_a_helper_module_beside_model_py_is_graded_with_it(tiny_rubric, fmnist_dir, session_cache):
    r = grade(REAL / "passes_resnet_style_helper_module", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", why(r)
    assert set(r["submission"]["customised_hooks"]) == {"build_model", "build_optimizer", "EPOCHS"}
    assert any(layer["name"] == "layer3.conv1" for layer in r["model"]["layers"])
    assert r["submission"]["notes"] == [
        "plot_curves.py: not imported by model.py, improvements.py, so nothing in it is graded "
        "(hooks are read from transforms.py, model.py, improvements.py)."]


def test_the_tutorial_net_that_flattens_with_view_trains(tiny_rubric, fmnist_dir, session_cache):
    """x.view after the convolutions needs NCHW memory: the batches (batched path, one
    channel) must not have channels_last's strides."""
    r = grade(REAL / "passes_tutorial_net_view_flatten.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", why(r)
    assert r["metrics"]["pipeline"] == {"train": "batched", "test": "batched"}
    assert r["model"]["layers"][-1]["name"] == "fc3"


def test_under_a_channels_last_rubric_the_view_failure_says_why_and_what_to_use(
        tmp_path, fmnist_dir, session_cache):
    rubric = write_rubric(tmp_path, text=TINY_RUBRIC.format(time_limit=120).replace(
        "quick:", "training:\n  channels_last: true\nquick:"))
    r = grade(REAL / "passes_tutorial_net_view_flatten.py", rubric, fmnist_dir, session_cache)
    failure = r["failure"]
    assert r["status"] == "failed" and failure["code"] == "training_error", failure
    assert "channels_last memory layout, where .view() cannot flatten" in failure["message"]
    assert "nn.Flatten()" in failure["hint"] and "line 22" in failure["message"]


def test_a_train_transform_alone_is_graded_with_a_note_on_normalisation(
        tiny_rubric, fmnist_dir, session_cache):
    r = grade(REAL / "passes_v2_autoaugment_train_only.py", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", why(r)
    assert r["metrics"]["pipeline"]["train"] == "per-image"  # AutoAugment: torchvision, image by image
    assert r["submission"]["notes"] == [
        "You changed build_train_transform but not build_test_transform, so test images go "
        "through the baseline's ToTensor + Normalize(mean=(0.2861,), std=(0.353,)), while your "
        "training images had Normalize(mean=(0.5,), std=(0.5,)). Define build_test_transform "
        "with the same normalisation (and the same size) as training."]


def test_a_zip_without_a_submission_names_the_zip_and_what_it_holds(
        tmp_path, tiny_rubric, fmnist_dir, session_cache):
    archive = tmp_path / "s17.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("lab3/README.md", "# my lab")
        zf.writestr("lab3/results.csv", "epoch,acc\n1,0.8\n")
    r = grade(archive, tiny_rubric, fmnist_dir, session_cache)
    assert r["failure"]["code"] == "no_submission"
    assert r["failure"]["message"] == "s17.zip holds no submission"
    assert r["failure"]["got"] == "lab3/, lab3/README.md, lab3/results.csv"
    assert str(tmp_path) not in json.dumps(r["failure"])


# --- facts: a model whose lazy layer never ran -------------------------------------------

def test_a_lazy_layer_that_never_ran_does_not_break_the_inspection():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.LazyLinear(10))
    facts, raised = inspect_model(model, (1, 28, 28), ["2"])
    assert isinstance(raised, RuntimeError)  # for the child to explain; not in the facts
    assert facts["error"]["module"] == "0" and "to have 3 channels" in facts["error"]["message"]
    assert facts["parameters"] == 3 * 3 * 3 * 8 + 8 and facts["uninitialized"] == ["2"]
    assert facts["layers"][-1]["parameters"] == 0
    ran, raised = inspect_model(model, (3, 28, 28), [])  # the same model on the right input
    assert ran["error"] is raised is None and ran["uninitialized"] == []
    assert ran["parameters"] == 224 + 8 * 26 * 26 * 10 + 10 and ran["output"] == "a tensor of shape [2, 10]"


# --- grade predict: an image that would decompress to gigabytes ---------------------------

def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims width x height 8-bit grey pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [30_000, 10_000], ids=["over-twice-the-limit", "over-the-limit"])
def test_grade_predict_refuses_a_decompression_bomb_with_exit_2(tmp_path, side):
    from grader.commands import predict
    from grader.failures import EXIT_USAGE
    run = tmp_path / "run"
    (run / "model-source").mkdir(parents=True)
    (run / "model.pt").write_bytes(b"")
    (run / "model.json").write_text(json.dumps({"info": asdict(FASHION_MNIST), "weights": "model.pt",
                                                "source": "model-source"}))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(side, side))
    out = io.StringIO()
    status = predict.main(images=[bomb], run=run, console=Console(file=out, width=300))
    assert status == EXIT_USAGE
    assert f"{bomb}: refused, the image is too large to decode safely" in out.getvalue()
    assert "Traceback" not in out.getvalue()


# --- issue #30: what students paste from papers and tutorials -----------------------------

FAILURES_30 = [
    ("fails_loss_class_without_brackets.py", "bad_hook",
     "build_loss returned the class, not an instance (fails_loss_class_without_brackets.py, "
     "line 6): write nn.CrossEntropyLoss()", ["`return nn.CrossEntropyLoss()`"]),
    ("fails_transform_pil_to_tensor_uint8.py", "bad_transform",
     "build_train_transform(info) makes uint8 tensors, but the model takes floats",
     ["fails_transform_pil_to_tensor_uint8.py, line 6", "v2.ToDtype(torch.float32, scale=True)"]),
    ("fails_transform_v2_to_image_no_dtype.py", "bad_transform",
     "build_train_transform(info) makes uint8 tensors, but the model takes floats",
     ["fails_transform_v2_to_image_no_dtype.py, line 6", "T.ToTensor()"]),
]


@pytest.mark.parametrize("name,code,first,words", FAILURES_30, ids=[f[0] for f in FAILURES_30])
def test_a_pasted_mistake_names_the_hook_the_line_and_the_fix(
        name, code, first, words, tiny_rubric, fmnist_dir, session_cache):
    test_a_real_world_mistake_fails_with_a_reason_the_student_can_act_on(
        name, code, first, words, tiny_rubric, fmnist_dir, session_cache)


# (submission, words one of its notes must hold, or None for no note)
PASSES_30 = [
    ("passes_lookahead_zero_grad_no_argument.py", None),
    ("passes_scheduler_step_takes_epoch.py", None),
    ("passes_reduce_lr_on_plateau.py",
     "build_scheduler (passes_reduce_lr_on_plateau.py, line 6) returns ReduceLROnPlateau(mode='min'): "
     "the loop steps it once an epoch with the validation loss"),
    ("passes_reduce_lr_on_plateau_max.py", "stepped once an epoch"),
    ("passes_torch_compile.py",
     "build_model (passes_torch_compile.py, line 22) returns a model wrapped by torch.compile"),
    ("passes_compiled_function_in_forward.py", None),  # torch.compile is a no-op in the child
    ("passes_module_compile_in_place.py", "returns a model wrapped by torch.compile"),
    ("passes_torch_jit_script.py", "scripted model (torch.jit.script)"),
    ("passes_averaged_model_never_updated.py",
     "build_model (passes_averaged_model_never_updated.py, line 11) returns an AveragedModel: the "
     "loop trains the model inside it but never calls update_parameters()"),
    ("passes_onecycle_stepped_per_epoch.py",
     "with SCHEDULER_STEP = \"epoch\" the loop steps it only once"),
]


@pytest.mark.parametrize("name,note", PASSES_30, ids=[p[0] for p in PASSES_30])
def test_what_follows_torchs_own_contract_is_graded(name, note, tiny_rubric, fmnist_dir, session_cache):
    r = grade(REAL / name, tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", why(r)
    notes = r["submission"]["notes"]
    if note is None:
        assert notes == []
    else:
        assert any(note in n for n in notes), notes


NOTEBOOK_FAILURES_30 = [
    ("fails_notebook_global_device_in_forward.ipynb", "forward_error",
     "model(x) raised NameError on a batch of 2 images: it uses `device`, which cell 1, line 4 "
     "sets at the top level of the notebook", ["device=x.device", "cell 2, line 9, in forward"]),
    ("fails_notebook_hook_uses_trainset.ipynb", "hook_error",
     "build_model raised NameError (fails_notebook_hook_uses_trainset.ipynb, cell 3, line 2): it "
     "uses `trainset`, which cell 2, line 2 sets to a data set or loader",
     ["info.num_classes", "outside the hooks"]),
]


@pytest.mark.parametrize("name,code,first,words", NOTEBOOK_FAILURES_30,
                         ids=[f[0] for f in NOTEBOOK_FAILURES_30])
def test_a_notebook_global_is_explained_with_a_fix_that_works_in_the_grader(
        name, code, first, words, tiny_rubric, fmnist_dir, session_cache):
    test_a_real_world_mistake_fails_with_a_reason_the_student_can_act_on(
        name, code, first, words, tiny_rubric, fmnist_dir, session_cache)
    failure = grade(REAL / name, tiny_rubric, fmnist_dir, session_cache)["failure"]
    assert "download" not in (failure["hint"] or "").lower()  # never: build the data in the hook
    assert "Run the model on a dummy batch yourself" not in (failure["hint"] or "")


def test_hooks_under_a_main_guard_in_a_notebook_are_taken_with_a_note(
        tiny_rubric, fmnist_dir, session_cache):
    r = grade(REAL / "passes_notebook_hooks_under_main_guard.ipynb", tiny_rubric, fmnist_dir,
              session_cache)
    assert r["status"] == "graded", why(r)
    assert set(r["submission"]["customised_hooks"]) == {"build_optimizer", "build_train_transform", "EPOCHS"}
    assert any('inside `if __name__ == "__main__":` were taken' in n for n in r["submission"]["notes"])


def test_a_notebook_with_a_bom_and_a_cp949_model_py_are_graded(tiny_rubric, fmnist_dir, session_cache):
    r = grade(REAL / "passes_notebook_with_utf8_bom.ipynb", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", why(r)
    assert "build_optimizer" in r["submission"]["customised_hooks"]
    r = grade(REAL / "passes_cp949_model_py", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", why(r)
    assert "build_model" in r["submission"]["customised_hooks"]
    assert r["submission"]["notes"][0].startswith(
        "model.py is saved in the Korean Windows encoding (CP949/EUC-KR), not UTF-8 (line 1 is "
        "the first that differs): it was graded after converting it to UTF-8.")


def test_a_source_in_no_known_encoding_is_refused_naming_the_file_and_line(
        tmp_path, tiny_rubric, fmnist_dir, session_cache):
    path = tmp_path / "latin.py"
    path.write_bytes(b"EPOCHS = 2\n# caf\xe9 \xff\n")
    r = grade(path, tiny_rubric, fmnist_dir, session_cache)
    assert r["failure"]["code"] == "syntax_error"
    assert r["failure"]["message"] == "latin.py is not UTF-8 text (byte 0xe9 on line 2): save it as UTF-8"


def test_quick_runs_one_seed_whatever_the_seed_policy_and_says_its_interval_is_a_smoke_runs(
        tmp_path, fmnist_dir):
    """--quick promises about a minute: min 2 seeds (up to 4 while the interval straddles a
    tier) would train the student and the baseline up to 4 times each."""
    from grader.grading import calibrate
    from grader.report.rows import gain_summary
    text = TINY_RUBRIC.format(time_limit=120).replace(
        "  trains_points: 15\n", "  trains_points: 15\n  seeds: {min: 2, max: 4, undecided: lower}\n")
    rubric = load_rubric(str(write_rubric(tmp_path, text=text.replace("calibration_seeds: 2",
                                                                     "calibration_seeds: 4"))))
    cache = tmp_path / "cache"
    calibrate(rubric=rubric, seeds=2, data_dir=fmnist_dir, quick=True, device="cpu", cache_dir=cache)
    r = grade_submission(submission=SUBMISSIONS / "passes_only_optimizer_changed.py", rubric=rubric,
                         data_dir=fmnist_dir, cache_dir=cache, quick=True, device="cpu")
    m = r.metrics
    assert r.status == "graded", describe(r.failure)
    assert len(m.per_seed) == 1 and m.extra_seeds == 0 and m.smoke_run is True
    assert m.gain_interval_pp is not None
    # (synthetic images: this run is the baseline's own; a gain with an interval says so)
    assert gain_summary(dataclasses.replace(m, gain_pp=1.0, gain_interval_pp=[0.5, 1.5],
                                            gain_method="calibrated")) == (
        "+1.00 pp, 95% interval [+0.50, +1.50] (a --quick smoke run's: one seed on a subset, not "
        "the grade's)")


def test_an_error_of_the_grader_itself_exits_4_not_3():
    """README: a grader error is the grader's, never charged to the student as ungradable."""
    from grader.failures import EXIT_INTERNAL, EXIT_UNGRADABLE, exit_status
    from support.results import golden
    broken = golden("failed")
    broken.failure = dataclasses.replace(broken.failure, code="grader_error")
    assert exit_status(broken, None) == EXIT_INTERNAL
    broken.failure = dataclasses.replace(broken.failure, code="hook_error")
    assert exit_status(broken, None) == EXIT_UNGRADABLE


def test_the_new_messages_speak_korean(tiny_rubric, fmnist_dir, session_cache):
    """The encoding note and a pasted mistake's message, in a Korean run."""
    from grader import i18n
    i18n.use("ko")
    try:
        cp949 = grade(REAL / "passes_cp949_model_py", tiny_rubric, fmnist_dir, session_cache)
        loss = grade(REAL / "fails_loss_class_without_brackets.py", tiny_rubric, fmnist_dir, session_cache)
    finally:
        i18n.use("en")
    assert cp949["submission"]["notes"][0].startswith(
        "model.py은(는) UTF-8이 아니라 한국어 Windows 인코딩(CP949/EUC-KR)으로 저장되어 있습니다")
    assert loss["failure"]["message"] == (
        "build_loss가 인스턴스가 아니라 클래스를 반환했습니다 (fails_loss_class_without_brackets.py, "
        "line 6): nn.CrossEntropyLoss()로 쓰세요")
