"""Student mistakes as typed failures: a stable code, a sentence a student understands,
and where it helps, what was expected, what we got and the likely cause.

Anything that is not a SubmissionError is a grader bug and is reported as one. The exit
statuses of every command live here too: they are how a failure leaves the grader.
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Callable

# code -> one-line summary shown in every report. Codes are stable: exports key on them.
CODES = {
    "no_submission": "No submission found",
    "bad_archive": "The archive could not be opened safely",
    "bad_notebook": "The notebook could not be read",
    "syntax_error": "Syntax error in the submission",
    "import_error": "The submission could not be imported",
    "bad_hook": "A hook has the wrong type or signature",
    "missing_hook": "A hook the grading needs is missing",
    "hook_error": "A hook raised an error",
    "forward_error": "The model failed on a batch of images",
    "bad_transform": "A transform did not return an image tensor",
    "output_shape": "The model's output has the wrong shape",
    "too_many_parameters": "The model has more parameters than the budget allows",
    "non_finite_loss": "The loss became NaN or infinite",
    "training_error": "An error was raised during training",
    "timeout": "Training ran past the time limit",
    "out_of_memory": "Training ran out of memory",
    "killed": "The grading process was killed",
    "output_limit": "The submission wrote too much output",
    "grader_error": "Internal grader error (not your fault; please report it)",
}

# The advice that goes with a failure wherever it is detected (in the child, or by the
# parent when the child died of it).
HINTS = {
    "output_limit": "Remove print() calls inside the training loop or forward().",
    "out_of_memory": "Lower BATCH_SIZE or make the model smaller; the rubric limits the "
                     "memory one run may use.",
    "exit": "Remove calls to exit(), sys.exit() or os._exit() from your code.",
    "timeout": "Fewer epochs, a smaller model or a larger batch size train faster.",
    "network": "Grading has no network: nothing can be downloaded. Build torchvision models "
               "with weights=None (e.g. resnet18(weights=None, num_classes=info.num_classes)) "
               "and train them from scratch; a download in a hook fails.",
    "device": "The grader chooses the device (here the CPU) and moves the model there itself. "
              "Do not call .cuda() or .to('cuda') in your code; where forward creates a "
              "tensor, put it on the input's device: torch.zeros(..., device=x.device) or "
              "t.to(x.device).",
}

# The spec's exit statuses.
EXIT_GRADED = 0       # graded
EXIT_UNDER = 1        # graded, but under --fail-under
EXIT_USAGE = 2        # bad usage, an invalid rubric, no data
EXIT_UNGRADABLE = 3   # the submission could not be graded (it still gets a report)
EXIT_INTERNAL = 4     # the grader failed (not the student's fault)


def exit_status(results: dict, fail_under: float | None) -> int:
    if results["status"] == "failed":
        return EXIT_UNGRADABLE
    if fail_under is not None and results["score"] < fail_under:
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
        return {"code": self.code, "summary": CODES[self.code], "message": self.message,
                "expected": _plain(self.expected), "got": _plain(self.got),
                "hint": self.hint, "trace": self.trace}


def failure_dict(code: str, message: str, **kw) -> dict:
    return SubmissionError(code, message, **kw).to_dict()


def describe(failure: dict) -> str:
    """Several lines for a report: the summary, the message, expected/got and the hint."""
    lines = [f"{failure['summary']}: {failure['message']}"]
    if failure.get("expected") is not None:
        lines.append(f"  expected: {failure['expected']}")
    if failure.get("got") is not None:
        lines.append(f"  got:      {failure['got']}")
    if failure.get("hint"):
        lines.append(f"  likely cause: {failure['hint']}")
    if failure.get("trace"):
        lines.append(failure["trace"].rstrip())
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
