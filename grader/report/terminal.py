"""The terminal: live progress while `grade --local` trains (a bar per training run with
loss and time remaining, a line per finished epoch with its validation accuracy, fed by
the child's events), then the final screen rendered from the results object.

Whatever came from the submission or its child (events included: student code can write
them) reaches the terminal through grader.report.escape, as rich Text or escaped markup:
no markup, escape sequence or control character of theirs is interpreted."""
from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from grader.failures import describe
from grader.i18n import N_, _
from grader.report.escape import markup, rich_text
from grader.report.record import Results
from grader.report.results import score_line
from grader.report.rows import (count, run_name, detail, gain_summary, points, state, summary_rows,
                                test_set_text)

PHASES = {"data": N_("preparing data"), "import": N_("importing hooks"),
          "inspect": N_("inspecting the model"), "train": N_("training"),
          "test": N_("predicting the test set")}


class LiveProgress:
    def __init__(self, console: Console):
        self.console = console
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                            TextColumn(_("eta")), TimeRemainingColumn(), console=console)
        self.tasks: dict[str, int] = {}
        self.steps: dict[str, int] = {}
        self.epochs: dict[str, int] = {}

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def __call__(self, who: str, e: dict) -> None:
        try:
            self._show(who, e)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an event the child forged or garbled: not shown, never fatal

    def _show(self, who: str, e: dict) -> None:
        kind = e.get("event")
        row = f"{who}:{e.get('seed')}"  # one row a run: calibration seeds train side by side
        if who == "calibrate":
            self.console.print("[dim]" + _("baseline seed {seed} ({done} of {total} to train)…")
                               .format(seed=e["seed"], done=e["done"] + 1, total=e["total"]) + "[/]")
        elif kind == "phase" and who == "grader":
            self.console.print("[dim]" + markup(_(PHASES.get(e["phase"], e["phase"]))) + "…[/]")
        elif kind == "run_start":
            self.tasks[row] = self.bar.add_task(markup(run_name(who, e)), total=None, status=_("starting"))
        elif kind == "phase" and row in self.tasks:
            self.bar.update(self.tasks[row], status=markup(_(PHASES.get(e["phase"], e["phase"]))))
        elif kind == "train_start":
            self.steps[row], self.epochs[row] = e["steps_per_epoch"], e["epochs"]
            self.bar.update(self.tasks[row], total=e["epochs"] * e["steps_per_epoch"], completed=0)
        elif kind == "step" and row in self.steps:
            done = (e["epoch"] - 1) * self.steps[row] + e["step"]
            self.bar.update(self.tasks[row], completed=done,
                            status=markup(_("epoch {epoch}/{epochs}  loss {loss}").format(
                                epoch=e["epoch"], epochs=self.epochs[row], loss=f"{e['loss']:.3f}")))
        elif kind == "epoch":
            self.console.print("  " + markup(run_name(who, e).ljust(18) + " " + _(
                "epoch {epoch}/{epochs}  loss {loss}  val acc {accuracy}  {seconds} s").format(
                epoch=f"{e['epoch']:>2}", epochs=self.epochs.get(row, "?"),
                loss=f"{e['train_loss']:.4f}", accuracy=f"{e['val_accuracy']:.2%}",
                seconds=f"{e['seconds']:.1f}")))
        elif kind == "run_end" and row in self.tasks:
            if e["failure"]:
                status = "[red]" + markup(_("failed: {summary}").format(
                    summary=e["failure"]["summary"])) + "[/]"
            else:
                status = "[green]" + _("test accuracy {accuracy}").format(
                    accuracy=f"{e['accuracy']:.2%}") + "[/]"
            self.bar.update(self.tasks[row], status=status)
            self.bar.stop_task(self.tasks[row])
        elif kind == "cached":
            self.console.print("  " + markup(_(
                "baseline: cached result, test accuracy {accuracy} (trained earlier on this "
                "machine with the same rubric, data and code)").format(accuracy=f"{e['accuracy']:.2%}")))


# What a run's confinement lacked (provenance.isolation's `lacks`, codes the sandbox
# records: sandbox/confine/describe.py), in the words the terminal and a notebook say.
LACKS = {
    "filesystem": "student code ran without file-system confinement (neither bubblewrap nor "
                  "Landlock here, or GRADER_SANDBOX=none): it could reach the grader's files",
    "seccomp": "seccomp unavailable here: sockets other than TCP (UDP, raw) and ptrace were not "
               "filtered (pip install pyseccomp; apt install libseccomp2)",
    "uid": "uid unavailable here: the child ran as root (without capabilities), not as a uid "
           "of its own: {why}",
    "cgroup": "cgroup unavailable here: processes and memory were limited per process only, "
              "not for all it forks: {why}",
    "cgroup_limits": "the run's cgroup had no process or memory limit: the grader's own cgroup "
                     "cannot hand the pids and memory controllers down (cgroup v2 with processes "
                     "in it); it still killed everything in it at the end",
    "network": "the network was not isolated (Landlock ABI < 4 and no seccomp)",
    "signals": "the child could signal the grader (Landlock ABI < 6: Linux before 6.12)",
}


def weaknesses(isolation: dict) -> list[str]:
    """What a run's confinement lacked, one line each; empty with bubblewrap. Without file
    system confinement that one line says it all."""
    lacks, why = isolation.get("lacks") or [], isolation.get("why") or {}
    if "filesystem" in lacks:
        return [LACKS["filesystem"]]
    return [LACKS.get(code, f"{code} unavailable here").format(why=why.get(code, "see docs/security.md"))
            for code in lacks]


def render_tables(results: Results, confinement: bool = True) -> Group:
    """The final screen of `grade --local`: readable in five seconds. Every string is a
    Text (rich parses a plain str in a table cell or panel as markup). `confinement`: say
    what the run's confinement lacked (a notebook says it once per kernel instead)."""
    m = results.metrics
    parts = []
    if results.notice:
        parts.append(rich_text(results.notice, style="bold yellow"))
    for line in weaknesses(results.provenance.isolation or {}) if confinement else ():
        parts.append(rich_text(_("Confinement:") + " " + line, style="yellow"))
    if results.anomaly:
        parts.append(rich_text(_("FLAGGED FOR REVIEW:") + " " + results.anomaly, style="bold red"))
    if results.failure:
        parts.append(Panel(rich_text(describe(results.failure)), title=_("Could not be graded"),
                           border_style="red"))
    if results.model.layers:
        summary = Table(title=_("Model summary (output shape per image)"), show_lines=False)
        for col, just in ((_("Layer"), "left"), (_("Type"), "left"), (_("Output"), "left"),
                          (_("Expected"), "left"), (_("Params"), "right"), ("", "left")):
            summary.add_column(col, justify=just)
        for r in summary_rows(results.model):
            ok = {True: ("✓", "green"), False: ("✗", "red"), None: ("", "")}[r.ok]
            summary.add_row(rich_text(r.name, style="bold" if r.block else ""),
                            rich_text(r.type),
                            rich_text(r.shape, style="red" if r.ok is False else ""),
                            rich_text(f"{r.expected} {ok[0]}".strip(), style=ok[1]),
                            count(r.parameters), rich_text(f"◀ {r.mark}" if r.mark else "",
                                                           style="bold red"))
        summary.caption = _("{count} trainable parameters").format(count=count(m.parameters))
        parts.append(summary)
    rubric = Table(title=_("Rubric"))
    rubric.add_column("")
    rubric.add_column(_("Item"))
    rubric.add_column(_("Points"), justify="right")
    rubric.add_column(_("Details"), overflow="fold")
    for t in results.tests:
        sign, style = {"passed": ("✓", "green"), "failed": ("✗", "red"),
                       "pending": ("…", "yellow")}[state(t)]
        rubric.add_row(Text(sign, style=style), rich_text(t.name), rich_text(points(t)),
                       rich_text(detail(t)))
    parts.append(rubric)
    line = Text()
    line.append(score_line(results), style="bold")
    if m.accuracy is not None and m.baseline_accuracy is not None:
        line.append("   " + _("accuracy {accuracy} vs baseline {baseline}: {gain}").format(
            accuracy=f"{m.accuracy:.2%}", baseline=f"{m.baseline_accuracy:.2%}",
            gain=gain_summary(m)))
    line.append(f"   {m.device}, {m.wall_time_s:.0f} s")
    parts.append(line)
    if test_set_text(m):
        parts.append(rich_text(test_set_text(m), style="dim"))
    for note in results.submission.notes:
        parts.append(rich_text(_("note: {note}").format(note=note), style="dim"))
    return Group(*parts)
