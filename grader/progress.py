"""Live progress for `grade --local`: a bar per training run with loss and time remaining,
and a line per finished epoch with its validation accuracy. Fed by the child's events."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

PHASES = {"data": "preparing data", "import": "importing hooks", "inspect": "inspecting the model",
          "train": "training", "test": "predicting the test set"}


class LiveProgress:
    def __init__(self, console: Console):
        self.console = console
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                            TextColumn("eta"), TimeRemainingColumn(), console=console)
        self.tasks: dict[str, int] = {}
        self.steps: dict[str, int] = {}
        self.epochs: dict[str, int] = {}

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def __call__(self, who: str, e: dict) -> None:
        kind = e.get("event")
        if kind == "phase" and who == "grader":
            self.console.print(f"[dim]{PHASES.get(e['phase'], e['phase'])}…[/]")
        elif kind == "run_start":
            self.tasks[who] = self.bar.add_task(f"{who} (seed {e['seed']})", total=None,
                                                status="starting")
        elif kind == "phase" and who in self.tasks:
            self.bar.update(self.tasks[who], status=PHASES.get(e["phase"], e["phase"]))
        elif kind == "train_start":
            self.steps[who], self.epochs[who] = e["steps_per_epoch"], e["epochs"]
            self.bar.update(self.tasks[who], total=e["epochs"] * e["steps_per_epoch"], completed=0)
        elif kind == "step" and who in self.steps:
            done = (e["epoch"] - 1) * self.steps[who] + e["step"]
            self.bar.update(self.tasks[who], completed=done,
                            status=f"epoch {e['epoch']}/{self.epochs[who]}  loss {e['loss']:.3f}")
        elif kind == "epoch":
            self.console.print(f"  {who:<8} epoch {e['epoch']:>2}/{self.epochs.get(who, '?')}  "
                               f"loss {e['train_loss']:.4f}  val acc {e['val_accuracy']:.2%}  "
                               f"{e['seconds']:.1f} s")
        elif kind == "run_end" and who in self.tasks:
            if e["failure"]:
                status = f"[red]failed: {e['failure']['summary']}[/]"
            else:
                status = f"[green]test accuracy {e['accuracy']:.2%}[/]"
            self.bar.update(self.tasks[who], status=status)
            self.bar.stop_task(self.tasks[who])
        elif kind == "cached":
            self.console.print(f"  baseline: cached result, test accuracy {e['accuracy']:.2%} "
                               "(trained earlier on this machine with the same rubric, data and code)")
