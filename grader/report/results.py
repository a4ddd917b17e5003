"""The one results object every report renders (grader.report.record.Results), built from
a grading's runs; its JSON form is Gradescope's results.json.

Gradescope reads `score`, `execution_time`, `output`, `visibility`, `stdout_visibility`,
`tests` and `leaderboard`; the grader keeps its own fields beside them: `status`,
`official`, `metrics`, `failure`, `submission`, `model`, `history` and `provenance` (the
resolved rubric, seeds, device, versions and code hashes behind every number).
"""
from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from grader.failures import Failure, describe
from grader.i18n import N_, _, ngettext
from grader.inspection.checks import first_wrong
from grader.load import testset
from grader.load.submission import source_digest
from grader.records import RecordError, as_type, load
from grader.report.record import (BaselineSeed, Code, Data, Distribution, DivergedSeed, Epoch,
                                  History, Item, LeaderboardEntry, Memorisation, Metrics, Model,
                                  Pair, PerSeed, Pipeline, Provenance, Results, Submission,
                                  TestSet, Versions)
from grader.report.rows import baseline_summary, gain_summary
from grader.scoring.baseline_cache import grader_code_digest
from grader.scoring.metrics import mean, per_class, summed
from grader.scoring.points import decide_tier, pending_points, total

ADVISORY = N_("Advisory score: graded where the student controls the environment. "
              "The official grade comes from the instructor's run.")
UNCONFINED = N_("NOT OFFICIAL: the submission's code ran without file-system confinement "
                "(neither bubblewrap nor Landlock here), so it could have reached the grader's "
                "files. Grade where bubblewrap or Landlock works, or accept this with "
                "--allow-unconfined.")
UNOFFICIAL_QUICK = N_("UNOFFICIAL smoke run (--quick): {train} training images, {epochs}. "
                      "Accuracies and points are not comparable with the real grade.")


def build_results(ctx, *, submission, origin, runs, baseline_runs, failure, items,
                  gain=None, divergences=None) -> Results:
    """`ctx` is the grading's grader.grading.GradingContext; `runs` and `baseline_runs` are
    grader.sandbox.protocol.Run records; `submission` the loaded Submission (None when it
    could not be loaded); `items` the rubric items' dicts (grader.scoring.points); `gain` the
    grader.scoring.noise.Gain (None without an accuracy)."""
    rubric = ctx.rubric
    score, max_score = total(items)
    # official: the instructor's run, full budget, and student code that could not reach
    # the grader's files (or an instructor who accepted that it could)
    unconfined = ctx.mode == "official" and not ctx.confined and not ctx.allow_unconfined
    official = ctx.mode == "official" and not ctx.quick and not unconfined
    accuracy = mean([r.accuracy for r in runs]) if runs and not failure else None
    metrics = _metrics(ctx, runs, baseline_runs, failure, gain, divergences, accuracy)
    first = runs[0] if runs else None
    facts = first.inspection if first else None
    results = Results(
        score=round(score, 4), max_score=max_score,
        pending_points=pending_points(items),
        execution_time=round(metrics.wall_time_s, 1),
        visibility="visible", stdout_visibility="hidden",
        status="failed" if failure else "graded",
        official=official, mode=ctx.mode, quick=ctx.quick,
        notice=_(UNCONFINED) if unconfined else _notice(official, ctx.quick, rubric),
        tests=[load(Item, i, "item") for i in items],
        leaderboard=([LeaderboardEntry("Accuracy", round(accuracy * 100, 2), "desc")]
                     if accuracy is not None else []),
        metrics=metrics, failure=load(Failure, failure, "failure") if failure else None,
        anomaly=_anomaly(rubric, accuracy, metrics.test_set, runs),
        submission=_submission(submission, origin, first),
        artifacts=ctx.artifacts or [],
        model=Model(layers=facts.layers if facts else [], modules=facts.modules if facts else {},
                    error=facts and facts.error, first_wrong=first_wrong(rubric, facts),
                    expected={c.module: list(c.expected) for c in rubric.checks
                              if c.kind == "module_output_shape"}),
        history=History(student=[_history(r) for r in runs],
                        baseline=[_history(b) for b in baseline_runs]),
        provenance=_provenance(ctx, submission))
    results.output = summary_text(results)
    return results


def _metrics(ctx, runs, baseline_runs, failure, gain, divergences, accuracy) -> Metrics:
    """results.json's `metrics`: what was measured in this grading, with the gain's figures
    and the distribution it was measured against."""
    rubric, data, dist = ctx.rubric, ctx.data, ctx.distribution
    # the accuracy the gain is measured from: the calibrated mean, or the paired runs'
    base_acc = gain.reference if gain else mean([r.accuracy for r in baseline_runs])
    decision = decide_tier(gain, rubric) if gain and rubric.scoring.gain_tiers else None
    first = runs[0] if runs else None
    effective, training = (first and first.effective) or {}, (first and first.training) or {}
    confusion = Pair(student=summed([r.confusion for r in runs] if not failure else []),
                     baseline=summed([b.confusion for b in baseline_runs]))
    return Metrics(
        accuracy=accuracy, baseline_accuracy=base_acc,
        gain_pp=gain.point_pp if gain else None,
        gain_interval_pp=list(gain.interval_pp) if gain and gain.interval_pp else None,
        gain_method=gain.method if gain else None,
        baseline_std_pp=dist.std * 100 if dist else None,
        baseline_seeds=dist.n if dist else len(baseline_runs),
        baseline_distribution=(Distribution(mean=dist.mean, std=dist.std, n=dist.n,
                                            source=dist.source, seeds=list(dist.seeds),
                                            accuracies=list(dist.accuracies),
                                            measured_on=dist.measured_on) if dist else None),
        tier_decided=decision.decided if decision else None,
        # which distribution and credit rule the grade follows: from the rubric and the
        # mode (grader.grading.distribution_rule), never from the cache's history
        distribution_source=dist.source if dist else None,
        distribution_rule=getattr(ctx, "distribution_rule", None),
        credit=rubric.scoring.credit_mode,
        gain_credited_pp=decision.credited_pp if decision else None,
        gain_runs=gain.runs if gain else None,
        baseline_diverged=dist.diverged_runs if dist else None,
        diverged_seeds=[DivergedSeed(seed=seed, epoch=d.epoch, loss=d.loss,
                                     val_accuracy=d.val_accuracy, by=d.by)
                        for seed, d in sorted((divergences or {}).items())],
        extra_seeds=0 if ctx.quick else max(0, len(runs) - rubric.min_seeds),
        smoke_run=ctx.quick,  # one seed on a subset: the gain's interval is a smoke run's
        parameters=first.inspection.parameters if first and first.inspection else None,
        baseline_parameters=next((b.trainable() for b in baseline_runs
                                  if b.trainable() is not None), None),
        epochs=effective.get("epochs"), epochs_run=training.get("epochs_run"),
        batch_size=effective.get("batch_size"), pipeline=_pipeline(training),
        training_switches=asdict(rubric.training),
        seeds=[r.seed for r in runs],
        per_seed=[_per_seed(r) for r in runs],
        baseline_per_seed=[BaselineSeed(seed=b.seed, accuracy=b.accuracy, source=b.source,
                                        cpu_s=b.cpu_s, measured_at=b.measured_at)
                           for b in baseline_runs],
        baseline_source=sorted({b.source for b in baseline_runs}) or None,
        # each run measured again by the parent (grader.grading.runs.verify): findings, figures, time
        verification=[{"seed": r.seed, **r.verification} for r in runs if r.verification],
        wall_time_s=time.time() - ctx.started,
        time_limit=asdict(ctx.time_limit) if ctx.time_limit else None,
        device=ctx.device,
        cpu_cores=list(ctx.cpus) if ctx.cpus else None,  # a batch worker's share, else all
        gpu_share=ctx.gpu_share,
        # test-set confusion matrices (rows: true class), summed over seeds, and the
        # per-class accuracy they give; the baseline's when it was trained or cached here
        classes=list(data.info.classes), confusion=confusion,
        per_class=Pair(student=per_class(confusion.student), baseline=per_class(confusion.baseline)),
        test_set=_test_set(ctx, runs if accuracy is not None else [], accuracy))


def _history(run) -> list[Epoch]:
    """The run's epochs as the loop records them; none where what came back is not that
    form (the training record is the child's word: grader.inspection.audit holds it to the
    budget, and the reports draw only what reads as epochs)."""
    return _typed(list[Epoch], (run.training or {}).get("history")) or []


def _pipeline(training: dict) -> Pipeline | None:
    return _typed(Pipeline, training.get("pipeline"))


def _typed(kind, value):
    """`value` loaded as `kind` (grader.records), or None where it is not one."""
    if value is None:
        return None
    try:
        return as_type(kind, value, "training")
    except RecordError:
        return None


def _per_seed(r) -> PerSeed:
    """One student run's figures and where its time went."""
    history = _history(r)
    return PerSeed(seed=r.seed, accuracy=r.accuracy,
                   train_seconds=(r.training or {}).get("train_seconds"),
                   wall_s=r.wall_s, startup_s=r.startup_s, cpu_s=r.cpu_s, waited_s=r.waited_s,
                   validation_seconds=sum(e.val_seconds or 0.0 for e in history) or None,
                   # making the training batches (augmentation included), within train_seconds
                   data_seconds=sum(e.data_seconds or 0.0 for e in history) or None,
                   predict_s=r.timings.get("predict_s"), import_s=r.timings.get("import_s"),
                   inspect_s=r.timings.get("inspect_s"))


def _anomaly(rubric, accuracy, test_set: TestSet, runs) -> str | None:
    """Why an instructor should look at this result, or None: an implausible accuracy, a
    memorisation gap, a report that did not hold against the grader's measurements."""
    ceiling = rubric.scoring.max_plausible_accuracy
    anomaly = (_("Test accuracy {accuracy} is above what this budget plausibly allows "
                 "({ceiling}): flagged for an instructor's review.").format(
                     accuracy=f"{accuracy:.2%}", ceiling=f"{ceiling:.0%}")
               if ceiling is not None and accuracy is not None and accuracy > ceiling else None)
    check = test_set.memorisation
    if check and check.flagged:
        anomaly = " ".join(filter(None, [anomaly, _(
            "On untouched public test images its accuracy is {gap} points higher than on the "
            "re-rendered ones it was graded on ({public} against {graded}): it may recognise "
            "the public test set. Flagged for an instructor's review.").format(
                gap=f"{check.gap_pp:.1f}", public=f"{check.public_accuracy:.2%}",
                graded=f"{accuracy:.2%}")]))
    audited = [r for r in runs if (r.failure or {}).get("code") in ("tampered_result", "extra_training")]
    if audited:  # grader.grading.runs.verify: the child's report did not hold
        anomaly = " ".join(filter(None, [anomaly, _(
            "What the run reported did not hold against the grader's own measurements ({facts}): "
            "not graded, and flagged for an instructor's review.").format(
                facts=", ".join(dict.fromkeys(f["fact"] for r in audited for f in
                                              (r.verification or {}).get("findings", [])
                                              + (r.verification or {}).get("budget_findings", []))))]))
    return anomaly


def _submission(submission, origin, first) -> Submission:
    """What was graded: the loaded submission (None when it could not be loaded) and what
    its first run said of its hooks."""
    notes = list(submission.notes) if submission else []
    notes += (first.notes if first else None) or []
    return Submission(name=submission.name if submission else Path(origin).name,
                      origin=str(origin), kind=submission.kind if submission else None,
                      digest=submission.digest if submission else None,
                      customised_hooks=first.customised if first else None,
                      requested=first.requested if first else None, notes=notes,
                      output_tail=first.log_tail if first else "")


def _provenance(ctx, submission) -> Provenance:
    """What the grade was measured with: rubric, seeds, device, versions, confinement, data
    and code digests."""
    rubric, data = ctx.rubric, ctx.data
    return Provenance(
        rubric_name=rubric.name, rubric_digest=rubric.digest(), rubric=rubric.to_dict(),
        seeds=list(rubric.seeds), device=ctx.device, versions=Versions(**ctx.versions),
        isolation=ctx.isolation, confined=ctx.confined, allow_unconfined=ctx.allow_unconfined,
        data=Data(name=data.info.name, source=data.source, digest=data.digest,
                  info=asdict(data.info)),
        code=Code(grader_training=grader_code_digest(),
                  reference=source_digest(rubric.baseline_path),
                  submission=submission.digest if submission else None),
        graded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ctx.started)))


def _test_set(ctx, runs, accuracy) -> TestSet:
    """Which test set the grade was measured on, and the memorisation check's figures."""
    if ctx.test_key is None:
        return TestSet(kind="private", dir=ctx.rubric.dataset.test_dir)
    facts = TestSet(kind="public-rerendered", rendering=testset.fingerprint(ctx.test_key))
    public = [r.public_accuracy for r in runs if r.public_accuracy is not None]
    if public and runs[0].confusion:
        graded = sum(map(sum, runs[0].confusion))
        facts.memorisation = Memorisation(**testset.memorisation_gap(
            accuracy, graded * len(runs), mean(public),
            min(testset.PUBLIC_SAMPLE, graded) * len(public)))
    return facts


def summary_text(results: Results) -> str:
    """The few lines Gradescope shows above the tests."""
    m = results.metrics
    lines = [results.notice] if results.notice else []
    if results.anomaly:
        lines.append(_("FLAGGED FOR REVIEW:") + " " + results.anomaly)
    if results.failure:
        lines.append(describe(results.failure))
    if m.accuracy is not None and m.baseline_accuracy is not None:
        lines.append(_("Test accuracy {accuracy} vs baseline {baseline}: gain {gain}.").format(
            accuracy=f"{m.accuracy:.2%}", baseline=baseline_summary(m), gain=gain_summary(m)))
    lines.append(score_line(results) + ".")
    return "\n".join(lines)


def score_line(results: Results) -> str:
    """`Score 62 / 100`, and the points still to be graded by hand, if any."""
    line = _("Score {score} / {max}").format(score=f"{results.score:g}",
                                             max=f"{results.max_score:g}")
    if results.pending_points:
        pending = results.pending_points
        line += " " + ngettext("(+ {points} point pending manual grading)",
                               "(+ {points} points pending manual grading)",
                               1 if pending == 1 else 2).format(points=f"{pending:g}")
    return line


def _notice(official: bool, quick: bool, rubric) -> str:
    if quick:
        q = rubric.quick
        epochs = ngettext("{n} epoch", "{n} epochs", q.epochs).format(n=q.epochs)
        return _(UNOFFICIAL_QUICK).format(train=f"{q.train_subset:,}", epochs=epochs)
    return "" if official else _(ADVISORY)
