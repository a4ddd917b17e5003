"""A notebook cell's output (grader.commands.notebook, `from grader import colab`): the
progress as ONE line updated in place, then the final screen and the pictures inline.

A terminal's live bars redraw many times a second; in a notebook every redraw is a message
saved into the .ipynb (thousands of them, megabytes). Here the line is one display output
updated through its display id (what Colab and Jupyter replace in place, and nbclient
saves as the last state only), at most a few times a second; without IPython it is a
plain `\\r` status line. Everything the child sent is shown as plain text (no HTML or
markup of theirs is interpreted): IPython's text/plain, or rich Text through
grader.report.escape."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from grader.i18n import _
from grader.report.rows import run_name
from grader.report.terminal import PHASES

MIN_INTERVAL_S = 0.5   # between two updates of the line; a finished run always shows
WIDTH = 160            # a status longer than this is cut (student text could be long)


def in_notebook() -> bool:
    """True inside a Jupyter or Colab kernel (an IPython shell that can display)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ in ("ZMQInteractiveShell", "Shell")


class OneLineProgress:
    """The child's events as one status line: `student (seed 0): epoch 1/5, step 40/352,
    loss 1.873 | baseline (seed 0): test accuracy 52.10%`. Call it as grade_submission's
    on_event; use it as a context manager (the line's last state stays in the output)."""

    def __init__(self, stream=None, clock=time.monotonic):
        self.parts: dict[str, str] = {}   # a run's row -> its state, in the order they started
        self.ended: set[str] = set()      # rows whose run ended: the next run of theirs replaces them
        self.phase = ""
        self.clock, self.last = clock, 0.0
        self.stream = stream
        self.handle = None
        self.shown = ""

    def __enter__(self):
        if self.stream is None and in_notebook():
            from IPython.display import Pretty, display
            self.handle = display(Pretty(_("starting…")), display_id=True)
        return self

    def __exit__(self, *exc):
        self._flush(force=True)
        if self.handle is None and self.shown:
            (self.stream or sys.stderr).write("\n")

    def __call__(self, who: str, e: dict) -> None:
        try:
            force = self._update(who, e)
        except (KeyError, TypeError, ValueError, AttributeError):
            return  # an event the child forged or garbled: not shown, never fatal
        self._flush(force)

    def _update(self, who: str, e: dict) -> bool:
        kind = e.get("event")
        row = f"{who} #{e.get('seed')}"  # one part a run: calibration seeds train side by side
        if who == "calibrate":
            self.phase = _("baseline seed {seed} ({done} of {total} to train)…").format(
                seed=e["seed"], done=e["done"] + 1, total=e["total"])
        elif kind == "phase" and who == "grader":
            self.phase = _(PHASES.get(e["phase"], str(e["phase"]))) + "…"
        elif kind == "run_start":
            for done in [r for r in self.ended if r.startswith(who + " #")]:  # its last seed's
                self.ended.discard(done)
                for key in (done, done + ":steps", done + ":epochs"):
                    self.parts.pop(key, None)
            self.parts[row] = run_name(who, e) + ": " + _("starting")
        elif kind == "phase" and row in self.parts:
            self.parts[row] = self._head(row) + _(PHASES.get(e["phase"], str(e["phase"])))
        elif kind == "train_start":
            self.parts[row + ":steps"] = str(int(e["steps_per_epoch"]))
            self.parts[row + ":epochs"] = str(int(e["epochs"]))
        elif kind == "step" and row in self.parts:
            self.parts[row] = self._head(row) + _("epoch {epoch}/{epochs}  loss {loss}").format(
                epoch=int(e["epoch"]), epochs=self.parts.get(row + ":epochs", "?"),
                loss=f"{float(e['loss']):.3f}")
        elif kind == "epoch" and row in self.parts:
            self.parts[row] = self._head(row) + _("epoch {epoch} done, val acc {accuracy}").format(
                epoch=int(e["epoch"]), accuracy=f"{float(e['val_accuracy']):.2%}")
        elif kind == "run_end" and row in self.parts:
            self.parts[row] = self._head(row) + (
                _("failed: {summary}").format(summary=e["failure"]["summary"]) if e["failure"]
                else _("test accuracy {accuracy}").format(accuracy=f"{float(e['accuracy']):.2%}"))
            self.ended.add(row)
            return True
        elif kind == "cached":
            self.parts["baseline"] = _("baseline: cached result, test accuracy {accuracy}").format(
                accuracy=f"{float(e['accuracy']):.2%}")
            return True
        return False

    def _head(self, row: str) -> str:
        return self.parts[row].partition(": ")[0] + ": "

    def line(self) -> str:
        runs = [v for k, v in self.parts.items() if ":" not in k]
        text = " | ".join(runs) if runs else self.phase
        text = "".join(c if c.isprintable() else "?" for c in text)  # no control characters
        return text if len(text) <= WIDTH else text[:WIDTH - 1] + "…"

    def _flush(self, force: bool = False) -> None:
        now = self.clock()
        text = self.line()
        if text == self.shown or (not force and now - self.last < MIN_INTERVAL_S):
            return
        self.last, self.shown = now, text
        if self.handle is not None:
            from IPython.display import Pretty
            self.handle.update(Pretty(text))
        else:
            stream = self.stream or sys.stderr
            stream.write("\r" + text.ljust(WIDTH)[:WIDTH])
            stream.flush()


def show_picture(path: Path) -> bool:
    """A report's PNG inline; False where nothing can display it."""
    if not in_notebook() or not Path(path).is_file():
        return False
    from IPython.display import Image, display
    display(Image(data=Path(path).read_bytes(), format="png"))
    return True
