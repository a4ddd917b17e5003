"""Exit codes and outputs of `grade`, as a student or CI sees them."""
import json
import subprocess
import sys

import pytest

from conftest import REPO, SUBMISSIONS, write_rubric
from grader.cli import main


@pytest.fixture
def args(tiny_rubric, fmnist_dir, tmp_path, cache_dir):
    return ["--rubric", str(tiny_rubric), "--data-dir", str(fmnist_dir), "--out", str(tmp_path / "out")]


def test_graded_exits_0_and_writes_reports(args, tmp_path, capsys):
    assert main(["--local", str(REPO / "student_template"), "--quick", *args]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["status"] == "graded"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "UNOFFICIAL" in report and "## Rubric" in report and "## Model summary" in report
    last = capsys.readouterr().out.replace("\n", "").split("Reports: ")[-1]
    for name in ("results.json", "report.md", "report.html"):  # every report it wrote
        assert str(tmp_path / "out" / name) in last


def test_under_fail_under_exits_1(args):
    assert main(["--local", str(REPO / "student_template"), "--quick", "--fail-under", "1000", *args]) == 1


def test_ungradable_submission_exits_3_with_a_report(args, tmp_path):
    assert main(["--local", str(SUBMISSIONS / "fails_syntax_error.py"), *args]) == 3
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["failure"]["code"] == "syntax_error" and results["score"] == 0


def test_invalid_rubric_exits_2(tmp_path, capsys, cache_dir):
    bad = write_rubric(tmp_path, text="name: x\nbogus: 1\n")
    assert main(["--local", ".", "--rubric", str(bad)]) == 2
    assert "bogus: unknown key" in capsys.readouterr().err


def test_missing_data_exits_2_with_where_to_put_it(tmp_path, tiny_rubric, capsys, cache_dir, monkeypatch):
    import grader.load.datasets
    monkeypatch.setattr(grader.load.datasets, "_download", lambda *a: (_ for _ in ()).throw(OSError("offline")))
    code = main(["--local", str(REPO / "student_template"), "--rubric", str(tiny_rubric),
                 "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "FashionMNIST/raw/train-images-idx3-ubyte" in err and "offline" in err


def test_no_mode_is_bad_usage(capsys):
    assert main([]) == 2
    assert "grade --local" in capsys.readouterr().err


def test_json_mode_prints_only_results(args, tmp_path):
    cmd = [sys.executable, "-m", "grader.cli", "--local", str(REPO / "student_template"), "--quick",
           "--json", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "graded"


@pytest.mark.parametrize("mode,words", [("required", "is not a sandbox mode"),
                                        ("bwrap", "bubblewrap is missing"),
                                        ("landlock", "no Landlock")])
def test_a_sandbox_mode_that_cannot_be_honoured_is_refused_at_start(
        mode, words, args, monkeypatch, capsys):
    from grader.sandbox import confine, landlock
    monkeypatch.setattr(confine.bwrap, "bwrap_works", lambda: False)  # as inside most containers
    monkeypatch.setattr(landlock, "abi", lambda: 0)  # as on a kernel older than 5.13
    monkeypatch.setenv("GRADER_SANDBOX", mode)
    assert main(["--local", str(REPO / "student_template"), "--quick", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_the_terminal_progress_keeps_side_by_side_seeds_apart():
    """`grade calibrate --workers 2` trains two baseline seeds at once: each seed's row gets
    its own epochs and its own accuracy (they once landed on whichever row started last)."""
    import io

    from rich.console import Console

    from grader.report.terminal import LiveProgress
    console = Console(file=io.StringIO(), width=120, force_terminal=False)
    with LiveProgress(console) as p:
        for seed in (3, 4):
            p("baseline", {"event": "run_start", "seed": seed})
            p("baseline", {"event": "train_start", "steps_per_epoch": 10, "epochs": 5, "seed": seed})
        p("baseline", {"event": "epoch", "epoch": 1, "train_loss": 1.8, "val_accuracy": 0.4,
                       "seconds": 20.0, "seed": 3})
        p("baseline", {"event": "run_end", "failure": None, "accuracy": 0.6050, "seed": 3})
        p("baseline", {"event": "run_end", "failure": None, "accuracy": 0.4597, "seed": 4})
        rows = {t.description: t.fields["status"] for t in p.bar.tasks}
    assert "60.50%" in rows["baseline (seed 3)"] and "45.97%" in rows["baseline (seed 4)"]
    assert "baseline (seed 3)  epoch  1/5  loss 1.8000" in console.file.getvalue()
