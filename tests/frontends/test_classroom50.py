"""The Classroom 50 autograder (integrations/classroom50/), run as Classroom 50's runner runs it.

Classroom 50 (foundation50/classroom50) grades a submission in the student's repository:
its `runner.py` (cli/gh-teacher/skeleton/dotgithub/scripts/runner.py, `run_entrypoint`)
runs `[sys.executable, autograder.py]` with the working directory at the student's
checkout, its own environment plus CLASSROOM50_BUNDLE_DIR, USERNAME, OWNER,
ASSIGNMENT_TYPE, COMMIT_URL, RELEASE_URL and REVIEW_URL, the autograder's siblings beside
it; a non-zero exit is an infrastructure error (`autograder exited N`). Then
`finalize_result` reads ./result.json, stamps owner, assignment_type, datetime, graded_at
and submitted_by over it, and validates it (`validate_result`). The tests here do the same,
with a validator written from the rules as their sources state them (cited per rule).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import REPO, SUBMISSIONS, write_rubric
from grader.commands import classroom50 as c50
from grader.report.record import Item
from support.results import golden

BUNDLE = REPO / "integrations" / "classroom50"

# --- the contract's validation rules ------------------------------------------------
# [S] schemas/result-v1.schema.json ("classroom50/result/v1")
# [R] runner.py::validate_result and ::validate_submitted_by (collect_scores.py's
#     validate_result mirrors it, its docstring says, so what passes here passes ingest)
# [W] wiki/Advanced-Autograding.md, "The result.json contract"
REQUIRED = ("schema", "classroom", "assignment", "assignment_type", "owner", "submission",
            "commit", "release", "review", "datetime", "score", "max-score", "tests")  # [S] required
OPTIONAL = ("graded_at", "submitted_by")  # [S] properties; additionalProperties: false
UTC_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$")  # [S] datetime


def count(value) -> bool:
    """[R] a non-negative integer, and not a bool (bool is an int in Python)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def contract_errors(data, *, classroom, assignment, owner=None, expected_type="individual"):
    """Every rule the result breaks, in words; [] when Classroom 50 accepts it."""
    if not isinstance(data, dict):
        return ["not a JSON object"]  # [R]
    errors = []
    errors += [f"missing {k}" for k in REQUIRED if k not in data]  # [S]
    errors += [f"unknown field {k}" for k in data if k not in REQUIRED + OPTIONAL]  # [S]
    if data.get("schema") != "classroom50/result/v1":  # [S] const, [R], [W] "Exactly"
        errors.append("schema")
    if data.get("classroom") != classroom:  # [R] identity against the repository
        errors.append("classroom")
    if data.get("assignment") != assignment:  # [R]
        errors.append("assignment")
    if not isinstance(data.get("owner"), str) or not data.get("owner"):  # [R], [S] minLength 1
        errors.append("owner empty")
    elif owner is not None and data["owner"].lower() != owner.lower():  # [R] case-insensitive
        errors.append("owner")
    if data.get("assignment_type") != expected_type:  # [R]; [S] enum, [W] stamped by the runner
        errors.append("assignment_type")
    if not isinstance(data.get("submission"), str) or not data["submission"].startswith("submit/"):
        errors.append("submission")  # [R], [S] pattern ^submit/
    for key in ("commit", "release", "review", "datetime"):  # [R] non-empty strings
        if not isinstance(data.get(key), str) or not data.get(key):
            errors.append(key)
    for key in ("datetime", "graded_at"):  # [S] YYYY-MM-DDTHH:MM:SSZ
        if key in data and not (isinstance(data[key], str) and UTC_SECONDS.match(data[key])):
            errors.append(f"{key} format")
    if not count(data.get("score")) or not count(data.get("max-score")):  # [R], [S] integer >= 0
        errors.append("score/max-score not non-negative integers")
    elif data["score"] > data["max-score"]:  # [R], [S] cross-field, in code
        errors.append("score > max-score")
    tests = data.get("tests")
    if not isinstance(tests, list):  # [R], [S] array
        return errors + ["tests"]
    for i, t in enumerate(tests):
        if not isinstance(t, dict):  # [R]
            errors.append(f"tests[{i}] not an object")
            continue
        if not isinstance(t.get("test-name"), str) or not t["test-name"]:  # [R], [S] minLength 1
            errors.append(f"tests[{i}].test-name")
        if not isinstance(t.get("passed"), bool):  # [R]
            errors.append(f"tests[{i}].passed")
        if not count(t.get("score")) or not count(t.get("max-score")):  # [R]
            errors.append(f"tests[{i}] score/max-score")
        elif t["score"] > t["max-score"]:  # [R]
            errors.append(f"tests[{i}] score > max-score")
        # extra fields on a test are allowed ([S] testResult additionalProperties: true, [W])
    by = data.get("submitted_by")  # [R] validate_submitted_by; [S] $defs/submittedBy
    if by is not None:
        if not isinstance(by, dict) or set(by) - {"username", "id"}:
            errors.append("submitted_by")
        elif not isinstance(by.get("username"), str) or not by["username"]:
            errors.append("submitted_by.username")
        elif by.get("id") is not None and not count(by["id"]):
            errors.append("submitted_by.id")
    return errors


def test_the_validator_refuses_what_the_contract_refuses():
    good = {"schema": "classroom50/result/v1", "classroom": "c", "assignment": "a",
            "assignment_type": "individual", "owner": "Alice", "submission": "submit/x",
            "commit": "u", "release": "u", "review": "u", "datetime": "2026-06-01T14:32:01Z",
            "score": 4, "max-score": 5,
            "tests": [{"test-name": "t", "passed": False, "score": 4, "max-score": 5, "x": 1}]}
    assert contract_errors(good, classroom="c", assignment="a", owner="alice") == []
    for change in ({"score": 4.0}, {"score": True}, {"score": 6}, {"submission": "v1"},
                   {"extra": 1}, {"datetime": "2026-06-01 14:32"}, {"classroom": "d"},
                   {"tests": [{"test-name": "", "passed": True, "score": 0, "max-score": 0}]},
                   {"tests": [{"test-name": "t", "passed": 1, "score": 0, "max-score": 0}]},
                   {"submitted_by": {"username": "a", "id": "7"}}):
        assert contract_errors({**good, **change}, classroom="c", assignment="a"), change


# --- running it as the runner does ----------------------------------------------------

ASSETS = ["grade-report/curves.png", "grade-report/per_class.png",
          "grade-report/confusion.png", "grade-report/report.html"]


def runner_env(tmp_path, checkout, **extra) -> dict:
    """The environment `run_entrypoint` hands autograder.py: the workflow's own (GITHUB_*,
    the runner's CLASSROOM/ASSIGNMENT/SUBMISSION_TAG/MODE/RELEASE_ASSETS) plus its helpers."""
    repo = "course-org/tinycnn-lab1-alice"
    tag = "submit/2026-12-01T10-00-00Z-abc1234"
    server = "https://github.com"
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True,
                         text=True, check=True).stdout.strip()
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GRADE"))}
    env.update({
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_REPOSITORY": repo, "GITHUB_SHA": sha,
        "GITHUB_SERVER_URL": server, "GITHUB_ACTOR": "alice", "GITHUB_ACTOR_ID": "4242",
        "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "RUNNER_ENVIRONMENT": "self-hosted", "RUNNER_TEMP": str(tmp_path / "runner_temp"),
        "PAGES_BASE_URL": "https://course-org.github.io/classroom50",
        "CLASSROOM": "tinycnn", "ASSIGNMENT": "lab1", "SUBMISSION_TAG": tag, "MODE": "individual",
        "RELEASE_ASSETS": json.dumps(ASSETS),
        # run_entrypoint's helpers
        "CLASSROOM50_BUNDLE_DIR": str(tmp_path / "runtime" / "lab1"),
        "USERNAME": "alice", "OWNER": "alice", "ASSIGNMENT_TYPE": "individual",
        "COMMIT_URL": f"{server}/{repo}/commit/{sha}",
        "RELEASE_URL": f"{server}/{repo}/releases/tag/{urllib.parse.quote(tag, safe='')}",
        "REVIEW_URL": f"{server}/{repo}/compare/{sha}...{sha}",
    })
    env.update(extra)
    return env


def student_checkout(tmp_path, model_source: str | None = None) -> Path:
    """A student's repository after `gh student accept` and work: the template, the
    accept marker, the caller workflow, one commit on top."""
    checkout = Path(shutil.copytree(REPO / "student_template", tmp_path / "tinycnn-lab1-alice"))
    (checkout / ".classroom50.yaml").write_text("classroom: tinycnn\nassignment: lab1\n")
    (checkout / ".github" / "workflows").mkdir(parents=True)
    (checkout / ".github" / "workflows" / "autograde.yaml").write_text("name: autograde\n")
    if model_source is not None:
        (checkout / "model.py").write_text(model_source)
    git = ["git", "-c", "user.name=alice", "-c", "user.email=a@example.com",
           "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=checkout, check=True)
    subprocess.run([*git, "add", "-A"], cwd=checkout, check=True)
    subprocess.run([*git, "commit", "-qm", "work"], cwd=checkout, check=True)
    return checkout


def run_autograder(tmp_path, checkout, env):
    """runner.py's run_entrypoint: the bundle extracted to RUNNER_TEMP/.../ASSIGNMENT/, then
    `python autograder.py` in the checkout."""
    bundle = Path(env["CLASSROOM50_BUNDLE_DIR"])
    shutil.copytree(BUNDLE, bundle)
    return subprocess.run([sys.executable, str(bundle / "autograder.py")], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=900)


def finalize(checkout, env) -> dict:
    """runner.py's finalize_result: the runner-authoritative fields stamped over result.json."""
    result = json.loads((checkout / "result.json").read_text())
    result.update(owner=env["USERNAME"], assignment_type="individual",
                  datetime=result["datetime"],
                  graded_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  submitted_by={"username": env["GITHUB_ACTOR"], "id": int(env["GITHUB_ACTOR_ID"])})
    return result


def outputs_of(env) -> dict:
    return dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().splitlines())


@pytest.fixture
def graded_template(tmp_path, fmnist_dir, cache_dir):
    checkout = student_checkout(tmp_path)
    rubric = write_rubric(tmp_path)
    env = runner_env(tmp_path, checkout, GRADE_ARGS=f"--rubric '{rubric}' --quick",
                     GRADER_DATA_DIR=str(fmnist_dir), GRADER_CACHE_DIR=str(cache_dir))
    run = run_autograder(tmp_path, checkout, env)
    return checkout, env, run


def test_the_template_graded_as_the_runner_runs_it(graded_template):
    checkout, env, run = graded_template
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((checkout / "result.json").read_text())
    ident = dict(classroom="tinycnn", assignment="lab1", owner="alice")
    assert contract_errors(result, **ident) == []  # as written, before the runner stamps
    assert contract_errors(finalize(checkout, env), **ident) == []  # and after
    graded = json.loads((checkout / "grade-report" / "results.json").read_text())
    assert [t["test-name"] for t in result["tests"]] == [t["name"] for t in graded["tests"]]
    assert result["score"] == graded["score"] == sum(t["score"] for t in result["tests"])
    assert result["max-score"] == graded["max_score"] == 70  # the tiny rubric's points
    assert result["score"] > 0 and all(t["passed"] for t in result["tests"][:3])  # the checks
    assert result["submission"] == env["SUBMISSION_TAG"] and result["commit"] == env["COMMIT_URL"]
    assert result["submitted_by"] == {"username": "alice", "id": 4242}
    assert result["datetime"].endswith("Z")
    out = outputs_of(env)
    assert out["status"] == "success" and f"Score {graded['score']:g} / 70" in out["summary"]
    body = (checkout / "release-body.md").read_text()
    assert f"Score {graded['score']:g} / 70" in body and "## Rubric" in body
    # the pictures the course attaches (release_assets) are there, under release-safe names,
    # and the body shows them from the release's download URLs
    for path in ASSETS:
        assert (checkout / path).is_file(), path
        assert c50.ASSET_NAME.fullmatch(Path(path).name)
    tag = urllib.parse.quote(env["SUBMISSION_TAG"], safe="")
    assert (f"(https://github.com/course-org/tinycnn-lab1-alice/releases/download/{tag}/curves.png)"
            in body)


def test_a_failing_submission_exits_0_with_zero_points_and_escaped_text(tmp_path, fmnist_dir,
                                                                        cache_dir):
    hostile = (SUBMISSIONS / "fails_forward_error_injects_markdown_and_html.py").read_text()
    checkout = student_checkout(tmp_path, hostile)
    # what a student could leave in their checkout to pass for the grader's output
    (checkout / "result.json").write_text('{"score": 100}')
    (checkout / "grade-report").mkdir()
    (checkout / "grade-report" / "confusion.png").write_text("forged")
    rubric = write_rubric(tmp_path)
    env = runner_env(tmp_path, checkout, GRADE_ARGS=f"--rubric {rubric} --quick",
                     GRADER_DATA_DIR=str(fmnist_dir), GRADER_CACHE_DIR=str(cache_dir))
    run = run_autograder(tmp_path, checkout, env)
    assert run.returncode == 0, run.stdout + run.stderr  # graded: the runner must not call it an error
    result = json.loads((checkout / "result.json").read_text())
    assert contract_errors(result, classroom="tinycnn", assignment="lab1", owner="alice") == []
    graded = json.loads((checkout / "grade-report" / "results.json").read_text())
    assert graded["failure"]  # its forward pass raised: nothing trained
    # the checks it passes keep their points (as in results.json); training and gain have none
    assert result["score"] == graded["score"] < 30 and result["max-score"] == 70
    assert [t["passed"] for t in result["tests"]] == [t["status"] == "passed" for t in graded["tests"]]
    assert not any(t["passed"] for t in result["tests"][3:])
    assert outputs_of(env)["status"] == "failure"
    assert not (checkout / "grade-report" / "confusion.png").exists()  # no forged picture
    body = (checkout / "release-body.md").read_text()
    assert f"Score {graded['score']:g} / 70" in body
    # student text renders as the text it is (grader.report.escape): no HTML, link or image
    # but the release's own pictures; the forged score stays inside its code block
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    flat = tokens + [c for t in tokens for c in (t.children or [])]
    assert not {t.type for t in flat} & {"html_block", "html_inline", "link_open"}
    release = "https://github.com/course-org/tinycnn-lab1-alice/releases/download/"
    assert all(t.attrs["src"].startswith(release) for t in flat if t.type == "image")
    fences = [t for t in flat if t.type == "fence"]
    assert any("**Score 100 / 100**" in f.content for f in fences)
    bold = [flat[i + 1].content for i, t in enumerate(flat) if t.type == "strong_open"]
    assert not any(b.startswith("Score 100") for b in bold)


def test_without_the_runners_environment_it_says_what_is_missing_and_fails(tmp_path, capsys):
    rubric = write_rubric(tmp_path)
    code = c50.main(path=tmp_path, rubric=str(rubric), env={}, workdir=tmp_path)
    assert code != 0  # outside the runner: nothing to identify the submission by
    assert not (tmp_path / "result.json").exists()


def test_points_are_whole_numbers_and_never_rounded_up():
    env = {"CLASSROOM": "c", "ASSIGNMENT": "a", "OWNER": "o", "SUBMISSION_TAG": "submit/t",
           "COMMIT_URL": "u", "RELEASE_URL": "u"}
    results = golden()
    results.tests = [Item("a\nb", 2.5, 5.0, "failed", ""), Item("gain", 20.0, 70.0, "failed", ""),
                     Item("ok", 5.0, 5.0, "passed", "")]
    result = c50.classroom50_result(results, env)
    assert [(t["score"], t["max-score"]) for t in result["tests"]] == [(2, 5), (20, 70), (5, 5)]
    assert result["tests"][0]["points"] == 2.5 and result["tests"][0]["test-name"] == "a b"
    assert (result["score"], result["max-score"]) == (27, 80)
    assert [t["passed"] for t in result["tests"]] == [False, False, True]
    assert result["review"] == "u" and "submitted_by" not in result
    assert contract_errors(result, classroom="c", assignment="a") == []


def test_the_runtime_block_asks_for_what_the_grader_needs():
    runtime = json.loads((BUNDLE / "runtime.json").read_text())
    # Advanced-Autograding, "The runtime block": runs-on, python, apt (not with container)
    assert set(runtime) <= {"runs-on", "python", "node", "java", "go", "rust", "apt", "container"}
    assert runtime["python"] == "3.11" and "bubblewrap" in runtime["apt"]
    gpu = json.loads((BUNDLE / "runtime-gpu.json").read_text())
    assert "self-hosted" in gpu["runs-on"] and "gpu" in gpu["runs-on"]
    assert 1 <= len(gpu["runs-on"]) <= 10  # 1-10 labels


# --- the pinned environment (bench/lock.py) -------------------------------------------

def test_the_constraints_pin_every_dependency_and_the_calibrated_torch():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import lock
    finally:
        sys.path.remove(str(REPO / "bench"))
    from packaging.utils import canonicalize_name
    shipped = dict(line.split("==") for line in (BUNDLE / "constraints.txt").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert shipped["torch"] == lock.CALIBRATED["torch"] == "2.14.1"
    assert shipped["torchvision"] == lock.CALIBRATED["torchvision"] == "0.29.1"
    # every rubric's pinned distribution was measured with the torch the lock pins
    assert set(lock.rubric_torches().values()) == {"2.14.1"}
    for req in lock.top_level(REPO / "pyproject.toml", []):
        if req.marker is None or req.marker.evaluate():
            assert canonicalize_name(req.name) in shipped, req.name
    # generated from pyproject with what is installed here: the same top-level set
    text, problems = lock.lock([], allow_other=True)
    fresh = dict(line.split("==") for line in text.splitlines() if line and not line.startswith("#"))
    assert set(fresh) >= {canonicalize_name(r.name) for r in lock.top_level(REPO / "pyproject.toml", [])
                          if r.marker is None or r.marker.evaluate()}
    assert fresh["torch"] == "2.14.1"


# --- autograder.py's own set-up ---------------------------------------------------------

@pytest.fixture
def autograder(monkeypatch):
    import importlib.util
    spec = importlib.util.spec_from_file_location("c50_autograder", BUNDLE / "autograder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []
    monkeypatch.setattr(module.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    return module, calls


def test_on_a_bare_runner_it_installs_the_pinned_grader_torch_first(autograder, monkeypatch):
    module, calls = autograder
    monkeypatch.delenv("GRADER_TORCH_INDEX", raising=False)
    module.install()
    constraints = ["-c", str(BUNDLE / "constraints.txt")]
    assert calls[0][1:] == ["-m", "pip", "install", "--quiet", "torch", "torchvision",
                            "--index-url", module.CPU_WHEELS, *constraints]
    assert calls[1][1:] == ["-m", "pip", "install", "--quiet", "-r",
                            str(BUNDLE / "requirements.txt"), *constraints]
    calls.clear()
    monkeypatch.setenv("GRADER_TORCH_INDEX", "")  # a GPU machine: torch as PyPI has it
    module.install()
    assert len(calls) == 1 and "-r" in calls[0]


def test_grade_args_come_from_the_environment_else_the_file_beside_it(autograder, monkeypatch):
    module, _ = autograder
    monkeypatch.setenv("GRADE_ARGS", "--rubric 'my rubric.yaml' --quick")
    assert module.grade_args() == ["--rubric", "my rubric.yaml", "--quick"]
    monkeypatch.delenv("GRADE_ARGS")
    first = [line for line in (BUNDLE / "grade-args.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")][0]
    assert module.grade_args() == first.split()


def test_only_a_github_hosted_runner_gets_its_apparmor_switch_turned(autograder, monkeypatch):
    module, calls = autograder
    monkeypatch.setenv("RUNNER_ENVIRONMENT", "self-hosted")
    module.allow_bubblewrap()
    assert calls == []
    monkeypatch.setenv("RUNNER_ENVIRONMENT", "github-hosted")
    module.allow_bubblewrap()
    assert calls and calls[0][:2] == ["sudo", "-n"]


def test_an_out_folder_holding_the_checkout_is_refused_not_emptied(tmp_path):
    rubric = write_rubric(tmp_path)
    checkout = student_checkout(tmp_path)
    env = {"CLASSROOM": "c", "ASSIGNMENT": "a", "OWNER": "o", "SUBMISSION_TAG": "submit/t",
           "COMMIT_URL": "u", "RELEASE_URL": "u"}
    for out in (Path("."), tmp_path):
        assert c50.main(path=checkout, rubric=str(rubric), out=out, env=env, workdir=checkout) == 2
    assert (checkout / "model.py").is_file()
