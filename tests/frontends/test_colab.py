"""The grader from a notebook cell (grader.colab): finding the running notebook (Colab's
request, an explicit path with spaces, Jupyter's session, Drive), the generated notebook
templates, the loader leaving the API's own cells out, the one-line progress, and the
template run top to bottom in a fresh kernel as a Colab student would (nbclient)."""
from __future__ import annotations

import ast
import io
import json
import zipfile

import nbformat
import pytest

from conftest import REPO
from grader.commands import notebook as colab_api
from grader.failures import SubmissionError
from grader.load import notebook_template
from grader.load.notebook import notebook_to_source
from grader.report.notebook import OneLineProgress


def _nb_bytes(*cells: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lab")] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb).encode()


class FakeColab:
    """google.colab._message as Colab's kernel has it: the frontend answers get_ipynb."""
    def __init__(self, reply=None, error=None):
        self.reply, self.error, self.asked = reply, error, []

    def blocking_request(self, kind, request="", timeout_sec=None):
        self.asked.append((kind, timeout_sec))
        if self.error:
            raise self.error
        return self.reply


def test_colab_s_own_request_gives_the_open_notebook_and_its_name(tmp_path):
    nb = json.loads(_nb_bytes("EPOCHS = 7"))
    nb["metadata"]["colab"] = {"name": "my lab (copy).ipynb"}
    fake = FakeColab({"ipynb": nb})
    got = colab_api.find_notebook(colab=fake, env={}, user_ns={}, drive=tmp_path / "none")
    assert (got.how, got.name) == ("colab", "my lab (copy).ipynb")
    assert fake.asked[0][0] == "get_ipynb"
    assert "".join(json.loads(got.content)["cells"][1]["source"]) == "EPOCHS = 7"


def test_a_silent_or_failing_colab_falls_back_to_jupyter_s_session_file(tmp_path):
    path = tmp_path / "lab.ipynb"
    path.write_bytes(_nb_bytes("EPOCHS = 2"))
    for fake in (FakeColab(None), FakeColab(error=TimeoutError("no frontend")),
                 FakeColab({"error": "nope"})):
        got = colab_api.find_notebook(colab=fake, env={"JPY_SESSION_NAME": str(path)}, user_ns={},
                                      drive=tmp_path / "none")
        assert (got.how, got.path) == ("jupyter", path)
    # ipykernel's __session__ (and VS Code's __vsc_ipynb_file__) where the variable is not set
    got = colab_api.find_notebook(colab=FakeColab(None), env={}, user_ns={"__session__": str(path)},
                                  drive=tmp_path / "none")
    assert got.how == "jupyter" and got.content == path.read_bytes()


def test_an_explicit_path_with_spaces_wins_over_everything(tmp_path):
    folder = tmp_path / "drive" / "MyDrive" / "Colab Notebooks"
    folder.mkdir(parents=True)
    path = folder / "Lab 3 – TinyCNN.ipynb"
    path.write_bytes(_nb_bytes("EPOCHS = 4"))
    got = colab_api.find_notebook(str(path), colab=FakeColab({"ipynb": {}}), env={}, user_ns={})
    assert (got.how, got.name, got.path) == ("path", "Lab 3 – TinyCNN.ipynb", path)
    with pytest.raises(SubmissionError) as info:
        colab_api.find_notebook(folder / "missing one.ipynb")
    assert "missing one.ipynb does not exist" in info.value.message


def test_drive_s_most_recently_saved_notebook_is_the_last_resort(tmp_path, capsys):
    import os
    drive = tmp_path / "Colab Notebooks"
    drive.mkdir()
    old, new = drive / "old lab.ipynb", drive / "new lab.ipynb"
    old.write_bytes(_nb_bytes("EPOCHS = 1"))
    new.write_bytes(_nb_bytes("EPOCHS = 2"))
    os.utime(old, (1_000_000, 1_000_000))
    got = colab_api.find_notebook(colab=FakeColab(None), env={}, user_ns={}, drive=drive)
    assert (got.how, got.path) == ("drive", new)
    assert "new lab.ipynb, the most recently saved notebook" in capsys.readouterr().out
    with pytest.raises(SubmissionError) as info:
        colab_api.find_notebook(colab=FakeColab(None), env={}, user_ns={}, drive=tmp_path / "no")
    assert "check(path=" in info.value.hint


def test_a_mounted_drive_keeps_the_data_and_baselines_unless_the_cache_is_set(
        tmp_path, monkeypatch, capsys):
    """Colab's VM forgets everything between sessions; a mounted Drive does not. The
    download, the decoded data and the baseline's runs go there (said once), unless the
    course set GRADER_CACHE_DIR; without Drive the grader's own default stands."""
    monkeypatch.delenv("GRADER_CACHE_DIR", raising=False)
    monkeypatch.setattr(colab_api, "_said", {})
    drive = tmp_path / "MyDrive"
    assert colab_api.cache_folder(drive) is None  # not mounted
    drive.mkdir()
    assert colab_api.cache_folder(drive) == drive / "tinycnn-grader-cache"
    assert colab_api.cache_folder(drive) == drive / "tinycnn-grader-cache"
    assert capsys.readouterr().out.count("kept on your Drive") == 1
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "course-cache"))
    assert colab_api.cache_folder(drive) is None  # the course's setting wins


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_committed_notebook_templates_are_the_generated_ones(lang):
    """Regenerate with `python -m grader.load.notebook_template` after editing the template."""
    assert notebook_template.target(lang).read_text(encoding="utf-8") == notebook_template.render(lang)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_notebook_template_defines_the_template_s_hooks_and_nothing_else(lang, tmp_path):
    path = notebook_template.target(lang)
    source, notes = notebook_to_source(path)
    ns: dict = {}
    exec(compile(source, "template", "exec"), ns)  # the project's own template, not student code
    folder = REPO / notebook_template.TEXT[lang]["folder"]
    for name in ("build_train_transform", "build_model", "build_optimizer", "build_loss",
                 "build_scheduler", "EPOCHS", "BATCH_SIZE", "PARAMETER_COUNTS"):
        assert name in ns, name
    kept = {ast.dump(node) for node in ast.parse(source).body}
    for stem in notebook_template.FILES:  # every statement of the folder's files is in a cell
        body = ast.parse((folder / f"{stem}.py").read_text()).body[1:]  # less the docstring
        assert all(ast.dump(node) in kept for node in body), stem
    # the API's cells (set-up, check, export) are left out without a word; the set-up's
    # %pip line is the only note
    assert "colab" not in source.split("\n", 3)[3]
    assert len(notes) == 1 and "%pip install" in notes[0] and "cell 2" in notes[0], notes
    setup = nbformat.read(str(path), as_version=4).cells[1].source
    assert "from grader import colab" in setup and "torch" not in setup.split("%pip", 1)[1].split("\n")[0].replace(
        notebook_template.INSTALL, "")


def test_the_notebook_api_s_statements_are_dropped_silently_and_other_statements_are_not(tmp_path):
    path = tmp_path / "lab.ipynb"
    path.write_bytes(_nb_bytes("from grader.colab import check\nr = check(rubric='tiny')\nprint(r)",
                               "import grader\ngrader.colab.export()"))
    source, notes = notebook_to_source(path)
    assert "check" not in source and "grader" not in source.split("\n", 3)[3]
    assert notes == ["cell 2: not run: print(r)"]


def test_one_line_progress_writes_one_updating_line_at_a_bounded_rate():
    out, now = io.StringIO(), [0.0]
    with OneLineProgress(stream=out, clock=lambda: now[0]) as p:
        p("student", {"event": "run_start", "seed": 0})
        p("student", {"event": "train_start", "steps_per_epoch": 100, "epochs": 1, "seed": 0})
        for step in range(1, 101):  # 100 steps within 0.1 s: at most one redraw
            now[0] += 0.001
            p("student", {"event": "step", "epoch": 1, "step": step, "loss": 2.0, "seed": 0})
        p("student", {"event": "run_end", "failure": None, "accuracy": 0.5, "seed": 0})
        p("student", {"event": "step", "epoch": "x"})  # garbled: ignored
    text = out.getvalue()
    assert text.count("\r") <= 3 and text.endswith("\n") and "\n" not in text[:-1]
    assert "student (seed 0): test accuracy 50.00%" in text.rsplit("\r", 1)[1]


def test_one_line_progress_keeps_side_by_side_seeds_apart():
    """`grade calibrate --workers 2` trains two baseline seeds at once: each seed's events
    go to its own part, and a seed that ended gives way to the next of its kind."""
    out, now = io.StringIO(), [0.0]
    with OneLineProgress(stream=out, clock=lambda: now[0]) as p:
        for seed in (0, 1):
            p("baseline", {"event": "run_start", "seed": seed})
            p("baseline", {"event": "train_start", "steps_per_epoch": 10, "epochs": 5, "seed": seed})
        p("baseline", {"event": "run_end", "failure": None, "accuracy": 0.61, "seed": 1})
        p("baseline", {"event": "step", "epoch": 3, "step": 1, "loss": 1.5, "seed": 0})
        assert p.line() == ("baseline (seed 0): epoch 3/5  loss 1.500 | "
                            "baseline (seed 1): test accuracy 61.00%")
        p("baseline", {"event": "run_start", "seed": 2})
        assert p.line() == "baseline (seed 0): epoch 3/5  loss 1.500 | baseline (seed 2): starting"


def test_a_broken_build_model_shows_the_failure_with_its_cell_and_line(
        tmp_path, tiny_rubric, fmnist_dir, cache_dir, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nb = tmp_path / "my lab.ipynb"
    nb.write_bytes(_nb_bytes("from torch import nn",
                             "def build_model(info):\n    x = 1\n    return nn.Linear(info.num_classes)",
                             "from grader import colab\ncolab.check()"))
    result = colab_api.check(str(tiny_rubric), path=nb, data_dir=fmnist_dir, device="cpu")
    shown = capsys.readouterr().out
    assert result.results.failure is not None and result.status == 3
    assert "Could not be graded" in shown and "my lab.ipynb, cell 3, line 3" in shown
    assert "Score " in shown.splitlines()[-2]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_template_runs_top_to_bottom_in_a_fresh_kernel(lang, tmp_path, cifar_tree, cache_dir,
                                                           monkeypatch):
    """As a Colab student would, nbclient in place of Colab: ends with a printed score, a
    picture inline and the hand-in file, which `grade --local` scores the same."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    work = tmp_path / "My Drive"
    work.mkdir()
    path = work / notebook_template.target(lang).name
    path.write_bytes(notebook_template.target(lang).read_bytes())
    monkeypatch.setenv("GRADER_DATA_DIR", str(cifar_tree))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))   # what jupyter_server sets
    nb = nbformat.read(str(path), as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert ("Score " if lang == "en" else "점수 ") in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the curves inline"
    assert not any(o.output_type == "error" for o in outputs)
    streams = [o for o in outputs if o.output_type == "stream"]
    assert len(json.dumps([o for o in outputs if "image/png" not in o.get("data", {})])) < 200_000
    assert len(streams) < 40, "progress is one updating line, not a stream of redraws"
    handin = work / f"{path.stem}-handin.ipynb"
    assert handin.is_file() and handin.read_bytes() == path.read_bytes()
    checked = json.loads((work / "grade-report" / "results.json").read_text())
    assert checked["metrics"]["gain_pp"] == 0
    from grader import cli
    out = tmp_path / "cli-report"
    assert cli.main(["--local", str(handin), "--quick", "--out", str(out),
                     "--data-dir", str(cifar_tree)]) == 0
    assert json.loads((out / "results.json").read_text())["score"] == checked["score"]


def test_export_as_zip_holds_the_notebook_and_its_answers():
    content = json.dumps(notebook_template.build("en")).encode()
    nb = colab_api.Notebook("lab.ipynb", content, "path")
    with zipfile.ZipFile(io.BytesIO(colab_api._zipped(nb))) as z:
        assert z.read("lab.ipynb") == content
        answers = z.read("answers.md").decode()
    assert answers.startswith("# Written answers") and "## xray_answer:" in answers
    assert "Hand in" not in answers


@pytest.mark.gpu
def test_the_notebook_check_trains_on_cuda_where_there_is_one(tmp_path, fmnist_dir, tiny_rubric,
                                                               monkeypatch, capsys):
    """Colab's GPU runtime: the check of the notebook template trains on CUDA, the hooks in
    the sandboxed child as everywhere else (run where a GPU machine is lent)."""
    import torch
    if not torch.cuda.is_available():
        pytest.skip("no CUDA here")
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    graded = colab_api.check(rubric=str(tiny_rubric), quick=True, path=REPO / "student_template.ipynb",
                             data_dir=fmnist_dir, device="cuda", out=tmp_path / "report")
    assert graded.results.status == "graded", graded.results.failure
    assert graded.results.metrics.device.startswith("cuda")
    assert graded.results.metrics.gain_pp == 0  # the template is the baseline, on CUDA too
