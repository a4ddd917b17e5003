"""The rubric's structural checks, judged in the parent from the facts the child reported.

Pure functions: (rubric, facts) -> CheckResult list. A check whose facts are missing
because an earlier step failed is failed with the reason, like check50's skipped checks.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader.rubric import Check, Rubric

DEFAULT_TITLES = {
    "output_shape": "Model returns logits [N, num_classes]",
    "max_parameters": "Parameter count within the budget",
    "budget": "EPOCHS and BATCH_SIZE within the budget",
    "module_output_shape": "Output shape of `{module}`",
    "module_parameters": "Parameters of `{module}`",
}


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    passed: bool
    points: float
    max_points: float
    output: str


def evaluate_checks(rubric: Rubric, run: dict, num_classes: int) -> list[CheckResult]:
    """`run` is the child's result: `inspection` and `requested` are present when it got
    that far; `failure` says why not otherwise."""
    return [_evaluate(c, rubric, run, num_classes) for c in rubric.checks]


def _evaluate(check: Check, rubric: Rubric, run: dict, num_classes: int) -> CheckResult:
    title = check.title or DEFAULT_TITLES[check.kind].format(module=check.module)
    facts = run.get("inspection")
    needs = "requested" if check.kind == "budget" else "inspection"
    if run.get(needs) is None:
        reason = (run.get("failure") or {}).get("summary", "an earlier step failed")
        return CheckResult(check.id, title, False, 0.0, check.points, f"Not checked: {reason}.")
    passed, output = JUDGES[check.kind](check, rubric, run, facts, num_classes)
    return CheckResult(check.id, title, passed, check.points if passed else 0.0, check.points, output)


def _output_shape(check, rubric, run, facts, num_classes):
    got = facts["output_shape"]
    want = [2, num_classes]
    if got == want:
        return True, f"A batch of 2 images gives logits {got}."
    return False, (f"Expected logits [N, {num_classes}] (for 2 images: {want}), got "
                   f"{got if got is not None else facts['output_type']}. The last layer must be "
                   f"Linear(..., {num_classes}) and forward must return its output.")


def _max_parameters(check, rubric, run, facts, num_classes):
    n, cap = facts["parameters"], rubric.budget.max_parameters
    if n <= cap:
        return True, f"{n:,} trainable parameters (budget {cap:,})."
    biggest = max(facts["layers"], key=lambda layer: layer["parameters"], default=None)
    where = f" The largest layer is `{biggest['name']}` ({biggest['type']}, " \
            f"{biggest['parameters']:,})." if biggest else ""
    return False, f"{n:,} trainable parameters, over the budget of {cap:,}.{where}"


def _budget(check, rubric, run, facts, num_classes):
    req, b = run["requested"], rubric.budget
    problems = []
    if req["EPOCHS"] > b.max_epochs:
        problems.append(f"EPOCHS = {req['EPOCHS']} is over the budget of {b.max_epochs} "
                        f"(trained for {b.max_epochs})")
    if req["BATCH_SIZE"] > b.max_batch_size:
        problems.append(f"BATCH_SIZE = {req['BATCH_SIZE']} is over the cap of {b.max_batch_size} "
                        f"(trained with {b.max_batch_size})")
    if problems:
        return False, "; ".join(problems) + "."
    return True, (f"EPOCHS = {req['EPOCHS']} (max {b.max_epochs}), "
                  f"BATCH_SIZE = {req['BATCH_SIZE']} (max {b.max_batch_size}).")


def _module_facts(check, facts):
    m = facts["modules"].get(check.module)
    if m is None or not m["exists"]:
        names = sorted({layer["name"].split(".")[0] for layer in facts["layers"]})
        return None, (f"The model has no submodule `{check.module}` (its top-level submodules: "
                      f"{', '.join(names) or 'none'}). Name the attribute as the assignment asks.")
    return m, None


def _module_output_shape(check, rubric, run, facts, num_classes):
    m, missing = _module_facts(check, facts)
    if missing:
        return False, missing
    got = m["output_shape"][1:] if m["output_shape"] else None
    if got == list(check.expected):
        return True, f"`{check.module}` outputs {got} per image."
    return False, f"`{check.module}` should output {list(check.expected)} per image, got {got}."


def _module_parameters(check, rubric, run, facts, num_classes):
    m, missing = _module_facts(check, facts)
    if missing:
        return False, missing
    if m["parameters"] == check.expected:
        return True, f"`{check.module}` has {m['parameters']:,} parameters."
    return False, f"`{check.module}` should have {check.expected:,} parameters, got {m['parameters']:,}."


JUDGES = {
    "output_shape": _output_shape,
    "max_parameters": _max_parameters,
    "budget": _budget,
    "module_output_shape": _module_output_shape,
    "module_parameters": _module_parameters,
}
