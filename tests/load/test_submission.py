import shutil
import zipfile

import pytest

from conftest import REPO, SUBMISSIONS
from grader.failures import SubmissionError
from grader.load.submission import load_submission
from support.notebooks import COLAB, write_notebook


def test_package_folder(template_copy, tmp_path):
    (template_copy / "scratch.py").write_text("x = 1\n")
    sub = load_submission(template_copy, tmp_path / "work")
    assert sub.kind == "package" and sub.name == "student"
    assert sorted(p.name for p in sub.source.iterdir()) == [
        "__init__.py", "improvements.py", "model.py", "scratch.py", "transforms.py"]
    assert any(n.startswith("scratch.py: not imported by") for n in sub.notes)


def test_helper_modules_and_packages_come_along_but_never_hide_a_library(template_copy, tmp_path):
    (template_copy / "model.py").write_text("from vgg import VGG\nfrom models.resnet import R\n"
                                            "def build_model(info):\n    return VGG()\n")
    (template_copy / "vgg.py").write_text("class VGG:\n    pass\n")
    (template_copy / "models").mkdir()
    (template_copy / "models" / "__init__.py").write_text("")
    (template_copy / "models" / "resnet.py").write_text("R = 1\n")
    (template_copy / "random.py").write_text("x = 1\n")  # would hide Python's random
    (template_copy / "venv" / "lib").mkdir(parents=True)  # not a package: left behind
    (template_copy / "venv" / "lib" / "site.py").write_text("x = 1\n")
    sub = load_submission(template_copy, tmp_path / "work")
    copied = sorted(p.relative_to(sub.source).as_posix() for p in sub.source.rglob("*.py"))
    assert copied == ["__init__.py", "improvements.py", "model.py", "models/__init__.py",
                      "models/resnet.py", "transforms.py", "vgg.py"]
    assert any("random.py (it would hide Python's or the grader's own module `random`" in n
               for n in sub.notes)
    assert not any("vgg.py" in n for n in sub.notes)  # imported: nothing to say
    before = sub.digest
    (template_copy / "models" / "resnet.py").write_text("R = 2\n")
    assert load_submission(template_copy, tmp_path / "again").digest != before


def test_single_file_keeps_its_name_in_a_folder_of_its_own(tmp_path):
    src = tmp_path / "torch.py"  # imported from a folder that is not on sys.path: shadows nothing
    shutil.copy(REPO / "reference" / "strong.py", src)
    sub = load_submission(src, tmp_path / "work")
    assert sub.kind == "file" and sub.source.name == "torch.py" and sub.name == "torch"
    assert [p.name for p in sub.source.parent.iterdir()] == ["torch.py"]


def test_a_zip_without_a_submission_says_what_it_holds(tmp_path):
    archive = tmp_path / "s9.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("lab/README.md", "hi")
        zf.writestr("lab/data/train.csv", "1,2")
    with pytest.raises(SubmissionError) as info:
        load_submission(archive, tmp_path / "work")
    e = info.value
    assert e.code == "no_submission" and e.message == "s9.zip holds no submission"
    assert e.got == "lab/, lab/README.md, lab/data/, lab/data/train.csv"
    assert str(tmp_path) not in str(e.to_dict())  # no private path of the grader's


def test_a_notebook_too_large_is_told_to_clear_its_outputs(tmp_path, monkeypatch):
    import grader.load.submission as submission
    monkeypatch.setattr(submission, "MAX_ARCHIVE_BYTES", 1000)
    nb = write_notebook(tmp_path / "big.ipynb", ["x = 1\n" + "# output\n" * 200])
    with pytest.raises(SubmissionError) as info:
        load_submission(nb, tmp_path / "work")
    assert info.value.code == "bad_notebook" and "too large" in info.value.message
    assert "Clear all outputs" in info.value.hint


def test_notebook_becomes_source_with_notes(tmp_path):
    sub = load_submission(write_notebook(tmp_path / "s123.ipynb", COLAB), tmp_path / "work")
    assert sub.kind == "notebook" and sub.name == "s123"
    assert "def build_optimizer" in sub.source.read_text()
    assert any("not run" in n for n in sub.notes)


def test_zip_of_a_template_folder(template_copy, tmp_path):
    archive = tmp_path / "s42.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in template_copy.iterdir():
            zf.write(f, f"my_submission/{f.name}")
        zf.writestr("__MACOSX/._model.py", "junk")
    sub = load_submission(archive, tmp_path / "work")
    assert sub.kind == "package in zip" and sub.name == "s42"


def test_same_content_same_digest(template_copy, tmp_path):
    a = load_submission(template_copy, tmp_path / "a")
    b = load_submission(template_copy, tmp_path / "b")
    (template_copy / "improvements.py").write_text("EPOCHS = 6\n")
    c = load_submission(template_copy, tmp_path / "c")
    assert a.digest == b.digest != c.digest


@pytest.mark.parametrize("entry", ["../evil.py", "/abs/evil.py"])
def test_zip_entries_outside_the_folder_are_refused(tmp_path, entry):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(entry, "x = 1")
    with pytest.raises(SubmissionError) as info:
        load_submission(archive, tmp_path / "work")
    assert info.value.code == "bad_archive"
    assert not (tmp_path / "evil.py").exists()


def test_not_a_zip(tmp_path):
    bad = tmp_path / "s1.zip"
    bad.write_text("hello")
    with pytest.raises(SubmissionError) as info:
        load_submission(bad, tmp_path / "work")
    assert info.value.code == "bad_archive"


def test_folder_without_a_submission_says_what_it_expected(tmp_path):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    with pytest.raises(SubmissionError) as info:
        load_submission(tmp_path, tmp_path / "work")
    e = info.value
    assert e.code == "no_submission" and "a.py, b.py" in e.got and "student_template" in e.hint


def test_missing_path(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        load_submission(tmp_path / "nope", tmp_path / "work")


def test_oversized_source_is_refused_before_it_runs(tmp_path):
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 1_000_000)
    with pytest.raises(SubmissionError, match="too large"):
        load_submission(big, tmp_path / "work")


def test_fixture_submissions_are_loadable():
    assert len(list(SUBMISSIONS.glob("*.py"))) >= 10


def test_a_hook_file_that_is_a_symbolic_link_is_refused(template_copy, tmp_path):
    secret = tmp_path / "grader_secret.py"  # e.g. a cloned repo linking to the grader's files
    secret.write_text("KEY = 'private'\n")
    (template_copy / "model.py").unlink()
    (template_copy / "model.py").symlink_to(secret)
    with pytest.raises(SubmissionError) as e:
        load_submission(template_copy, tmp_path / "work")
    assert "model.py is a symbolic link" in str(e.value)
