"""Command-line wiring only: parse, call the verb's main(*, ...), map known errors to the
spec's exit codes. Student mistakes never reach here; they are results."""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from rich.console import Console

from grader import __version__
from grader.data import DataNotFound
from grader.grade import GraderError
from grader.local import EXIT_USAGE
from grader.rubric import RubricError

EXIT_INTERNAL = 4


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="grade", description="Grade a TinyCNN lab submission against the baseline.",
        epilog="Exit status: 0 graded; 1 under --fail-under; 2 bad usage, invalid rubric or "
               "no data; 3 the submission could not be graded (it still gets a report).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--local", metavar="PATH", nargs="?", const=".", type=Path,
                   help="grade a submission here (a package folder, .py, .ipynb or .zip; "
                        "default: the current folder). Scores are advisory.")
    p.add_argument("--rubric", default="cifar10", help="a rubric NAME from rubrics/ or a YAML "
                   "FILE (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("grade-report"),
                   help="folder for results.json and report.md (default: %(default)s)")
    p.add_argument("--data-dir", type=Path, help="an existing copy of the data set")
    p.add_argument("--quick", action="store_true",
                   help="a small unofficial smoke run: a subset and one epoch")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    p.add_argument("--fail-under", type=float, metavar="POINTS",
                   help="exit 1 when the score is below POINTS")
    p.add_argument("--no-cache", action="store_true",
                   help="train the baseline again instead of using its cached result")
    p.add_argument("--json", action="store_true", help="print only results.json to stdout")
    return p


def build_batch_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="grade batch", description="Grade a folder of submissions (one per student id: a "
        "package folder, .py, .ipynb or .zip) into a resumable gradebook in OUT.",
        epilog="Run it again after an interruption: finished submissions are kept, unfinished "
               "ones are graded again. Exit status: 0 done; 2 bad usage; 4 grader errors "
               "(those submissions are not recorded; run again to retry).")
    p.add_argument("folder", type=Path, help="the folder of submissions")
    p.add_argument("--rubric", default="cifar10", help="a rubric NAME or FILE (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="folder for the gradebook and feedback")
    p.add_argument("--workers", type=int, default=1, help="gradings at once (default: %(default)s)")
    p.add_argument("--executor", default="local", choices=["local", "slurm", "ray"])
    p.add_argument("--force", action="store_true", help="regrade submissions already graded")
    p.add_argument("--data-dir", type=Path, help="an existing copy of the data set")
    p.add_argument("--quick", action="store_true", help="the small unofficial smoke run")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    p.add_argument("--slurm-partition", help="slurm: the partition to submit to")
    p.add_argument("--gpus-per-task", type=float, default=0,
                   help="slurm/ray: GPUs per submission (ray accepts fractions, e.g. 0.25)")
    return p


def build_ci_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="grade ci", description="Grade the checkout in CI: results.json, report.md, "
        "junit.xml; under GitHub Actions also the job summary and step outputs (score, "
        "max_score, status, and `result` for GitHub Classroom's reporter). Advisory.",
        epilog="Exit status: 0 graded; 1 under --fail-under; 2 bad usage; 3 ungradable.")
    p.add_argument("path", nargs="?", type=Path, default=Path("."),
                   help="the submission (default: the checkout)")
    p.add_argument("--rubric", default="cifar10", help="a rubric NAME or FILE (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("grade-report"))
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--quick", action="store_true", help="the small unofficial smoke run")
    p.add_argument("--device", default="auto")
    p.add_argument("--fail-under", type=float, metavar="POINTS")
    return p


def build_gradescope_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="grade gradescope", description="Build the Gradescope autograder bundle for a "
        "rubric: setup.sh, run_autograder, the rubric and the grader's source, in one zip.")
    p.add_argument("--rubric", default="cifar10", help="a rubric NAME or FILE (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("autograder.zip"))
    p.add_argument("--data-dir", help="where the data set lies inside Gradescope's container "
                   "(default: downloaded by setup.sh)")
    return p


def build_export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade export",
                                description="Write exports from the gradebook in OUT into OUT/exports.")
    p.add_argument("out", type=Path, help="the --out folder of `grade batch`")
    p.add_argument("--format", required=True, choices=["csv", "canvas", "leaderboard", "feedback", "summary"])
    p.add_argument("--rubric", help="only this rubric's grades (by rubric name)")
    return p


def build_predict_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="grade predict", description="The lab's inference step: top-1 and top-3 classes "
        "of image files, with the model a graded run trained (its --out folder).")
    p.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG; any size)")
    p.add_argument("--run", type=Path, required=True,
                   help="the graded run's output folder (grade-report/ or feedback/<student>)")
    p.add_argument("--picture", type=Path, help="also save the images titled with their prediction")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    console = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep and logs
    try:
        if argv[:1] == ["batch"]:
            from grader import batch
            a = build_batch_parser().parse_args(argv[1:])
            return batch.main(folder=a.folder, rubric=a.rubric, out=a.out, workers=a.workers,
                              executor=a.executor, force=a.force, data_dir=a.data_dir,
                              quick=a.quick, device=a.device, slurm_partition=a.slurm_partition,
                              gpus_per_task=a.gpus_per_task, console=console)
        if argv[:1] == ["ci"]:
            from grader import ci
            a = build_ci_parser().parse_args(argv[1:])
            return ci.main(path=a.path, rubric=a.rubric, out=a.out, data_dir=a.data_dir,
                           quick=a.quick, device=a.device, fail_under=a.fail_under,
                           console=console)
        if argv[:1] == ["gradescope"]:
            from grader import gradescope
            a = build_gradescope_parser().parse_args(argv[1:])
            path = gradescope.build_bundle(a.rubric, a.out, a.data_dir)
            console.print(f"wrote {path}: upload it as the assignment's autograder")
            return 0
        if argv[:1] == ["predict"]:
            from grader import predict
            a = build_predict_parser().parse_args(argv[1:])
            return predict.main(images=a.images, run=a.run, device=a.device, picture=a.picture)
        if argv[:1] == ["export"]:
            from grader import export
            a = build_export_parser().parse_args(argv[1:])
            for path in export.main(out=a.out, fmt=a.format, rubric=a.rubric):
                console.print(f"wrote {path}")
            return 0
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.local is None:
            parser.print_usage(sys.stderr)
            console.print("grade: say what to grade, e.g. [bold]grade --local student_template[/], "
                          "[bold]grade batch DIR --out OUT[/], [bold]grade export OUT --format csv[/] or "
                          "[bold]grade predict IMAGE --run OUT[/]")
            return EXIT_USAGE
        from grader import local
        return local.main(path=args.local, rubric=args.rubric, out=args.out,
                          data_dir=args.data_dir, quick=args.quick, device=args.device,
                          fail_under=args.fail_under, use_cache=not args.no_cache,
                          as_json=args.json)
    except FileNotFoundError as e:
        console.print(f"[red]error[/]: {e}")
        return EXIT_USAGE
    except RubricError as e:
        console.print(f"[red]invalid rubric[/] {e}")
        return EXIT_USAGE
    except DataNotFound as e:
        console.print(f"[red]data not found[/]: {e}")
        return EXIT_USAGE
    except GraderError as e:
        console.print(f"[red]grader error[/]: {e}")
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    except Exception:  # a grader bug: say so, with the traceback to report
        console.print("[red]internal grader error (please report it):[/]")
        console.print(traceback.format_exc(), markup=False, highlight=False)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
