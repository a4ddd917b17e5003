"""Make the renderers' golden files: `python tests/golden/regenerate.py` (from the repository).

--inputs grades two submissions for real (the untouched template and one whose model
fails to build) on the suite's synthetic Fashion-MNIST under its tiny rubric, and stores
their results.json as INPUTS. Without it, only the expected renders are rewritten from
the stored inputs: run that after a deliberate change to a renderer, and read the diff.

tests/report/test_golden.py renders the stored inputs and compares them with these files.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

INPUTS = {"template": "student_template",
          "failed": "tests/submissions/fails_linear_size_mismatch.py"}
# a fixed key, so the leaderboard's pseudonyms are the same on every run
LEADERBOARD_KEY = "00" * 32
PICTURES = {"curves": b"curves.png", "per_class": b"per_class.png", "confusion": b"confusion.png"}


def grade_inputs() -> None:
    from conftest import REPO, write_rubric
    from grader.grading import grade_submission
    from grader.rubric import load_rubric
    from synthetic import write_fashion_mnist

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = write_fashion_mnist(tmp / "data")
        rubric = load_rubric(str(write_rubric(tmp)))
        for name, path in INPUTS.items():
            results = grade_submission(submission=REPO / path, rubric=rubric, data_dir=data,
                                       cache_dir=tmp / "cache")
            text = json.dumps(results.dump(), indent=2).replace(str(tmp), "<synthetic>")
            (HERE / f"{name}.results.json").write_text(text + "\n")


def renders() -> dict[str, str]:
    """Every expected file, by name, rendered from the stored inputs."""
    from rich.console import Console

    from grader.batch import export, gradebook
    from grader.report.html import render_html
    from grader.report.markdown import render_markdown
    from grader.report.record import Results
    from grader.report.terminal import render_tables

    out: dict[str, str] = {}
    inputs = {name: Results.load(json.loads((HERE / f"{name}.results.json").read_text()))
              for name in INPUTS}
    for name, results in inputs.items():
        out[f"{name}.report.md"] = render_markdown(results, PICTURES)
        out[f"{name}.report.html"] = render_html(results, PICTURES)
        console = Console(file=io.StringIO(), record=True, width=100, color_system=None)
        console.print(render_tables(results))
        out[f"{name}.terminal.txt"] = console.export_text()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = gradebook.connect(folder / gradebook.FILE)
        for name, results in inputs.items():
            gradebook.record(db, student=f"u_{name}", rubric_digest="golden", content_hash=name,
                             source=INPUTS[name], results=results)
        db.close()
        (folder / ".leaderboard-key").write_text(LEADERBOARD_KEY)
        for fmt in ("csv", "canvas", "leaderboard", "summary"):
            for path in export.main(out=folder, fmt=fmt, allow_unofficial=True):
                if path.suffix in (".csv", ".md"):
                    out[f"export.{path.name}"] = path.read_text()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", action="store_true", help="grade the inputs again first")
    args = parser.parse_args()
    if args.inputs:
        grade_inputs()
    for name, text in renders().items():
        (HERE / "expected" / name).parent.mkdir(exist_ok=True)
        (HERE / "expected" / name).write_text(text)
        print("wrote", HERE / "expected" / name)


if __name__ == "__main__":
    main()
