"""Grade one submission: load it, train it seed by seed beside the baseline, stop where
another seed cannot change the points, and build the results object."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.failures import SubmissionError
from grader.files import scratch
from grader.grading.calibration import distribution_for
from grader.grading.context import OnEvent, make_context, prepare_inputs
from grader.grading.runs import baseline_key, known_baseline, run_diverged, train_baseline, train_one
from grader.inspection.checks import evaluate_checks
from grader.load.answers import collect_answers
from grader.load.submission import load_submission
from grader.report.artifacts import save_run
from grader.report.results import build_results
from grader.rubric import Rubric
from grader.sandbox.protocol import Run
from grader.scoring.points import SeedRun, rubric_items, seed_loop
from grader.scoring.timelimit import cpu_timeout, over, time_limit


def grade_submission(*, submission: Path, rubric: Rubric, data_dir: Path | None = None,
                     quick: bool = False, device: str = "auto", cache_dir: Path | None = None,
                     use_cache: bool = True, mode: str = "local",
                     cpus: tuple[int, ...] | None = None, gpu_share: float = 1.0,
                     artifacts: Path | None = None, allow_unconfined: bool = False,
                     on_event: OnEvent = lambda who, e: None) -> dict:
    """`cpus`: the cores the runs may use, and `gpu_share` the part of the GPU's memory
    (a batch worker's share; default all of them). `artifacts`: a folder for the trained
    weights, their source, the test predictions and the gallery (grader.report.artifacts).
    `allow_unconfined`: an official grade even where the child's file system could not be
    confined (the instructor's decision, recorded in the results)."""
    ctx = make_context(rubric, data_dir, quick, device, cache_dir, mode, cpus, gpu_share,
                   use_cache, on_event)
    ctx.allow_unconfined = allow_unconfined
    num_classes = ctx.data.info.num_classes
    with scratch("grade") as tmp:
        tmp = Path(tmp)
        try:
            sub = load_submission(submission, tmp / "submission")
        except SubmissionError as e:
            failed = Run(seed=rubric.seeds[0], failure=e.to_dict())
            items = rubric_items(rubric, evaluate_checks(rubric, failed, num_classes), None, None,
                                 num_classes, collect_answers(None, rubric.manual))
            return build_results(ctx, submission=None, origin=submission, runs=[],
                                 baseline_runs=[], failure=failed.failure, items=items)
        answers = collect_answers(sub, rubric.manual)  # before training: read, never run
        inputs = prepare_inputs(ctx.data, rubric, quick, tmp, ctx.test_key)
        ctx.distribution = distribution_for(ctx)
        # A cached or pinned baseline is known before the student trains, and its CPU time
        # per epoch bounds the student's at the same seed (grader.scoring.timelimit); one
        # that must be trained waits until the student's run has succeeded, so a broken
        # submission fails fast, and then judges that run by the same rule.
        # --quick is a smoke run of about a minute: one seed for the student and the
        # baseline, whatever the seed policy (its interval says it is a smoke run's)
        seeds = rubric.seed_sequence(1 if quick else rubric.max_seeds)
        keys = {seed: baseline_key(seed, ctx) for seed in seeds}
        known = {seed: known_baseline(seed, keys[seed], ctx) for seed in seeds}
        runs, paired, kept = [], [], None

        def run_seed(seed: int) -> SeedRun | None:
            nonlocal kept
            limit = time_limit(rubric, [known[seed]] if known[seed] else [], quick)
            run, outputs = train_one("student", sub.source, seed, inputs, tmp, ctx, limit,
                                      keep=artifacts is not None and not runs)
            runs.append(run)
            kept = kept or outputs
            baseline = known[seed]
            if not run.failure and not baseline:
                baseline = train_baseline(seed, keys[seed], inputs, tmp, ctx)
                limit = time_limit(rubric, [baseline], quick)
                if over(run, limit):
                    run.failure = cpu_timeout(run, limit)
            ctx.time_limit = ctx.time_limit or limit
            if run.failure:
                return None
            paired.append(baseline)
            return SeedRun(seed, run.accuracy, baseline.accuracy, _identical(run, baseline),
                           run_diverged(run, num_classes) is not None,
                           same_init=_same_start(run, baseline),
                           paired_diverged=run_diverged(baseline, num_classes) is not None)

        # the stopping rule (grader.scoring.points.seed_loop): more seeds only where they
        # can change the points
        _, gain = seed_loop(rubric, ctx.distribution, seeds, run_seed)
        failure = next((r.failure for r in runs if r.failure), None)
        tried = seeds[:len(runs)]
        baseline_runs = paired if not failure else [known[s] for s in tried if known[s]]
        if kept and not failure:
            ctx.artifacts = save_run(
                artifacts, submission=sub, rubric=rubric, info=ctx.data.info, run=runs[0],
                weights=kept["weights"], probs=kept["probs"], test_x=np.load(inputs.test_x),
                test_y=inputs.test_y, order=inputs.order)
    gain = None if failure else gain
    accuracy = None if failure else _accuracy(runs, num_classes)
    checks = evaluate_checks(rubric, runs[0], num_classes)
    divergences = {r.seed: d for r in runs if not r.failure and (d := run_diverged(r, num_classes))}
    dist = ctx.distribution
    items = rubric_items(rubric, checks, accuracy, gain, num_classes, answers, len(runs),
                         divergences, (dist.diverged_runs, dist.runs) if dist else (0, 0))
    ctx.isolation = runs[0].isolation
    return build_results(ctx, submission=sub, origin=submission, runs=runs,
                         baseline_runs=baseline_runs, failure=failure, items=items, gain=gain,
                         divergences=divergences)


def _accuracy(runs: list[Run], num_classes: int) -> float:
    """The submission's accuracy: the mean of its converged runs (of all, if none did)."""
    kept = [r.accuracy for r in runs if run_diverged(r, num_classes) is None]
    return float(np.mean(kept or [r.accuracy for r in runs]))


def _same_start(run: Run, baseline: Run) -> bool:
    """Whether the run can be paired with the baseline's at its seed: it started from the
    same initial weights and drew the same random stream (the first batch, the generators'
    state at the end: grader.training.loop._stream_digest). Dropout keeps the weights but
    not the stream, and its runs do not move with the baseline's (docs/scoring.md)."""
    stream = (run.training or {}).get("stream_digest")
    return (run.init_digest is not None and run.init_digest == baseline.init_digest
            and isinstance(stream, str)
            and stream == (baseline.training or {}).get("stream_digest"))


def _identical(run: Run, baseline: Run) -> bool:
    """Whether the run reproduced the baseline's at its seed (its gain is exactly 0)."""
    return (run.accuracy == baseline.accuracy and run.confusion is not None
            and run.confusion == baseline.confusion)
