"""What the parent holds a training child's report against. Pure functions, in the parent.

The training child runs the submission's code in its own process, so whatever it reports
(its inspection, its history, its test logits) is the submission's word. Two things are
checked here:

- `remeasured`: the report against a fresh, separately confined child that loaded the
  weights the training child saved (grader.sandbox.worker.run_verify), with the parameter
  count recomputed here from those weights (the parent holds them) and the two sets of
  test predictions compared;
- `trained_within_budget`: the history and the loop's ledger (grader.training.loop.LEDGER)
  against the epochs, batch size and steps the budget allows, computed here from the
  rubric and the split, not taken from the child.

Each returns findings, {"fact", "reported", "measured"}: none for an honest run.
"""
from __future__ import annotations

import math

# Test images whose predicted class may differ between the training child and the fresh
# one: the same weights, threads and kernels predict identically on a CPU; a GPU may pick
# other convolution algorithms in a new process, which flips a near-tie now and then. A
# swapped result or a model that behaves otherwise once rebuilt differs in far more.
PREDICTION_TOLERANCE = 0.002
MIN_DIFFERING = 2


def finding(fact: str, reported, measured) -> dict:
    return {"fact": fact, "reported": reported, "measured": measured}


def parameters_in(weights: dict, shapes: dict) -> tuple[int | None, list[str]]:
    """The trainable parameters the fresh child named, counted from the saved weights the
    parent holds; and the names that are not there with that shape."""
    wrong = [name for name, shape in shapes.items()
             if name not in weights or list(weights[name].shape) != list(shape)]
    if wrong:
        return None, wrong
    return sum(weights[name].numel() for name in shapes), []


def differing(reported, measured) -> int | None:
    """How many rows of two logit tensors predict another class; None when their shapes
    differ (or one is missing)."""
    if reported is None or measured is None or tuple(reported.shape) != tuple(measured.shape):
        return None
    return int((reported.argmax(1) != measured.argmax(1)).sum())


def agrees(reported, measured) -> bool:
    n = differing(reported, measured)
    return n is not None and n <= max(MIN_DIFFERING, PREDICTION_TOLERANCE * len(measured))


def remeasured(state, measured) -> list[dict]:
    """The training child's report (`state`) against the fresh child's measurements
    (`measured`), both grader.sandbox.protocol.ChildResult."""
    weights = state.model_state
    if not weights:
        return [finding("weights", None, "the training run returned no weights")]
    if measured.weights_error:
        return [finding("weights", "the trained model", measured.weights_error)]
    if measured.failure:  # the same code failed when rebuilt from its own weights
        return [finding("fresh_run", "trained and predicted", measured.failure.get("message"))]
    facts = state.inspection or {}
    found = []
    count, wrong = parameters_in(weights, measured.parameter_shapes or {})
    if wrong:
        found.append(finding("parameter_names", "in the saved weights", wrong[:10]))
    elif count != measured.parameters:
        found.append(finding("parameters", measured.parameters, count))
    if count is not None and count != facts.get("parameters"):
        found.append(finding("parameters", facts.get("parameters"), count))
    if measured.output_shape != facts.get("output_shape"):
        found.append(finding("output_shape", facts.get("output_shape"), measured.output_shape))
    if measured.forward_error:
        found.append(finding("forward", "ran", measured.forward_error))
        return found
    # the training child predicted the head of the test set (grading.ACCOUNT images)
    reported, fresh = state.test_logits, measured.test_logits
    fresh = fresh[:len(reported)] if fresh is not None and reported is not None else fresh
    if not agrees(reported, fresh):
        n = differing(reported, fresh)
        found.append(finding("test_predictions", "the training run's predictions",
                             f"{n} of {len(fresh)} differ" if n is not None else "not comparable"))
    return found


def allowed_epochs(requested: dict | None, max_epochs: int, quick_epochs: int | None) -> int:
    """The epochs the loop runs: --quick's, else the submission's EPOCHS within the budget
    (what the worker computes, recomputed from the rubric)."""
    if quick_epochs:
        return quick_epochs
    asked = (requested or {}).get("EPOCHS")
    return min(asked, max_epochs) if isinstance(asked, int) and asked >= 1 else max_epochs


def trained_within_budget(run, *, max_epochs: int, quick_epochs: int | None,
                          max_batch_size: int, n_train: int) -> list[dict]:
    """`run`: a grader.sandbox.protocol.Run that trained. The budget's bounds are the
    rubric's; the submission's own choices (EPOCHS, BATCH_SIZE, EARLY_STOPPING_PATIENCE)
    come from its report and can only lower them."""
    training, effective, requested = run.training or {}, run.effective or {}, run.requested or {}
    found = []
    epochs = allowed_epochs(requested, max_epochs, quick_epochs)
    if effective.get("epochs") != epochs:
        found.append(finding("epochs", effective.get("epochs"), epochs))
    history = training.get("history")
    if not isinstance(history, list):
        return found + [finding("history", None, "no per-epoch history")]
    numbers = [h.get("epoch") if isinstance(h, dict) else None for h in history]
    if numbers != list(range(1, len(history) + 1)):
        found.append(finding("history", numbers, list(range(1, len(history) + 1))))
    patience = requested.get("EARLY_STOPPING_PATIENCE")
    stopped = isinstance(patience, int) and patience < len(history) < epochs
    if len(history) > epochs or (len(history) < epochs and not stopped):
        found.append(finding("history_length", len(history), epochs))
    asked = requested.get("BATCH_SIZE")
    batch = min(asked, max_batch_size) if isinstance(asked, int) and asked >= 1 else None
    if batch is None or effective.get("batch_size") != batch:
        found.append(finding("batch_size", effective.get("batch_size"), batch))
    per_epoch = math.ceil(n_train / batch) if batch else None
    if training.get("steps_per_epoch") != per_epoch:
        found.append(finding("steps_per_epoch", training.get("steps_per_epoch"), per_epoch))
    ledger = run.ledger
    if not isinstance(ledger, dict):
        return found + [finding("ledger", None, "the training loop's counters are missing")]
    if ledger.get("calls") != 1:
        found.append(finding("loop_calls", ledger.get("calls"), 1))
    if per_epoch and ledger.get("steps") != len(history) * per_epoch:
        found.append(finding("optimizer_steps", ledger.get("steps"), len(history) * per_epoch))
    if ledger.get("outside_steps") != 0:
        found.append(finding("outside_steps", ledger.get("outside_steps"), 0))
    return found
