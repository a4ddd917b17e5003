"""Grade one submission: load it, train it and the baseline in child processes under the
rubric's budget, score the gain, and return one results object (grader.report.results).

The pipeline, stage by stage: load (grader.load) -> run in the sandbox (grader.sandbox:
inspect and train in the child) -> judge the checks (grader.inspection.checks) -> score
(grader.scoring) -> the results object (grader.report.results), which every front end
renders.

A student's mistake never raises out of here: it becomes a failed result with partial
credit. What does raise is the grader's environment: a missing data set (DataNotFound)
or a baseline that fails to train (GraderError).
"""
from __future__ import annotations

import os
import platform
import queue
import secrets
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from grader import __version__, paths
from grader.failures import SubmissionError, failure_dict
from grader.files import scratch
from grader.i18n import _
from grader.inspection import audit
from grader.inspection.checks import evaluate_checks
from grader.load.answers import collect_answers
from grader.load import testset
from grader.load.datasets import CachedData, prepare_data, split_validation
from grader.load.submission import load_submission, source_digest
from grader.report.artifacts import save_run
from grader.report.results import build_results
from grader.rubric import Rubric
from grader.sandbox.confine import Limits, cpu_count, plan as confinement
from grader.sandbox.launch import run_job
from grader.sandbox.protocol import JobRequest, Run
from grader.scoring import baseline_cache
from grader.scoring.metrics import confusion
from grader.scoring.noise import Distribution, diverged, outliers
from grader.scoring.points import SeedRun, rubric_items, seed_loop
from grader.scoring.timelimit import TimeLimit, cpu_timeout, explain, over, time_limit

OnEvent = Callable[[str, dict], None]
# Test images the training child predicts as its account of the model it trained, held
# against the fresh child's predictions of the same images (grading._verify). The fresh
# child predicts the whole test set, which is what is scored; the training child
# predicting only this sample keeps the re-measurement's added time to its start-up.
# The sample is the head of a test order drawn per grading in secret: a random sample.
ACCOUNT = 500


class GraderError(Exception):
    """The grader itself could not produce a grade (not the student's fault)."""


@dataclass
class GradingContext:
    """Where and how one grading runs: what every run of it shares, and what its results
    record (grader.report.results.build_results reads it)."""
    rubric: Rubric
    data: CachedData
    device: str
    quick: bool
    mode: str                            # local, ci, official (batch, Gradescope)
    started: float                       # time.time() when the grading began
    versions: dict
    cache_dir: Path
    use_cache: bool = True
    cpus: tuple[int, ...] | None = None  # a batch worker's cores; None: all of them
    gpu_share: float = 1.0               # of the GPU's memory, when workers share one GPU
    on_event: OnEvent = lambda who, e: None
    isolation: dict | None = None        # the confinement the submission's run had
    artifacts: list[str] | None = None   # what was saved beside the reports
    distribution: Distribution | None = None  # the baseline's accuracy over seeds, if known
    distribution_rule: str | None = None  # which one the rubric and mode say (distribution_rule)
    confined: bool = False               # the child's file system is confined (bwrap, landlock)
    allow_unconfined: bool = False       # official even so: the instructor said so
    time_limit: TimeLimit | None = None  # the student's first run's limits
    test_key: bytes | None = None        # the public test set's re-rendering (load.testset)


@dataclass
class Inputs:
    """What every run of one grading gets: the same images, split and test order."""
    train_x: Path
    train_y: Path
    test_x: Path           # permuted by a per-grading secret; the child never sees labels
    test_y: np.ndarray     # labels in that order: parent only
    train_idx: Path
    val_idx: Path
    sizes: dict
    order: np.ndarray      # the original test index of each permuted test image: parent only
    public_x: Path | None = None        # untouched public test images (load.testset)
    public_y: np.ndarray | None = None  # their labels: parent only
    account_x: Path | None = None       # the first ACCOUNT test images: the training child's

    def files(self) -> dict[str, Path]:
        """What the training child may read (never the labels of the test set): of the test
        set only the sample it predicts as its account (`_verify`); the fresh child that
        re-measures the run predicts the whole test set and the public images."""
        return {"train_x": self.train_x, "train_y": self.train_y,
                "test_x": self.account_x or self.test_x,
                "train_idx": self.train_idx, "val_idx": self.val_idx}

    def verify_files(self, weights: Path) -> dict[str, Path]:
        """What the re-measuring child reads: the weights, the test and the public images."""
        files = {"test_x": self.test_x, "weights": weights}
        return {**files, "public_x": self.public_x} if self.public_x else files


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
    ctx = _context(rubric, data_dir, quick, device, cache_dir, mode, cpus, gpu_share,
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
        inputs = _prepare_inputs(ctx.data, rubric, quick, tmp, ctx.test_key)
        ctx.distribution = _distribution(ctx)
        # A cached or pinned baseline is known before the student trains, and its CPU time
        # per epoch bounds the student's at the same seed (grader.scoring.timelimit); one
        # that must be trained waits until the student's run has succeeded, so a broken
        # submission fails fast, and then judges that run by the same rule.
        # --quick is a smoke run of about a minute: one seed for the student and the
        # baseline, whatever the seed policy (its interval says it is a smoke run's)
        seeds = rubric.seed_sequence(1 if quick else rubric.max_seeds)
        keys = {seed: _baseline_key(seed, ctx) for seed in seeds}
        known = {seed: _known_baseline(seed, keys[seed], ctx) for seed in seeds}
        runs, paired, kept = [], [], None

        def run_seed(seed: int) -> SeedRun | None:
            nonlocal kept
            limit = time_limit(rubric, [known[seed]] if known[seed] else [], quick)
            run, outputs = _train_one("student", sub.source, seed, inputs, tmp, ctx, limit,
                                      keep=artifacts is not None and not runs)
            runs.append(run)
            kept = kept or outputs
            baseline = known[seed]
            if not run.failure and not baseline:
                baseline = _train_baseline(seed, keys[seed], inputs, tmp, ctx)
                limit = time_limit(rubric, [baseline], quick)
                if over(run, limit):
                    run.failure = cpu_timeout(run, limit)
            ctx.time_limit = ctx.time_limit or limit
            if run.failure:
                return None
            paired.append(baseline)
            return SeedRun(seed, run.accuracy, baseline.accuracy, _identical(run, baseline),
                           _diverged(run, num_classes) is not None)

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
    divergences = {r.seed: d for r in runs if not r.failure and (d := _diverged(r, num_classes))}
    dist = ctx.distribution
    items = rubric_items(rubric, checks, accuracy, gain, num_classes, answers, len(runs),
                         divergences, (dist.diverged_runs, dist.runs) if dist else (0, 0))
    ctx.isolation = runs[0].isolation
    return build_results(ctx, submission=sub, origin=submission, runs=runs,
                         baseline_runs=baseline_runs, failure=failure, items=items, gain=gain,
                         divergences=divergences)


def _accuracy(runs: list[Run], num_classes: int) -> float:
    """The submission's accuracy: the mean of its converged runs (of all, if none did)."""
    kept = [r.accuracy for r in runs if _diverged(r, num_classes) is None]
    return float(np.mean(kept or [r.accuracy for r in runs]))


def _identical(run: Run, baseline: Run) -> bool:
    """Whether the run reproduced the baseline's at its seed (its gain is exactly 0)."""
    return (run.accuracy == baseline.accuracy and run.confusion is not None
            and run.confusion == baseline.confusion)


def _diverged(run: Run, num_classes: int):
    training = run.training or {}
    return diverged(training.get("history"), num_classes, training.get("steps_per_epoch"))


def distribution_rule(rubric: Rubric, mode: str, quick: bool) -> str:
    """Which distribution a grade is measured against, from the rubric and the mode alone
    (never from what earlier gradings left in the cache): an official grade, the
    calibration on this machine over the rubric's calibration_seeds (a batch measures it
    first); a grade on a student's machine or in CI, the rubric's pinned distribution
    (measured at the full budget), else this machine's calibration; --quick, the quick
    calibration. "calibrated" is used only when every one of the calibration_seeds is
    measured (`grade calibrate`, or a batch); a grading never writes one."""
    pinned = rubric.baseline.pinned
    if quick:
        return "calibrated"
    if rubric.baseline.pinned_accuracy is not None:
        return "pinned" if pinned else "none"
    if mode == "official" or pinned is None:
        return "calibrated"
    return "pinned"


def _distribution(ctx: GradingContext) -> Distribution | None:
    """The baseline's spread over seeds, as distribution_rule says; None when the rule's
    distribution is not there (no pinned one, the calibration not measured)."""
    rubric = ctx.rubric
    rule = ctx.distribution_rule = distribution_rule(rubric, ctx.mode, ctx.quick)
    if rule == "pinned":
        return pinned_distribution(rubric, ctx.data.info.num_classes)
    if rule == "none":
        return None
    wanted = rubric.seed_sequence(rubric.baseline.calibration_seeds)
    measured = baseline_cache.load_calibration(ctx.cache_dir, _baseline_key(None, ctx))
    if ctx.mode == "official" and not ctx.quick and any(s not in measured for s in wanted):
        return _calibrate(ctx, rubric.baseline.calibration_seeds)[0]
    if any(s not in measured for s in wanted):
        return None
    return Distribution.of(wanted, [measured[s] for s in wanted], measured_on=ctx.device,
                           diverged=[_cached_diverged(s, ctx) for s in wanted])


def pinned_distribution(rubric: Rubric, num_classes: int = 10) -> Distribution | None:
    """The rubric's `baseline.pinned`; its diverged runs are the ones it names, else the
    accuracies far under the median's (grader.scoring.noise.outliers)."""
    pinned = rubric.baseline.pinned
    if pinned is None:
        return None
    if pinned.accuracies is not None:
        acc = pinned.accuracies
        return Distribution.of(range(len(acc)), acc, "pinned", pinned.measured_on,
                               pinned.diverged or outliers(acc, num_classes))
    return Distribution(pinned.mean, pinned.std, pinned.n, "pinned", measured_on=pinned.measured_on)


def _cached_diverged(seed: int, ctx: GradingContext) -> bool:
    """Whether the baseline's cached run at `seed` diverged (its per-epoch history)."""
    record = baseline_cache.load_cached(ctx.cache_dir, _baseline_key(seed, ctx))
    if not record:
        return False
    return _diverged(Run.from_record(record, "cache"), ctx.data.info.num_classes) is not None


def calibrate(*, rubric: Rubric, seeds: int | None = None, data_dir: Path | None = None,
              quick: bool = False, device: str = "auto", cache_dir: Path | None = None,
              cpus: tuple[int, ...] | None = None, slots: list[tuple[int, ...]] | None = None,
              on_event: OnEvent = lambda who, e: None) -> tuple[Distribution, bool]:
    """The baseline trained over the first `seeds` seeds of the rubric's sequence (default
    its calibration_seeds), each run reused from or kept in the baseline cache, and the
    distribution kept under the baseline's key without a seed. Returns it, and whether
    every seed came from the cache.

    `slots` (a batch's workers' shares of the cores, all of one size) train that many
    seeds at once, each on its own share: the runs a batch with as many workers finds, in
    a fraction of the time one share alone would take."""
    ctx = _context(rubric, data_dir, quick, device, cache_dir, "batch",
                   slots[0] if slots else cpus, 1.0, True, on_event)
    return _calibrate(ctx, seeds or rubric.baseline.calibration_seeds, slots)


def _calibrate(ctx: GradingContext, n: int,
               slots: list[tuple[int, ...]] | None = None) -> tuple[Distribution, bool]:
    rubric, quick, on_event = ctx.rubric, ctx.quick, ctx.on_event
    key = _baseline_key(None, ctx)
    measured = baseline_cache.load_calibration(ctx.cache_dir, key)
    wanted = rubric.seed_sequence(n)
    missing = [seed for seed in wanted if seed not in measured]
    trained: dict[int, Run] = {}
    if missing:
        todo, lock, errors = queue.SimpleQueue(), threading.Lock(), []
        for seed in missing:
            todo.put(seed)

        def work(slot_ctx: GradingContext, inputs: Inputs, tmp: Path) -> None:
            try:
                train_seeds(slot_ctx, inputs, tmp)
            except BaseException as e:  # noqa: BLE001 - raised again below, in the caller's thread
                errors.append(e)

        def train_seeds(slot_ctx: GradingContext, inputs: Inputs, tmp: Path) -> None:
            while not errors:  # a slot that failed stops the others taking new seeds
                try:
                    seed = todo.get_nowait()
                except queue.Empty:
                    return
                with lock:
                    on_event("calibrate", {"event": "seed", "seed": seed, "done": len(trained),
                                           "total": len(missing)})
                seed_key = _baseline_key(seed, slot_ctx)
                run = (_known_baseline(seed, seed_key, slot_ctx, pinned=False)
                       or _train_baseline(seed, seed_key, inputs, tmp, slot_ctx))
                with lock:
                    trained[seed] = run
                    measured[seed] = run.accuracy
                    baseline_cache.store_calibration(
                        ctx.cache_dir, key, measured, rubric=rubric.name, quick=quick,
                        device=ctx.device, versions=ctx.versions)

        with scratch("baseline") as tmp:
            inputs = _prepare_inputs(ctx.data, rubric, quick, Path(tmp), ctx.test_key)
            shares = [s for s in (slots or [ctx.cpus]) if len(s or ()) == len(ctx.cpus or ())]
            if len(shares) <= 1:
                work(ctx, inputs, Path(tmp))
            else:  # each thread drives its own child on its own cores, as a batch worker does
                threads = [threading.Thread(target=work, args=(replace(ctx, cpus=share), inputs,
                                                               Path(tmp) / f"slot{i}"))
                           for i, share in enumerate(shares)]
                for i, t in enumerate(threads):
                    (Path(tmp) / f"slot{i}").mkdir()
                    t.start()
                for t in threads:
                    t.join()
        if errors:  # the first slot's failure, as one slot alone would have raised it
            raise errors[0]
    flags = [_diverged(trained[s], ctx.data.info.num_classes) is not None if s in trained
             else _cached_diverged(s, ctx) for s in wanted]
    dist = Distribution.of(wanted, [measured[s] for s in wanted], measured_on=ctx.device,
                           diverged=flags)
    return dist, not missing


def ensure_baselines(*, rubric: Rubric, data_dir: Path | None = None, quick: bool = False,
                     device: str = "auto", cache_dir: Path | None = None,
                     cpus: tuple[int, ...] | None = None,
                     slots: list[tuple[int, ...]] | None = None,
                     on_event: OnEvent = lambda who, e: None) -> list[Run]:
    """Before a batch starts: the baseline calibrated over the rubric's calibration seeds on
    this machine (every official grade's interval comes from it, even where the rubric pins
    one for students' own machines, and it covers every seed a submission may run), or,
    where the rubric pins the accuracy, nothing to train. Each run goes into the cache, so
    the workers find it instead of each training it."""
    cpus = slots[0] if slots else cpus
    ctx = _context(rubric, data_dir, quick, device, cache_dir, "batch", cpus, 1.0, True, on_event)
    seeds = rubric.seed_sequence(rubric.max_seeds)
    if rubric.baseline.pinned_accuracy is None:
        calibrate(rubric=rubric, data_dir=data_dir, quick=quick, device=device,
                  cache_dir=ctx.cache_dir, cpus=cpus, slots=slots, on_event=on_event)
    keys = {seed: _baseline_key(seed, ctx) for seed in seeds}
    known = {seed: _known_baseline(seed, keys[seed], ctx) for seed in seeds}
    missing = [seed for seed in seeds if known[seed] is None]  # calibration covers the rest
    if missing:
        with scratch("baseline") as tmp:
            inputs = _prepare_inputs(ctx.data, rubric, quick, Path(tmp), ctx.test_key)
            for seed in missing:
                known[seed] = _train_baseline(seed, keys[seed], inputs, Path(tmp), ctx)
    return [known[seed] for seed in seeds]


def _context(rubric, data_dir, quick, device, cache_dir, mode, cpus, gpu_share, use_cache,
             on_event) -> GradingContext:
    started = time.time()
    confined = confinement().confined  # GRADER_SANDBOX is checked before anything is prepared
    device = resolve_device(device)
    on_event("grader", {"event": "phase", "phase": "data"})
    cache_dir = Path(cache_dir or paths.cache_dir())
    data = prepare_data(rubric.dataset, data_dir=data_dir, cache_dir=cache_dir)
    # a private test set is graded as it is; the public one re-rendered (load.testset)
    test_key = None if rubric.dataset.test_dir else testset.key(cache_dir)
    return GradingContext(rubric=rubric, data=data, device=device, quick=quick, mode=mode,
                          started=started, versions=library_versions(), cache_dir=cache_dir,
                          use_cache=use_cache, cpus=cpus, gpu_share=gpu_share, on_event=on_event,
                          confined=confined, test_key=test_key)


def resolve_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GraderError("--device cuda was asked for, but torch sees no CUDA device")
    return device


def library_versions() -> dict:
    import torch
    import torchvision
    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__,
            "grader": __version__, "platform": platform.platform()}


def _prepare_inputs(data: CachedData, rubric: Rubric, quick: bool, tmp: Path,
                    test_key: bytes | None) -> Inputs:
    """The split, and the test images in a secret order: re-rendered with `test_key`
    beside a sample of the untouched public ones, or (None) a private test set as it is."""
    train_y = data.load("train_y")
    pool = np.arange(len(train_y))
    test_pool = np.arange(len(data.load("test_y")))
    if quick:  # a fixed subset, so a cached quick baseline stays comparable
        pool = np.sort(np.random.default_rng(0).permutation(pool)[:rubric.quick.train_subset])
        test_pool = np.sort(np.random.default_rng(1).permutation(test_pool)[:rubric.quick.test_subset])
    tr, va = split_validation(len(pool), rubric.dataset.validation_fraction)
    rng = np.random.default_rng(secrets.randbits(64))
    order = rng.permutation(test_pool)
    test_x, test_y = data.load("test_x"), data.load("test_y")
    shown = test_x[order] if test_key is None else testset.rerender(test_x[order], order, test_key)
    np.save(tmp / "test_x.npy", np.ascontiguousarray(shown))
    np.save(tmp / "account_x.npy", np.ascontiguousarray(shown[:ACCOUNT]))
    np.save(tmp / "train_idx.npy", pool[tr])
    np.save(tmp / "val_idx.npy", pool[va])
    public = None if test_key is None else rng.permutation(test_pool)[:testset.PUBLIC_SAMPLE]
    if public is not None:
        np.save(tmp / "public_x.npy", np.ascontiguousarray(test_x[public]))
    return Inputs(train_x=data.path("train_x"), train_y=data.path("train_y"),
                  test_x=tmp / "test_x.npy", test_y=np.asarray(test_y[order]),
                  train_idx=tmp / "train_idx.npy", val_idx=tmp / "val_idx.npy",
                  sizes={"train": len(tr), "validation": len(va), "test": len(order)},
                  order=order, public_x=None if public is None else tmp / "public_x.npy",
                  public_y=None if public is None else np.asarray(test_y[public]),
                  account_x=tmp / "account_x.npy")


def _train_one(who: str, source: Path, seed: int, inputs: Inputs, tmp: Path,
               ctx: GradingContext, limit: TimeLimit | None = None,
               keep: bool = False) -> tuple[Run, dict | None]:
    """One training run in a child process; the parent computes the test accuracy.
    Returns the run and, when `keep`, its trained weights and test probabilities."""
    rubric, info, device = ctx.rubric, ctx.data.info, ctx.device
    limit = limit or TimeLimit(rubric.budget.time_limit_s)  # the baseline's: the wall clock
    job = tmp / "runs" / f"{who}-seed{seed}"
    job.mkdir(parents=True)
    limits = Limits(time_s=limit.wall_s, cpu_s=limit.cpu_s,
                    memory_mb=None if device.startswith("cuda") else rubric.budget.memory_mb,
                    threads=_threads(ctx), cpus=ctx.cpus)
    request = JobRequest(
        mode="train", submission=str(source), reference=str(rubric.baseline_path),
        model_hook=rubric.model_hook if who == "student" else "build_model",
        info=asdict(info), device=device, threads=limits.threads,
        training=asdict(rubric.training), seed=seed,
        budget={**asdict(rubric.budget), "gpu_memory_fraction":
                rubric.budget.gpu_memory_fraction * ctx.gpu_share},
        epochs_override=rubric.quick.epochs if ctx.quick else None,
        modules=sorted({c.module for c in rubric.checks if c.module}),
        keep_weights=True)  # always: the parent measures them again (_verify)
    ctx.on_event(who, {"event": "run_start", "seed": seed})
    outcome = run_job(job, request, files=inputs.files(), limits=limits,
                      show=[source, rubric.baseline_path], on_event=lambda e: ctx.on_event(who, e))
    state = outcome.result
    used = outcome.used
    run = Run.from_child(seed, state, wall_s=outcome.wall_s, startup_s=outcome.startup_s,
                         cpu_s=used and round(used.cpu_s, 2), waited_s=used and round(used.waited_s, 2),
                         log_tail=outcome.log_tail, isolation=outcome.isolation)
    if run.failure:
        run.failure = explain(run.failure, limit)
    kept = None
    if run.failure is None:
        run.failure, kept = _verify(run, state, request, inputs, job, ctx, limits, keep)
    ctx.on_event(who, {"event": "run_end", "accuracy": run.accuracy, "failure": run.failure})
    return run, kept


def _verify(run: Run, state: dict, request: JobRequest, inputs: Inputs, job: Path,
            ctx: GradingContext, limits: Limits, keep: bool) -> tuple[dict | None, dict | None]:
    """A run that trained, checked and scored: its weights measured again in a fresh child
    (`_remeasure`), its history and the loop's counters held against the budget
    (grader.inspection.audit), and its accuracy computed from the fresh child's predictions.
    Returns the run's failure (None when it holds) and, when `keep`, its weights and test
    probabilities."""
    info, rubric = ctx.data.info, ctx.rubric
    n, k = len(inputs.test_y), info.num_classes
    logits = state.get("test_logits")
    shown = min(n, ACCOUNT) if inputs.account_x else n
    if logits is None or tuple(logits.shape) != (shown, k):
        got = list(logits.shape) if logits is not None else None
        return failure_dict("output_shape", "the test-set predictions have the wrong shape",
                            expected=[shown, k], got=got), None
    measured, wall, startup = _remeasure(run, state, request, inputs, job, ctx, limits)
    if (measured.get("failure") or {}).get("code") == "grader_error":
        return measured["failure"], None  # the fresh child could not start: not the student's doing
    found = audit.remeasured(state, measured)
    beyond = audit.trained_within_budget(
        run, max_epochs=rubric.budget.max_epochs,
        quick_epochs=rubric.quick.epochs if ctx.quick else None,
        max_batch_size=rubric.budget.max_batch_size, n_train=inputs.sizes["train"])
    facts = run.inspection or {}
    run.verification = {"findings": found, "budget_findings": beyond, "wall_s": round(wall, 2),
                        "startup_s": startup and round(startup, 2),
                        "parameters": {"reported": facts.get("parameters"),
                                       "measured": measured.get("parameters")},
                        "output_shape": {"reported": facts.get("output_shape"),
                                         "measured": measured.get("output_shape")},
                        "differing_predictions": audit.differing(
                            logits, None if measured.get("test_logits") is None
                            else measured["test_logits"][:len(logits)]),
                        "compared_predictions": len(logits)}
    # The checks judge what the fresh child measured, not what the training child said.
    if run.inspection is not None and measured.get("parameters") is not None:
        run.inspection = {**run.inspection, "parameters": measured["parameters"],
                          "output_shape": measured.get("output_shape")}
    # The accuracy that counts is the fresh child's: the parent scores predictions it asked
    # for itself, from the weights it holds, in a process where no training code ran and
    # nothing the training child did can reach; the training child's own logits are only
    # the account it is held to (within audit.PREDICTION_TOLERANCE, else the run fails).
    fresh = measured.get("test_logits")
    if fresh is not None and tuple(fresh.shape) == (n, k):
        predicted = fresh.argmax(1).numpy()
        run.accuracy = float((predicted == inputs.test_y).mean())
        run.confusion = confusion(inputs.test_y, predicted, k)
        public = measured.get("public_logits")
        if inputs.public_y is not None and public is not None and \
                tuple(public.shape) == (len(inputs.public_y), k):
            run.public_accuracy = float((public.argmax(1).numpy() == inputs.public_y).mean())
    if found:
        facts_named = ", ".join(dict.fromkeys(f["fact"] for f in found))
        return failure_dict(
            "tampered_result", _("what the training run reported ({facts}) differs from what "
                                 "the grader measured again from the weights it saved, in a "
                                 "fresh process of its own: the run is not graded").format(
                                     facts=facts_named),
            expected={f["fact"]: f["measured"] for f in found},
            got={f["fact"]: f["reported"] for f in found},
            hint=_("The grader rebuilds the model with build_model, loads the trained weights "
                   "and measures it again. Keep everything the model needs in its parameters "
                   "and buffers, build the same model every time, and leave the grader's files "
                   "and results alone.")), None
    if beyond:
        facts_named = ", ".join(dict.fromkeys(f["fact"] for f in beyond))
        return failure_dict(
            "extra_training", _("the run trained beyond what the budget allows ({facts}): the "
                                "run is not graded").format(facts=facts_named),
            expected={f["fact"]: f["measured"] for f in beyond},
            got={f["fact"]: f["reported"] for f in beyond},
            hint=_("Only the grader's loop trains the model, for the epochs the rubric allows: "
                   "do not train in a hook, call the training loop yourself, step an optimizer "
                   "of your own or edit the history.")), None
    if keep:
        return None, {"weights": state.get("model_state"), "probs": fresh.softmax(1).numpy()}
    return None, None


def _remeasure(run: Run, state: dict, request: JobRequest, inputs: Inputs, job: Path,
               ctx: GradingContext, limits: Limits) -> tuple[dict, float, float | None]:
    """The training child's saved weights loaded into the submission's build_model in a
    fresh child, confined like the first, that measures the parameters and the output
    shape and predicts the test set (grader.sandbox.worker.run_verify). Returns what it
    measured, its wall time and the part of it that was the child's start-up."""
    import torch

    weights = state.get("model_state")
    if not isinstance(weights, dict) or not weights:
        return {}, 0.0, None
    path = job.parent / f"{job.name}-weights.pt"
    torch.save(weights, path)
    files = inputs.verify_files(path)
    again = replace(request, mode="verify", keep_weights=False, epochs_override=None)
    outcome = run_job(job.parent / f"{job.name}-verify", again, files=files,
                      limits=replace(limits, cpu_s=None),
                      show=[Path(request.submission), Path(request.reference)])
    return outcome.result or {}, outcome.wall_s, outcome.startup_s


def _threads(ctx: GradingContext) -> int:
    """The child's intra-op threads: a batch worker's share of the cores, else all of them."""
    return len(ctx.cpus or ()) or cpu_count()


def _baseline_key(seed: int | None, ctx: GradingContext) -> str:
    """The cache key of the baseline's run at `seed`; with None, of its distribution."""
    return baseline_cache.baseline_key(
        rubric=ctx.rubric, seed=seed, quick=ctx.quick, data_digest=ctx.data.digest,
        device_type=ctx.device.split(":")[0], threads=_threads(ctx),
        test_set=testset.fingerprint(ctx.test_key) if ctx.test_key else "private",
        reference_digest=source_digest(ctx.rubric.baseline_path), versions=ctx.versions)


def _known_baseline(seed: int, key: str, ctx: GradingContext, pinned: bool = True) -> Run | None:
    """The baseline's run at `seed` without training: the rubric's pinned accuracy (unless
    `pinned` is False: calibration measures the real thing), or the cache."""
    pinned = ctx.rubric.baseline.pinned_accuracy if pinned else None
    if pinned is not None:
        return Run(seed=seed, accuracy=pinned, source="pinned")
    cached = baseline_cache.load_cached(ctx.cache_dir, key) if ctx.use_cache else None
    if cached:
        ctx.on_event("baseline", {"event": "cached", "accuracy": cached["accuracy"]})
        return Run.from_record(cached, source="cache")
    return None


def _train_baseline(seed: int, key: str, inputs: Inputs, tmp: Path, ctx: GradingContext) -> Run:
    rubric = ctx.rubric
    run, _ = _train_one("baseline", rubric.baseline_path, seed, inputs, tmp, ctx)
    if run.failure:
        raise GraderError(f"the baseline ({rubric.baseline.submission}) failed to train: "
                          f"{run.failure['message']}")
    run.measured_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if ctx.use_cache:
        baseline_cache.store(ctx.cache_dir, key, {**run.record(), "key": key})
    return run
