"""`grade batch DIR --rubric R --out OUT`: grade a class's folder of submissions.

Discover the submissions (one entry per student id: a package folder, .py, .ipynb or
.zip), skip those already in the gradebook with the same content and rubric, train the
baseline once per seed, then grade the rest in parallel on the chosen executor. Each
finished grading is written at once: its feedback folder, then its gradebook row (one
transaction), so a run killed at any moment loses at most the gradings in flight.

No student's text or results can stop the class: ids, file names and messages reach the
terminal only through grader.report.escape, a result that cannot be recorded counts as a
grader error (retried on the next run), and the summary and dashboard are always written.
"""
from __future__ import annotations

import hashlib
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from grader import paths
from grader.failures import EXIT_GRADED, EXIT_INTERNAL, EXIT_USAGE
from grader.files import sweep_scratch
from grader.sandbox import confine
from grader.batch import deadlines, export, gradebook
from grader.batch.amend import apply
from grader.batch.executors import (EXECUTORS, Job, Refused, prepare, run_local, run_ray, run_slurm,
                                    student_lock, worker_slots)
from grader.grading import ensure_baselines
from grader.report.escape import markup, rich_text
from grader.report.folder import write_reports
from grader.records import RecordError
from grader.report.record import Results
from grader.report.terminal import LiveProgress
from grader.rubric import load_rubric
from grader.scoring import late

KINDS = (".py", ".ipynb", ".zip")


@dataclass
class Found:
    entries: dict[str, Path] = field(default_factory=dict)   # student id -> submission
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


def discover(folder: Path) -> Found:
    """One submission per student id; anything else is reported, not guessed at."""
    found, by_id = Found(), {}
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith((".", "_")):
            continue
        if path.is_dir() or path.suffix.lower() in KINDS:
            student = path.name if path.is_dir() else path.stem
            by_id.setdefault(student, []).append(path)
        else:
            found.skipped.append((path.name, f"not a submission (a folder, {', '.join(KINDS)})"))
    for student, paths_ in by_id.items():
        if len(paths_) > 1:
            names = ", ".join(p.name for p in paths_)
            found.skipped.append((student, f"more than one submission for this student ({names}); "
                                           "keep one and run again"))
        else:
            found.entries[student] = paths_[0]
    return found


def content_hash(path: Path) -> str:
    """What the student handed in, byte for byte, every file of a folder included: any
    change means a regrade."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        rel = f.relative_to(path) if path.is_dir() else Path(f.name)
        if "__pycache__" in rel.parts:
            continue
        try:
            h.update(str(rel).encode() + b"\0" + f.read_bytes() + b"\0")
        except OSError:
            h.update(str(rel).encode() + b"\0unreadable\0")
    return h.hexdigest()[:16]


@dataclass
class Tally:
    total: int
    started: float = field(default_factory=time.monotonic)
    running: set = field(default_factory=set)
    outcomes: Counter = field(default_factory=Counter)
    leader: tuple[float, str] | None = None
    durations: list = field(default_factory=list)

    def view(self, workers: int) -> Table:
        done = sum(self.outcomes.values())
        left = self.total - done
        eta = "?"
        if self.durations:
            per = sum(self.durations) / len(self.durations)
            eta = f"{per * left / max(1, min(workers, left or 1)) / 60:.1f} min"
        t = Table(title="Batch grading", show_header=False, box=None)
        t.add_row("done", f"{done}/{self.total}  (graded {self.outcomes['graded']}, failed "
                          f"{self.outcomes['failed']}, grader errors {self.outcomes['error']})")
        t.add_row("running", rich_text(", ".join(sorted(self.running)) or "-"))
        t.add_row("left", str(left))
        t.add_row("elapsed / remaining", f"{(time.monotonic() - self.started) / 60:.1f} min / {eta}")
        if self.leader:
            t.add_row("leader", rich_text(f"{self.leader[1]} ({self.leader[0]:.2%})"))
        return t


def main(*, folder: Path, out: Path, rubric: str = "cifar10", workers: int = 1, executor: str = "local",
         force: bool = False, data_dir: Path | None = None, quick: bool = False,
         device: str = "auto", cache_dir: Path | None = None, slurm_partition: str | None = None,
         gpus_per_task: float = 0, allow_unconfined: bool = False,
         submission_times: Path | None = None, slurm_mem: str | None = None,
         cpus_per_task: int | None = None, console: Console | None = None) -> int:
    """`submission_times`: a CSV of when each student handed in (grader/batch/deadlines.py);
    with it the rubric's late policy is applied to every grade, the unchanged ones too."""
    console = console or Console(stderr=True)
    spec = load_rubric(rubric)
    if executor not in EXECUTORS:
        console.print(f"unknown executor {executor!r} (choose from {', '.join(EXECUTORS)})")
        return EXIT_USAGE
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        console.print(f"{folder} is not a folder of submissions", markup=False)
        return EXIT_USAGE
    try:
        times = _times(submission_times, spec, rubric)
    except deadlines.TimesError as e:
        console.print(str(e), markup=False)
        return EXIT_USAGE
    cache_dir = Path(cache_dir or paths.cache_dir())
    # what an earlier run killed with -9 left behind: its scratch folders, a half-decoded data set
    for path in sweep_scratch(Path(tempfile.gettempdir()), cache_dir / "data"):
        console.print(f"[dim]removed {markup(path)}, left by a grading that was killed[/]")
    found = discover(folder)
    for name, why in found.skipped:
        console.print(f"[yellow]skipped[/] {markup(name)}: {markup(why)}")
    db = gradebook.connect(out / gradebook.FILE)
    digest = spec.digest() + ("-quick" if quick else "")
    if times is not None:
        untimed = sorted(set(found.entries) - set(times))
        if untimed:
            console.print(f"[yellow]no submission time[/] for {markup(', '.join(untimed))}: "
                          "graded without a late penalty")
    jobs, unchanged = [], 0
    for student, path in found.entries.items():
        h = content_hash(path)
        if not force and gradebook.is_done(db, student, digest, h):
            unchanged += 1
            if times is not None and student in times:  # a changed time or extension counts too
                reapply_late(db, out, student, digest, spec.late, times[student])
        else:
            jobs.append(Job(student=student, path=path.resolve(), content_hash=h, rubric=spec,
                            data_dir=data_dir, cache_dir=cache_dir, quick=quick, device=device,
                            artifacts=(out / "feedback" / student).resolve(),
                            allow_unconfined=allow_unconfined))
    console.print(f"{len(found.entries)} submissions: {unchanged} already graded with this "
                  f"rubric, {len(jobs)} to grade ({executor}, {workers} worker(s))")
    if not jobs:  # a run killed during its final export resumes here: finish the summary
        db.close()
        if unchanged:
            summary, dashboard = _exports(out, spec.name, console)
            console.print(f"Class summary: {summary}; dashboard: {dashboard}", markup=False)
            return EXIT_INTERNAL if None in (summary, dashboard) else EXIT_GRADED
        return EXIT_GRADED
    _say_confinement(console, allow_unconfined)
    pinned = spec.baseline.pinned_accuracy is not None
    console.print("Baseline: " + ("pinned by the rubric" if pinned else
                                  f"calibrated over {spec.baseline.calibration_seeds} seeds (each "
                                  "grade's interval comes from its spread), before the submissions"))
    # what the engine cannot run is refused now, not after the minutes of calibration
    try:
        engine = prepare(executor, rubric=spec, cpus_per_task=cpus_per_task, slurm_mem=slurm_mem,
                         partition=slurm_partition, gpus_per_task=gpus_per_task)
    except Refused as e:
        db.close()
        console.print(f"[red]refused[/]: {markup(str(e))}")
        return e.code
    for line in engine.notes:
        console.print(line, markup=False)
    slots = worker_slots(1 if executor != "local" else workers, device)
    if executor != "local" and slots[0]["cpus"]:  # a task's threads, so its baseline key matches
        slots = [{**slots[0], "cpus": slots[0]["cpus"][:engine.cpus_per_task]}]
    slot = slots[0]
    # the baseline trains on one worker's share of the machine, as each submission will,
    # its calibration seeds on every worker's share at once
    with LiveProgress(console) as progress:
        ensure_baselines(rubric=spec, data_dir=data_dir, quick=quick, device=slot["device"],
                         cache_dir=cache_dir, cpus=slot["cpus"],
                         slots=[s["cpus"] for s in slots if s["cpus"]] or None,
                         on_event=progress)
    tally = Tally(total=len(jobs))
    stream = _stream(executor, jobs, engine, out=out, workers=workers, device=device,
                     partition=slurm_partition, gpus_per_task=gpus_per_task, tally=tally,
                     console=console)
    with Live(tally.view(workers), console=console, refresh_per_second=2,
              transient=not console.is_terminal) as live:
        for job, results in stream:
            try:
                record(db, out, job, digest, results, tally, times=times, policy=spec.late)
            except Exception as e:  # noqa: BLE001 - one student's result never stops the class
                tally.outcomes["error"] += 1
                console.print(Text.assemble(("grader error", "red"), " ", rich_text(job.student),
                                            ": could not record the result: ",
                                            rich_text(f"{type(e).__name__}: {e}")))
            live.update(tally.view(workers))
    db.close()
    summary, dashboard = _exports(out, spec.name, console)
    o = tally.outcomes
    console.print(f"Done: {o['graded']} graded, {o['failed']} failed (reasons in the gradebook), "
                  f"{o['error']} grader errors (not recorded; run again to retry). "
                  f"Gradebook: {out / gradebook.FILE}; class summary: {summary}; "
                  f"dashboard: {dashboard}", markup=False)
    return EXIT_INTERNAL if o["error"] or None in (summary, dashboard) else EXIT_GRADED


def _times(submission_times: Path | None, spec, rubric: str) -> dict | None:
    """When each student handed in (--submission-times), or None; TimesError with the
    message when the file or the rubric's late policy cannot serve."""
    if submission_times is None:
        return None
    if spec.late is None or spec.late.due_date is None:
        raise deadlines.TimesError(f"--submission-times needs the rubric's late policy with its "
                                   f"due date (late: due_date: ...) in {rubric}")
    try:
        return deadlines.read_times(Path(submission_times), spec.late)
    except (OSError, deadlines.TimesError) as e:
        raise deadlines.TimesError(f"--submission-times: {e}") from None


def _say_confinement(console: Console, allow_unconfined: bool) -> None:
    """Which confinement the class's runs get, and what it lacks, said once up front."""
    plan = confine.plan()
    console.print(f"Confinement of student code: {plan.sandbox}"
                  + (f" ({' + '.join(plan.layers)})" if plan.layers else ""))
    if not plan.confined:
        console.print("[bold yellow]warning[/]: neither bubblewrap nor Landlock works here, so "
                      "student code could reach the grader's files; grades are recorded as NOT "
                      "official " + ("(accepted: --allow-unconfined)" if allow_unconfined else
                                     "unless you pass --allow-unconfined"))
    elif plan.missing:
        console.print(f"[bold yellow]warning[/]: bubblewrap is unavailable here; the fallback "
                      f"runs without {', '.join(plan.missing)} (docs/security.md)")
        for name, why in plan.why:  # one line each: what is missing and how to get it
            console.print(f"  {name}: {why}", markup=False)


def _stream(executor: str, jobs: list[Job], engine, *, out: Path, workers: int, device: str,
            partition: str | None, gpus_per_task: float, tally: Tally, console: Console):
    """The (job, results) pairs as the executor finishes them."""
    if executor == "local":
        return run_local(jobs, workers, device, on_start=lambda job: tally.running.add(job.student))
    if executor == "slurm":
        spec = jobs[0].rubric
        return run_slurm(jobs, out / "slurm", partition=partition, parallel=workers,
                         gpus_per_task=int(gpus_per_task), mem_mb=engine.slurm.mem_mb,
                         cpus_per_task=engine.cpus_per_task, accounting=engine.accounting,
                         note=lambda line: console.print(line, markup=False),
                         # the submission's runs (the baseline is cached by then) + set-up
                         timeout_min=int(len(spec.seeds) * spec.budget.time_limit_s / 60) + 15)
    return run_ray(jobs, gpus_per_task=gpus_per_task, cpus_per_task=engine.cpus_per_task)


def _exports(out: Path, rubric: str, console: Console) -> tuple[Path | None, Path | None]:
    """The class summary and the dashboard, each tried whatever happened to the other."""
    written = []
    for fmt in ("summary", "dashboard"):
        try:
            written.append(export.main(out=out, fmt=fmt, rubric=rubric)[0])
        except Exception as e:  # noqa: BLE001 - reported; the gradebook is complete regardless
            written.append(None)
            console.print(Text.assemble(("grader error", "red"), f": the class {fmt} could not be "
                                        "written: ", rich_text(f"{type(e).__name__}: {e}")))
    return written[0], written[1]


def record(db, out: Path, job: Job, digest: str, answer: dict, tally: Tally, *,
           times: dict | None = None, policy=None) -> None:
    """One worker's `answer`: results.json's form, or {"grader_error": why}."""
    tally.running.discard(job.student)
    results, why = _answer(answer)
    if results is None:
        # the grader's fault, not the student's: never recorded, so a rerun grades it again
        tally.outcomes["error"] += 1
        Console(stderr=True).print(Text.assemble(("grader error", "red"), " ", rich_text(job.student),
                                                 ": ", rich_text(why)))
        return
    results.submission.name = job.student
    if times and job.student in times:
        results = late.apply(results, deadlines.lateness(policy, times[job.student],
                                                         late.base_score(results)))
    # the student's reports show a person's amendment, kept across this regrade
    kept = gradebook.amendments(db, job.student, results.provenance.rubric_name)
    with student_lock(out / "feedback" / job.student):  # never beside an orphaned task's writes
        write_reports(apply(results, kept), out / "feedback" / job.student)  # before the row: a row means done
    gradebook.record(db, student=job.student, rubric_digest=digest, content_hash=job.content_hash,
                     source=str(job.path), results=results)
    tally.outcomes[results.status] += 1
    tally.durations.append(results.metrics.wall_time_s)
    acc = results.metrics.accuracy
    if acc is not None and (tally.leader is None or acc > tally.leader[0]):
        tally.leader = (acc, job.student)


def _answer(answer: dict) -> tuple[Results | None, str]:
    """A worker's answer as results, or None and why it is the grader's error."""
    if "grader_error" in answer:
        return None, answer["grader_error"]
    failure = answer.get("failure")
    if isinstance(failure, dict) and failure.get("code") == "grader_error":
        return None, failure.get("message")
    try:
        return Results.load(answer), ""
    except RecordError as e:  # the grader's own bug, or a worker of another version
        return None, f"unreadable results: {e}"


def reapply_late(db, out: Path, student: str, digest: str, policy, when) -> None:
    """An unchanged grade under a (possibly changed) submission time or extension: the late
    policy applied again from the score before any penalty, without regrading. Rewritten
    only when the decision changed."""
    results = gradebook.results_of(db, student, digest)
    if results is None:
        return
    again = late.apply(results, deadlines.lateness(policy, when, late.base_score(results)))
    if again.late == results.late:
        return
    kept = gradebook.amendments(db, student, again.provenance.rubric_name)
    write_reports(apply(again, kept), out / "feedback" / student)
    gradebook.replace_results(db, student, digest, again)
