"""The baseline's accuracy over seeds, which every grade's interval comes from: which
distribution a grade uses (from the rubric and the mode alone), the rubric's pinned runs,
and the calibration that trains the missing seeds, several at once on a batch's slots."""
from __future__ import annotations

import queue
import threading
from dataclasses import replace
from pathlib import Path

from grader.files import scratch
from grader.grading.context import GradingContext, Inputs, OnEvent, make_context, prepare_inputs
from grader.grading.runs import baseline_key, known_baseline, run_diverged, train_baseline
from grader.rubric import Rubric
from grader.sandbox.protocol import Run
from grader.scoring import baseline_cache
from grader.scoring.noise import Distribution, outliers


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


def distribution_for(ctx: GradingContext) -> Distribution | None:
    """The baseline's spread over seeds, as distribution_rule says; None when the rule's
    distribution is not there (no pinned one, the calibration not measured)."""
    rubric = ctx.rubric
    rule = ctx.distribution_rule = distribution_rule(rubric, ctx.mode, ctx.quick)
    if rule == "pinned":
        return pinned_distribution(rubric, ctx.data.info.num_classes)
    if rule == "none":
        return None
    wanted = rubric.seed_sequence(rubric.baseline.calibration_seeds)
    measured = baseline_cache.load_calibration(ctx.cache_dir, baseline_key(None, ctx))
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
    record = baseline_cache.load_cached(ctx.cache_dir, baseline_key(seed, ctx))
    if not record:
        return False
    return run_diverged(Run.from_record(record, "cache"), ctx.data.info.num_classes) is not None


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
    ctx = make_context(rubric, data_dir, quick, device, cache_dir, "batch",
                   slots[0] if slots else cpus, 1.0, True, on_event)
    return _calibrate(ctx, seeds or rubric.baseline.calibration_seeds, slots)


def _calibrate(ctx: GradingContext, n: int,
               slots: list[tuple[int, ...]] | None = None) -> tuple[Distribution, bool]:
    rubric, quick, on_event = ctx.rubric, ctx.quick, ctx.on_event
    key = baseline_key(None, ctx)
    measured = baseline_cache.load_calibration(ctx.cache_dir, key)
    wanted = rubric.seed_sequence(n)
    missing = [seed for seed in wanted if seed not in measured]
    trained: dict[int, Run] = {}
    if missing:
        todo, lock, errors = queue.SimpleQueue(), threading.Lock(), []
        for seed in missing:
            todo.put(seed)

        def work(slot_ctx: GradingContext, inputs: Inputs, tmp: Path) -> None:
            """One slot's loop: the next missing seed until none is left or a slot failed."""
            try:
                while not errors:
                    try:
                        seed = todo.get_nowait()
                    except queue.Empty:
                        return
                    with lock:
                        on_event("calibrate", {"event": "seed", "seed": seed,
                                               "done": len(trained), "total": len(missing)})
                    seed_key = baseline_key(seed, slot_ctx)
                    run = (known_baseline(seed, seed_key, slot_ctx, pinned=False)
                           or train_baseline(seed, seed_key, inputs, tmp, slot_ctx))
                    with lock:
                        trained[seed] = run
                        measured[seed] = run.accuracy
                        baseline_cache.store_calibration(
                            ctx.cache_dir, key, measured, rubric=rubric.name, quick=quick,
                            device=ctx.device, versions=ctx.versions)
            except BaseException as e:  # noqa: BLE001 - raised again below, in the caller's thread
                errors.append(e)

        with scratch("baseline") as tmp:
            inputs = prepare_inputs(ctx.data, rubric, quick, Path(tmp), ctx.test_key)
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
    flags = [run_diverged(trained[s], ctx.data.info.num_classes) is not None if s in trained
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
    ctx = make_context(rubric, data_dir, quick, device, cache_dir, "batch", cpus, 1.0, True, on_event)
    seeds = rubric.seed_sequence(rubric.max_seeds)
    if rubric.baseline.pinned_accuracy is None:
        calibrate(rubric=rubric, data_dir=data_dir, quick=quick, device=device,
                  cache_dir=ctx.cache_dir, cpus=cpus, slots=slots, on_event=on_event)
    keys = {seed: baseline_key(seed, ctx) for seed in seeds}
    known = {seed: known_baseline(seed, keys[seed], ctx) for seed in seeds}
    missing = [seed for seed in seeds if known[seed] is None]  # calibration covers the rest
    if missing:
        with scratch("baseline") as tmp:
            inputs = prepare_inputs(ctx.data, rubric, quick, Path(tmp), ctx.test_key)
            for seed in missing:
                known[seed] = train_baseline(seed, keys[seed], inputs, Path(tmp), ctx)
    return [known[seed] for seed in seeds]
