"""Student mistakes as typed failures: a stable code, a sentence a student understands,
and where it helps, what was expected, what we got and the likely cause.

Anything that is not a SubmissionError is a grader bug and is reported as one. The exit
statuses of every command live here too: they are how a failure leaves the grader.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.i18n import N_, _

# code -> one-line summary shown in every report. Codes are stable: exports key on them.
CODES = {
    "no_submission": N_("No submission found"),
    "bad_archive": N_("The archive could not be opened safely"),
    "bad_notebook": N_("The notebook could not be read"),
    "syntax_error": N_("Syntax error in the submission"),
    "import_error": N_("The submission could not be imported"),
    "bad_hook": N_("A hook has the wrong type or signature"),
    "missing_hook": N_("A hook the grading needs is missing"),
    "hook_error": N_("A hook raised an error"),
    "forward_error": N_("The model failed on a batch of images"),
    "bad_transform": N_("A transform did not return an image tensor"),
    "output_shape": N_("The model's output has the wrong shape"),
    "too_many_parameters": N_("The model has more parameters than the budget allows"),
    "non_finite_loss": N_("The loss became NaN or infinite"),
    "training_error": N_("An error was raised during training"),
    "timeout": N_("Training ran past the time limit"),
    "tampered_result": N_("What the run reported differs from what the grader measured again"),
    "extra_training": N_("The run trained more than the budget allows"),
    "out_of_memory": N_("Training ran out of memory"),
    "killed": N_("The grading process was killed"),
    "output_limit": N_("The submission wrote too much output"),
    "grader_error": N_("Internal grader error (not your fault; please report it)"),
}

# The advice that goes with a failure wherever it is detected (in the child, or by the
# parent when the child died of it). Both tables hold English ids that `to_dict`
# translates, so a caller passes HINTS[key] as it is.
HINTS = {
    "output_limit": N_("Remove print() calls inside the training loop or forward()."),
    "out_of_memory": N_("Lower BATCH_SIZE or make the model smaller; the rubric limits the "
                        "memory one run may use."),
    "exit": N_("Remove calls to exit(), sys.exit() or os._exit() from your code."),
    "timeout": N_("Fewer epochs, a smaller model or a larger batch size train faster."),
    "network": N_("Grading has no network: nothing can be downloaded. Build torchvision models "
                  "with weights=None (e.g. resnet18(weights=None, num_classes=info.num_classes)) "
                  "and train them from scratch; a download in a hook fails."),
    "device": N_("The grader chooses the device (here the CPU) and moves the model there itself. "
                 "Do not call .cuda() or .to('cuda') in your code; where forward creates a "
                 "tensor, put it on the input's device: torch.zeros(..., device=x.device) or "
                 "t.to(x.device)."),
}

# What a submission may raise that is not an error of its code: the exits, which the worker
# names as such (HINTS["exit"]). Every other exception it raises, a BaseException subclass
# of its own included, is the student's failure (hook_error, training_error...), never the
# grader's: the child catches BaseException but these wherever it calls student code.
EXITS = (SystemExit, KeyboardInterrupt)

# The spec's exit statuses.
EXIT_GRADED = 0       # graded
EXIT_UNDER = 1        # graded, but under --fail-under
EXIT_USAGE = 2        # bad usage, an invalid rubric, no data
EXIT_UNGRADABLE = 3   # the submission could not be graded (it still gets a report)
EXIT_INTERNAL = 4     # the grader failed (not the student's fault)


def exit_status(results, fail_under: float | None) -> int:
    """The exit status of a grading's grader.report.record.Results."""
    if results.failure_code == "grader_error":
        return EXIT_INTERNAL  # the grader's own failure, never charged as the student's
    if results.status == "failed":
        return EXIT_UNGRADABLE
    if fail_under is not None and results.score < fail_under:
        return EXIT_UNDER
    return EXIT_GRADED


class SubmissionError(Exception):
    def __init__(self, code: str, message: str, *, expected=None, got=None, hint=None,
                 trace: str | None = None):
        assert code in CODES, code
        super().__init__(message)
        self.code, self.message = code, message
        self.expected, self.got, self.hint, self.trace = expected, got, hint, trace

    def to_dict(self) -> dict:
        return {"code": self.code, "summary": _(CODES[self.code]), "message": self.message,
                "expected": _plain(self.expected), "got": _plain(self.got),
                "hint": _(self.hint) if self.hint else self.hint, "trace": self.trace}


def failure_dict(code: str, message: str, **kw) -> dict:
    return SubmissionError(code, message, **kw).to_dict()


@dataclass
class Failure:
    """Why a submission could not be graded, as results.json keeps it (failure_dict's keys;
    a child sends it as that dict, grader.report.record reads it as this)."""
    code: str                     # one of CODES: stable, for scripts and exports
    summary: str                  # CODES[code] in the run's language
    message: str
    expected: object | None = None  # what the grader wanted, where that is a value
    got: object | None = None     # what it got instead
    hint: str | None = None       # what to do about it
    trace: str | None = None      # the student's own frames of the traceback


def describe(failure: Failure) -> str:
    """Several lines for a report: the summary, the message, expected/got and the hint."""
    lines = [f"{failure.summary}: {failure.message}"]
    # the labels share one width per language so the values line up under each other
    labels = [_("expected:"), _("got:"), _("likely cause:")]
    width = max(len(label) for label in labels[:2])
    if failure.expected is not None:
        lines.append(f"  {labels[0]:<{width}} {failure.expected}")
    if failure.got is not None:
        lines.append(f"  {labels[1]:<{width}} {failure.got}")
    if failure.hint:
        lines.append(f"  {labels[2]} {failure.hint}")
    if failure.trace:
        lines.append(failure.trace.rstrip())
    return "\n".join(lines)


def student_traceback(exc: BaseException, roots: list[Path], limit: int = 4000,
                      locate: Callable[[str, int], str | None] | None = None) -> str:
    """The traceback trimmed to frames in the student's own files, which is what they can
    fix; the grader's and torch's frames are noise to them. Falls back to the last frames.

    `locate(filename, lineno)` names a frame's place as the student knows it (`lab.ipynb,
    cell 3, line 2` for a notebook's generated source), or None to show the path."""
    frames = own_frames(exc, roots)
    shown = frames or traceback.extract_tb(exc.__traceback__)[-3:]
    text = "".join(_frame_text(f, locate) for f in shown)
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return text[-limit:]


def own_frames(exc: BaseException, roots: list[Path]) -> list[traceback.FrameSummary]:
    """The frames of `exc`'s traceback that are in files under `roots`, outermost first."""
    roots = [str(Path(r).resolve()) for r in roots]
    return [f for f in traceback.extract_tb(exc.__traceback__)
            if any(str(Path(f.filename).resolve()).startswith(r) for r in roots)]


def _frame_text(frame: traceback.FrameSummary, locate) -> str:
    where = locate(frame.filename, frame.lineno) if locate else None
    head = f"  {where}, in {frame.name}" if where else \
        f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
    return head + "\n" + (f"    {frame.line.strip()}\n" if frame.line else "")


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    return value
