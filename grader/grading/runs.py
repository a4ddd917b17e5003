"""One training run in a confined child, and the parent's checks of it: its weights measured
again in a fresh child, its history held to the budget, its accuracy computed from the
fresh child's predictions; and the baseline's runs, trained or found in the cache."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from grader.failures import failure_dict
from grader.grading.context import ACCOUNT, GraderError, GradingContext, Inputs, child_threads
from grader.i18n import _
from grader.inspection import audit
from grader.load import testset
from grader.load.submission import source_digest
from grader.sandbox.confine import Limits
from grader.sandbox.launch import run_job
from grader.sandbox.protocol import ChildResult, JobRequest, Run
from grader.scoring import baseline_cache
from grader.scoring.metrics import confusion
from grader.scoring.noise import diverged
from grader.scoring.timelimit import TimeLimit, explain


def train_one(who: str, source: Path, seed: int, inputs: Inputs, tmp: Path,
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
                    threads=child_threads(ctx), cpus=ctx.cpus)
    request = JobRequest(
        mode="train", submission=str(source), reference=str(rubric.baseline_path),
        model_hook=rubric.model_hook if who == "student" else "build_model",
        info=info, device=device, threads=limits.threads, training=rubric.training, seed=seed,
        budget=replace(rubric.budget,
                       gpu_memory_fraction=rubric.budget.gpu_memory_fraction * ctx.gpu_share),
        epochs_override=rubric.quick.epochs if ctx.quick else None,
        modules=sorted({c.module for c in rubric.checks if c.module}),
        keep_weights=True)  # always: the parent measures them again (verify)
    # every event names its seed (the parent's, whatever the child sent): a calibration
    # trains several baseline seeds at once, and each is its own row of the progress
    ctx.on_event(who, {"event": "run_start", "seed": seed})
    outcome = run_job(job, request, files=inputs.files(), limits=limits, plan=ctx.plan,
                      show=[source, rubric.baseline_path],
                      on_event=lambda e: ctx.on_event(who, {**e, "seed": seed}))
    state = outcome.result
    used = outcome.used
    run = Run.from_child(seed, state, wall_s=outcome.wall_s, startup_s=outcome.startup_s,
                         cpu_s=used and round(used.cpu_s, 2), waited_s=used and round(used.waited_s, 2),
                         log_tail=outcome.log_tail, isolation=outcome.isolation)
    if run.failure:
        run.failure = explain(run.failure, limit)
    kept = None
    if run.failure is None:
        run.failure, kept = verify(run, state, request, inputs, job, ctx, limits, keep)
    ctx.on_event(who, {"event": "run_end", "seed": seed, "accuracy": run.accuracy,
                       "failure": run.failure})
    return run, kept


def verify(run: Run, state: ChildResult, request: JobRequest, inputs: Inputs, job: Path,
            ctx: GradingContext, limits: Limits, keep: bool) -> tuple[dict | None, dict | None]:
    """A run that trained, checked and scored: its weights measured again in a fresh child
    (`_remeasure`), its history and the loop's counters held against the budget
    (grader.inspection.audit), and its accuracy computed from the fresh child's predictions.
    Returns the run's failure (None when it holds) and, when `keep`, its weights and test
    probabilities."""
    info, rubric = ctx.data.info, ctx.rubric
    n, k = len(inputs.test_y), info.num_classes
    logits = state.test_logits
    shown = min(n, ACCOUNT) if inputs.account_x else n
    if logits is None or tuple(logits.shape) != (shown, k):
        got = list(logits.shape) if logits is not None else None
        return failure_dict("output_shape", "the test-set predictions have the wrong shape",
                            expected=[shown, k], got=got), None
    measured, wall, startup = _remeasure(run, state, request, inputs, job, ctx, limits)
    if (measured.failure or {}).get("code") == "grader_error":
        return measured.failure, None  # the fresh child could not start: not the student's doing
    found = audit.remeasured(state, measured)
    beyond = audit.trained_within_budget(
        run, max_epochs=rubric.budget.max_epochs,
        quick_epochs=rubric.quick.epochs if ctx.quick else None,
        max_batch_size=rubric.budget.max_batch_size, n_train=inputs.sizes["train"])
    facts = run.inspection
    run.verification = {"findings": found, "budget_findings": beyond, "wall_s": round(wall, 2),
                        "startup_s": startup and round(startup, 2),
                        "parameters": {"reported": facts and facts.parameters,
                                       "measured": measured.parameters},
                        "output_shape": {"reported": facts and facts.output_shape,
                                         "measured": measured.output_shape},
                        "differing_predictions": audit.differing(
                            logits, None if measured.test_logits is None
                            else measured.test_logits[:len(logits)]),
                        "compared_predictions": len(logits)}
    run.init_digest = measured.init_digest
    # The checks judge what the fresh child measured, not what the training child said.
    if facts is not None and measured.parameters is not None:
        run.inspection = replace(facts, parameters=measured.parameters,
                                             output_shape=measured.output_shape)
    # The accuracy that counts is the fresh child's: the parent scores predictions it asked
    # for itself, from the weights it holds, in a process where no training code ran and
    # nothing the training child did can reach; the training child's own logits are only
    # the account it is held to (within audit.PREDICTION_TOLERANCE, else the run fails).
    fresh = measured.test_logits
    if fresh is not None and tuple(fresh.shape) == (n, k):
        predicted = fresh.argmax(1).numpy()
        run.accuracy = float((predicted == inputs.test_y).mean())
        run.confusion = confusion(inputs.test_y, predicted, k)
        public = measured.public_logits
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
        return None, {"weights": state.model_state, "probs": fresh.softmax(1).numpy()}
    return None, None


def _remeasure(run: Run, state: ChildResult, request: JobRequest, inputs: Inputs, job: Path,
               ctx: GradingContext, limits: Limits) -> tuple[ChildResult, float, float | None]:
    """The training child's saved weights loaded into the submission's build_model in a
    fresh child, confined like the first, that measures the parameters and the output
    shape and predicts the test set (grader.sandbox.worker.run_verify). Returns what it
    measured, its wall time and the part of it that was the child's start-up."""
    import torch

    weights = state.model_state
    if not weights:
        return ChildResult(), 0.0, None
    path = job.parent / f"{job.name}-weights.pt"
    torch.save(weights, path)
    files = inputs.verify_files(path)
    again = replace(request, mode="verify", keep_weights=False, epochs_override=None)
    outcome = run_job(job.parent / f"{job.name}-verify", again, files=files,
                      limits=replace(limits, cpu_s=None), plan=ctx.plan,
                      show=[Path(request.submission), Path(request.reference)])
    return outcome.result, outcome.wall_s, outcome.startup_s


def run_diverged(run: Run, num_classes: int):
    training = run.training or {}
    return diverged(training.get("history"), num_classes, training.get("steps_per_epoch"))


def baseline_key(seed: int | None, ctx: GradingContext) -> str:
    """The cache key of the baseline's run at `seed`; with None, of its distribution."""
    return baseline_cache.baseline_key(
        rubric=ctx.rubric, seed=seed, quick=ctx.quick, data_digest=ctx.data.digest,
        device_type=ctx.device.split(":")[0], threads=child_threads(ctx),
        test_set=testset.fingerprint(ctx.test_key) if ctx.test_key else "private",
        reference_digest=source_digest(ctx.rubric.baseline_path), versions=ctx.versions)


def known_baseline(seed: int, key: str, ctx: GradingContext, pinned: bool = True) -> Run | None:
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


def train_baseline(seed: int, key: str, inputs: Inputs, tmp: Path, ctx: GradingContext) -> Run:
    rubric = ctx.rubric
    run, _ = train_one("baseline", rubric.baseline_path, seed, inputs, tmp, ctx)
    if run.failure:
        raise GraderError(f"the baseline ({rubric.baseline.submission}) failed to train: "
                          f"{run.failure['message']}")
    run.measured_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if ctx.use_cache:
        baseline_cache.store(ctx.cache_dir, key, {**run.record(), "key": key})
    return run
