"""A run's time limits, the rule that set them, and the timeout a student reads.

Two limits, both counted from the end of the child's start-up (grader.sandbox.usage says
how each is measured):
- `budget.time_limit_s` bounds the wall clock, less the time a busy machine kept the run
  waiting for a CPU: it stops runs that hang or sleep.
- `budget.time_factor` bounds the CPU time: SLACK_S plus time_factor x the baseline's CPU
  time per epoch (measured on this machine, same threads) x the most epochs the run may
  train. CPU time stays about the same however loaded the machine is, so a class graded
  on a busy server gets the limits it would get on a quiet one.

The same submission gets the same limits whether the baseline's run was cached or is
trained after it: a run graded before its baseline was known is judged against the same
rule once it is (`over`).
"""
from __future__ import annotations

from dataclasses import dataclass

from grader.failures import HINTS, failure_dict
from grader.i18n import N_, _
from grader.rubric import Rubric
from grader.sandbox.protocol import Run

SLACK_S = 60.0  # CPU seconds on top of the factor: inspection, validation, prediction

QUICK_HINT = N_("A --quick run trains a fixed number of epochs: make each step cheaper "
                "(fewer channels or layers, a larger BATCH_SIZE), or grade without --quick.")


@dataclass(frozen=True)
class TimeLimit:
    wall_s: float                     # budget.time_limit_s
    cpu_s: float | None = None        # None until the baseline's CPU time is known
    factor: float | None = None       # budget.time_factor
    baseline_cpu_per_epoch_s: float | None = None
    epochs: int | None = None         # the most epochs the run may train
    quick: bool = False


def time_limit(rubric: Rubric, baseline_runs: list[Run], quick: bool) -> TimeLimit:
    """The limits for a student's run, from the baseline's runs known so far (cached,
    trained here, or none yet: then only the wall clock is limited)."""
    epochs = rubric.quick.epochs if quick else rubric.budget.max_epochs
    per_epoch = [b.cpu_s / b.training["epochs_run"] for b in baseline_runs
                 if b.cpu_s and b.training and b.training.get("epochs_run")]
    factor = rubric.budget.time_factor
    if not factor or not per_epoch:
        return TimeLimit(rubric.budget.time_limit_s, quick=quick)
    most = max(per_epoch)
    return TimeLimit(rubric.budget.time_limit_s, SLACK_S + factor * most * epochs, factor,
                     round(most, 2), epochs, quick)


def over(run: Run, limit: TimeLimit) -> bool:
    """Whether a run that finished went past the CPU limit (judged after the fact when the
    baseline became known only after the run)."""
    return limit.cpu_s is not None and run.cpu_s is not None and run.cpu_s > limit.cpu_s


def explain(failure: dict, limit: TimeLimit) -> dict:
    """A timeout's failure with the rule that set the limit and what can be changed in this
    mode; any other failure as it is."""
    if failure.get("code") != "timeout":
        return failure
    rule = _("The wall clock is limited to {wall} s (budget.time_limit_s), not counting time "
             "spent waiting for a busy machine.").format(wall=f"{limit.wall_s:.0f}")
    if limit.cpu_s is not None:
        rule += " " + _("CPU time is limited to {limit} s: {factor} x the baseline's {per_epoch} s "
                        "per epoch x {epochs} epochs + {slack} s (budget.time_factor).").format(
            limit=f"{limit.cpu_s:.0f}", factor=f"{limit.factor:g}",
            per_epoch=f"{limit.baseline_cpu_per_epoch_s:.1f}", epochs=limit.epochs,
            slack=f"{SLACK_S:.0f}")
    hint = _(QUICK_HINT) if limit.quick else _(HINTS["timeout"])
    return {**failure, "message": f"{failure['message']}. {rule}", "hint": hint}


def cpu_timeout(run: Run, limit: TimeLimit) -> dict:
    """The failure of a run found past the CPU limit after it finished."""
    return explain(failure_dict(
        "timeout", _("the run used {used} s of CPU time").format(used=f"{run.cpu_s:.0f}"),
        expected={"cpu_s": round(limit.cpu_s, 1)}, got={"cpu_s": round(run.cpu_s, 1)}), limit)
