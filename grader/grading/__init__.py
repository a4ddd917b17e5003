"""Grade one submission: load it, train it and the baseline in child processes under the
rubric's budget, score the gain, and return one results object (grader.report.results).

The pipeline, stage by stage: load (grader.load) -> run in the sandbox (grader.sandbox:
inspect and train in the child) -> judge the checks (grader.inspection.checks) -> score
(grader.scoring) -> the results object (grader.report.results), which every front end
renders.

A student's mistake never raises out of here: it becomes a failed result with partial
credit. What does raise is the grader's environment: a missing data set (DataNotFound)
or a baseline that fails to train (GraderError).

The package, module by module: grade (one submission, seed by seed), runs (one training
run in a child and the parent's checks of it), calibration (the baseline's distribution),
context (what every run of one grading shares).
"""
from grader.grading.calibration import calibrate, distribution_rule, ensure_baselines, pinned_distribution
from grader.grading.context import (ACCOUNT, GraderError, GradingContext, library_versions,
                                    resolve_device)
from grader.grading.grade import grade_submission

__all__ = ["ACCOUNT", "GraderError", "GradingContext", "calibrate", "distribution_rule",
           "ensure_baselines", "grade_submission", "library_versions", "pinned_distribution",
           "resolve_device"]
