"""Command-line wiring only: parse, call the verb's main(*, ...), map known errors to the
spec's exit codes. Student mistakes never reach here; they are results.

Each option is declared once (`OPTIONS`) and its default lives in the signature of the
function it feeds: an option left off the command line is not passed at all, so the
function's own default applies, and the help text reads it from there.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import traceback
from pathlib import Path

from rich.console import Console

from grader import __version__
from grader.failures import EXIT_INTERNAL, EXIT_USAGE
from grader.load.datasets import DataNotFound
from grader.grading import GraderError
from grader.i18n import LANGUAGES, _
from grader.report.escape import markup, rich_text
from grader.rubric import RubricError
from grader.sandbox.confine import SandboxUnavailable

# option -> (argparse settings, help); `dest` is the keyword argument it feeds
OPTIONS = {
    "--rubric": (dict(dest="rubric"), "a rubric NAME from rubrics/ or a YAML FILE"),
    "--out": (dict(dest="out", type=Path), "the output folder"),
    "--data-dir": (dict(dest="data_dir", type=Path), "an existing copy of the data set"),
    "--quick": (dict(dest="quick", action="store_true"),
                "a small unofficial smoke run: a subset and one epoch"),
    "--device": (dict(dest="device"), "auto, cpu or cuda"),
    "--fail-under": (dict(dest="fail_under", type=float, metavar="POINTS"),
                     "exit 1 when the score is below POINTS"),
    "--lang": (dict(dest="lang", choices=LANGUAGES),
               "the language of what the student reads: ko or en (default: the rubric's "
               "`language:`, else the locale, else en)"),
    "--allow-unconfined": (dict(dest="allow_unconfined", action="store_true"),
                           "official grades even where neither bubblewrap nor Landlock can "
                           "confine student code's file system; the results say so"),
}


def _add(parser: argparse.ArgumentParser, fn, *names: str, **overrides) -> None:
    """Add the shared options `names` to `parser`, each with `fn`'s default in its help."""
    defaults = {k: v.default for k, v in inspect.signature(fn).parameters.items()}
    for name in names:
        settings, text = OPTIONS[name]
        settings = {**settings, **overrides.get(settings["dest"], {})}
        text = settings.pop("help", text)
        default = defaults.get(settings["dest"], inspect.Parameter.empty)
        if default not in (inspect.Parameter.empty, None, False):
            text += f" (default: {default})"
        parser.add_argument(name, help=text, **settings)


def _parser(prog: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    # SUPPRESS: an option not given is not passed on, so the verb's own default applies
    return argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                   argument_default=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    from grader.commands import local
    p = _parser("grade", "Grade a TinyCNN lab submission against the baseline.",
                "Exit status: 0 graded; 1 under --fail-under; 2 bad usage, invalid rubric or "
                "no data; 3 the submission could not be graded (it still gets a report); "
                "4 grader error. Other commands: grade batch | amend | calibrate | ci | classroom50 | export | "
                "predict | gradescope (each has --help).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--local", dest="path", metavar="PATH", nargs="?", const=Path("."), type=Path,
                   help="grade a submission here (a package folder, .py, .ipynb or .zip; "
                        "default: the current folder). Scores are advisory.")
    _add(p, local.main, "--rubric", "--out", "--data-dir", "--quick", "--device", "--fail-under",
         "--lang")
    p.add_argument("--no-cache", dest="use_cache", action="store_false",
                   help="train the baseline again instead of using its cached result")
    p.add_argument("--json", dest="as_json", action="store_true",
                   help="print only results.json to stdout")
    return p


def build_batch_parser() -> argparse.ArgumentParser:
    from grader.batch import driver
    p = _parser("grade batch", "Grade a folder of submissions (one per student id: a package "
                "folder, .py, .ipynb or .zip) into a resumable gradebook in OUT.",
                "Run it again after an interruption: finished submissions are kept, unfinished "
                "ones are graded again. Exit status: 0 done; 2 bad usage; 4 grader errors "
                "(those submissions are not recorded; run again to retry).")
    p.add_argument("folder", type=Path, help="the folder of submissions")
    _add(p, driver.main, "--rubric", "--out", "--data-dir", "--quick", "--device",
         out={"required": True})
    p.add_argument("--workers", type=int, help="gradings at once (default: 1)")
    p.add_argument("--executor", choices=driver.EXECUTORS, help="where to grade (default: local)")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument("--slurm-partition", dest="slurm_partition",
                   help="slurm: the partition to submit to")
    p.add_argument("--gpus-per-task", dest="gpus_per_task", type=float,
                   help="slurm/ray: GPUs per submission (ray accepts fractions, e.g. 0.25)")
    p.add_argument("--cpus-per-task", dest="cpus_per_task", type=int,
                   help="slurm/ray: CPUs per submission, and its training threads (default: "
                        "4, or fewer where the largest node has fewer)")
    p.add_argument("--slurm-mem", dest="slurm_mem",
                   help="slurm: memory per task, e.g. 8G (default: the rubric's "
                        "budget.memory_mb + 2048 MiB)")
    _add(p, driver.main, "--allow-unconfined")
    p.add_argument("--submission-times", dest="submission_times", type=Path, metavar="CSV",
                   help="apply the rubric's late policy: a CSV with columns student, "
                        "submitted_at (ISO 8601) and extension_days (may be empty)")
    return p


def build_ci_parser() -> argparse.ArgumentParser:
    from grader.commands import ci
    p = _parser("grade ci", "Grade the checkout in CI: results.json, report.md, junit.xml; "
                "under GitHub Actions also the job summary, an annotation with the score and "
                "step outputs (score, max_score, pending_points, status; `result` for the "
                "retired GitHub Classroom's reporter only with GRADER_CLASSROOM_RESULT=1). "
                "Advisory.",
                "Exit status: 0 graded; 1 under --fail-under; 2 bad usage; 3 ungradable.")
    p.add_argument("path", nargs="?", type=Path, default=None,  # None: ci.main's default
                   help="the submission (default: the checkout)")
    _add(p, ci.main, "--rubric", "--out", "--data-dir", "--quick", "--device", "--fail-under",
         "--lang")
    return p


def build_classroom50_parser() -> argparse.ArgumentParser:
    from grader.commands import classroom50
    p = _parser("grade classroom50", "Grade the checkout for Classroom 50 (what its "
                "autograder.py runs): result.json in the classroom50/result/v1 contract, "
                "release-body.md, the reports and pictures in --out, status and summary in "
                "$GITHUB_OUTPUT. Reads the runner's environment (CLASSROOM, ASSIGNMENT, "
                "SUBMISSION_TAG, OWNER, COMMIT_URL, RELEASE_URL, ...) and GRADER_DATA_DIR.",
                "Exit status: 0 it ran to the end, whatever the grade (pass or fail is in "
                "result.json); 2 bad usage, invalid rubric, no data or the runner's "
                "environment missing; 4 grader error.")
    p.add_argument("path", nargs="?", type=Path, default=None,  # None: classroom50.main's default
                   help="the submission (default: the checkout)")
    _add(p, classroom50.main, "--rubric", "--out", "--data-dir", "--quick", "--device",
         "--fail-under", "--lang",
         fail_under={"help": "the commit status is failure below POINTS (the exit stays 0)"})
    return p


def build_gradescope_parser() -> argparse.ArgumentParser:
    import grader.commands.gradescope_bundle as bundle
    p = _parser("grade gradescope", "Build the Gradescope autograder bundle for a rubric: "
                "setup.sh, run_autograder, the rubric and the grader's source, in one zip.")
    _add(p, bundle.build_bundle, "--rubric", "--out", "--data-dir",
         out={"help": "the zip to write"},
         data_dir={"type": str, "help": "where the data set lies inside Gradescope's container "
                                        "(default: downloaded by setup.sh)"})
    _add(p, bundle.build_bundle, "--allow-unconfined", "--lang")
    p.add_argument("--lock", type=Path, help="the exact versions setup.sh installs, a pip "
                   "constraints file from bench/lock.py (default: "
                   f"{bundle.LOCK.relative_to(bundle.paths.ROOT)})")
    p.add_argument("--recalibrate", action="store_true",
                   help="build even where the rubric's pinned baseline was measured with other "
                        "torch/torchvision versions than the lock's: the image calibrates the "
                        "baseline with the lock's")
    return p


def build_calibrate_parser() -> argparse.ArgumentParser:
    from grader.commands import calibrate
    p = _parser("grade calibrate", "Train the baseline over several seeds and keep its "
                "accuracy's spread: every grade's 95% interval is computed from it.",
                "A second call with the same arguments comes from the cache.")
    _add(p, calibrate.main, "--rubric", "--data-dir", "--quick", "--device")
    p.add_argument("--seeds", type=int, help="how many seeds (default: the rubric's "
                   "baseline.calibration_seeds, 10 unless it says otherwise)")
    p.add_argument("--json", dest="as_json", action="store_true",
                   help="print one JSON object to stdout: rubric, quick, seeds, accuracies, mean, std")
    p.add_argument("--workers", type=int, default=1,
                   help="train this many seeds at once, each on its share of the cores: the "
                        "runs a `grade batch --workers N` finds (default: 1, all cores)")
    return p


def build_export_parser() -> argparse.ArgumentParser:
    from grader.batch import export
    p = _parser("grade export", "Write exports from the gradebook in OUT into OUT/exports.")
    p.add_argument("out", type=Path, help="the --out folder of `grade batch`")
    p.add_argument("--format", dest="fmt", required=True, choices=export.FORMATS)
    p.add_argument("--rubric", help="only this rubric's grades (by rubric name)")
    p.add_argument("--allow-unofficial", dest="allow_unofficial", action="store_true",
                   help="canvas: also export grades that are not official (--quick or advisory runs)")
    return p


def build_amend_parser() -> argparse.ArgumentParser:
    p = _parser("grade amend", "A person's grade for one student, kept in the gradebook apart "
                "from the automatic one and across regrades; every export shows it.",
                "Without --item, --points is the student's final total; with --item ID, the "
                "points of that rubric item (e.g. a written answer pending manual grading).")
    p.add_argument("out", type=Path, help="the --out folder of `grade batch`")
    p.add_argument("student", help="the student id")
    p.add_argument("--points", type=float, help="the final total, or the item's points with --item")
    p.add_argument("--reason", help="why (shown in every export and to the student)")
    p.add_argument("--item", help="a rubric item id (its points only)")
    p.add_argument("--clear", action="store_true", help="remove the amendment (of --item, or the total)")
    p.add_argument("--rubric", help="the rubric name, when the student has grades for several")
    return p


def build_predict_parser() -> argparse.ArgumentParser:
    from grader.commands import predict
    p = _parser("grade predict", "The lab's inference step: top-1 and top-3 classes of image "
                "files, with the model a graded run trained (its --out folder).")
    p.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG; any size)")
    p.add_argument("--run", type=Path, required=True,
                   help="the graded run's output folder (grade-report/ or feedback/<student>)")
    p.add_argument("--picture", type=Path, help="also save the images titled with their prediction")
    _add(p, predict.main, "--device", "--lang")
    return p


def _given(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if v is not None}


def _run(argv: list[str], console: Console) -> int:
    verb = argv[0] if argv else None
    if verb == "batch":
        from grader.batch import driver
        return driver.main(**vars(build_batch_parser().parse_args(argv[1:])), console=console)
    if verb == "ci":
        from grader.commands import ci
        return ci.main(**_given(build_ci_parser().parse_args(argv[1:])), console=console)
    if verb == "classroom50":
        from grader.commands import classroom50
        return classroom50.main(**_given(build_classroom50_parser().parse_args(argv[1:])),
                                console=console)
    if verb == "gradescope":
        import grader.commands.gradescope_bundle as bundle
        try:
            path = bundle.build_bundle(**vars(build_gradescope_parser().parse_args(argv[1:])),
                                       say=lambda line: console.print(line, markup=False))
        except bundle.BundleRefused as e:
            console.print("[red]refused[/]: " + markup(e))
            return EXIT_USAGE
        console.print(f"wrote {path}: upload it as the assignment's autograder")
        return 0
    if verb == "calibrate":
        from grader.commands import calibrate
        return calibrate.main(**vars(build_calibrate_parser().parse_args(argv[1:])), console=console)
    if verb == "predict":
        from grader.commands import predict
        return predict.main(**vars(build_predict_parser().parse_args(argv[1:])))
    if verb == "amend":
        from grader.batch import amend
        try:
            console.print(rich_text(amend.main(**vars(build_amend_parser().parse_args(argv[1:])))))
        except (amend.AmendError, amend.gradebook.GradebookError) as e:  # ids, reasons: not markup
            console.print(rich_text(f"refused: {e}"), highlight=False)
            return EXIT_USAGE
        return 0
    if verb == "export":
        from grader.batch import export
        try:
            written = export.main(**vars(build_export_parser().parse_args(argv[1:])))
        except (export.UnofficialGrades, export.gradebook.GradebookError) as e:
            console.print("[red]refused[/]: " + markup(e))  # it names student ids
            return EXIT_USAGE
        for path in written:
            console.print(f"wrote {path}", markup=False, highlight=False)
        return 0
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    if "path" not in args:
        parser.print_usage(sys.stderr)
        console.print("grade: say what to grade, e.g. [bold]grade --local student_template[/], "
                      "[bold]grade batch DIR --out OUT[/], [bold]grade export OUT --format csv[/] or "
                      "[bold]grade predict IMAGE --run OUT[/]")
        return EXIT_USAGE
    from grader.commands import local
    return local.main(**args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    console = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep and logs
    try:
        return _run(argv, console)
    except FileNotFoundError as e:
        console.print("[red]" + _("error") + "[/]: " + markup(e))
        return EXIT_USAGE
    except RubricError as e:
        console.print("[red]" + _("invalid rubric") + "[/] " + markup(e))
        return EXIT_USAGE
    except DataNotFound as e:
        console.print("[red]" + _("data not found") + "[/]: " + markup(e))
        return EXIT_USAGE
    except SandboxUnavailable as e:
        console.print("[red]" + _("sandbox") + "[/]: " + markup(e))
        return EXIT_USAGE
    except GraderError as e:
        console.print("[red]" + _("grader error") + "[/]: " + markup(e))
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        console.print(_("interrupted"))
        return 130
    except Exception:  # a grader bug: say so, with the traceback to report
        console.print("[red]" + _("internal grader error (please report it):") + "[/]")
        console.print(rich_text(traceback.format_exc()), highlight=False)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
