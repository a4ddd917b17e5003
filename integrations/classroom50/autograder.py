"""Classroom 50 autograder for the TinyCNN lab: grade the student's checkout with tinycnn-grader.

Copy this folder to CLASSROOM/autograders/ASSIGNMENT/ in the course's `classroom50`
repository (README.md beside this file says how). Classroom 50's runner runs this file
once per submission with `python autograder.py`, the working directory at the student's
checkout and the submission's identity in the environment. It writes ./result.json
(classroom50/result/v1), ./release-body.md, the reports and pictures in ./grade-report/ and
status/summary in $GITHUB_OUTPUT, and exits 0 whenever grading ran to the end: pass or
fail is in result.json, and the runner reads any other exit as an infrastructure error.

Settings, all optional:
  GRADE_ARGS        the grade arguments (rubric, --quick, --fail-under, --lang ...), split
                    like a shell; else the first line of grade-args.txt beside this file;
                    else "--rubric cifar10"
  GRADER_DATA_DIR   an existing copy of the data set (else it is downloaded into the cache)
  GRADER_TORCH_INDEX  where torch and torchvision come from when the grader is not
                    installed yet (default: PyTorch's CPU wheels; "" for PyPI's)
"""
import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CPU_WHEELS = "https://download.pytorch.org/whl/cpu"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args], check=True)


def install() -> None:
    """On a GitHub-hosted runner nothing is installed: the grader at the version
    requirements.txt names, every dependency at the version constraints.txt pins. A
    self-hosted runner keeps its own (the runner skips all set-up there), so bake the grader
    into its image and this finds it."""
    constraints = ["-c", str(HERE / "constraints.txt")] if (HERE / "constraints.txt").is_file() else []
    index = os.environ.get("GRADER_TORCH_INDEX", CPU_WHEELS)
    if index:  # torch first, from its own index, so PyPI's CUDA build is never fetched
        pip("torch", "torchvision", "--index-url", index, *constraints)
    pip("-r", str(HERE / "requirements.txt"), *constraints)


def allow_bubblewrap() -> None:
    """Ubuntu 24.04 (GitHub's ubuntu-latest) lets AppArmor refuse unprivileged user
    namespaces, which bubblewrap needs; the runner VM is the job's own, and the grader
    falls back to Landlock where this fails."""
    if os.environ.get("RUNNER_ENVIRONMENT") == "github-hosted":
        subprocess.run(["sudo", "-n", "sysctl", "-w", "kernel.apparmor_restrict_unprivileged_userns=0"],
                       capture_output=True, check=False)


def grade_args() -> list[str]:
    if os.environ.get("GRADE_ARGS", "").strip():
        return shlex.split(os.environ["GRADE_ARGS"])
    saved = HERE / "grade-args.txt"
    if saved.is_file():
        lines = [line for line in saved.read_text().splitlines() if line.strip() and not line.startswith("#")]
        if lines:
            return shlex.split(lines[0])
    return ["--rubric", "cifar10"]


def main() -> int:
    try:
        import grader  # noqa: F401
    except ImportError:
        install()
    allow_bubblewrap()
    from grader.cli import main as grade
    return grade(["classroom50", ".", *grade_args()])


if __name__ == "__main__":
    sys.exit(main())
