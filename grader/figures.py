"""Pictures from a results object: the training curves, student against baseline.

Only numbers measured in the run are drawn: each epoch's training loss and validation
accuracy, per seed, from results["history"]. A baseline pinned by the rubric has no
curves, and the picture says so.
"""
from __future__ import annotations

import io

STUDENT, BASELINE = "#1f6feb", "#9a6700"


def training_curves_png(results: dict) -> bytes | None:
    """A 2-panel PNG (loss, validation accuracy per epoch), or None with nothing to draw."""
    history = results.get("history") or {}
    student = [h for h in history.get("student", []) if h]
    baseline = [h for h in history.get("baseline", []) if h]
    if not student and not baseline:
        return None
    import matplotlib
    matplotlib.use("Agg")  # no display needed, and none is opened
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    for runs, colour, label in ((baseline, BASELINE, "baseline"), (student, STUDENT, "submission")):
        for i, hist in enumerate(runs):
            epochs = [h["epoch"] for h in hist]
            name = label if i == 0 else None
            style = dict(color=colour, marker="o", markersize=3.5, linewidth=1.8,
                         linestyle="-" if label == "submission" else "--", label=name)
            loss_ax.plot(epochs, [h["train_loss"] for h in hist], **style)
            acc_ax.plot(epochs, [100 * h["val_accuracy"] for h in hist], **style)
    loss_ax.set(title="Training loss", xlabel="epoch", ylabel="cross-entropy (mean)")
    acc_ax.set(title="Validation accuracy", xlabel="epoch", ylabel="% correct")
    m = results.get("metrics", {})
    if m.get("accuracy") is not None:
        acc_ax.axhline(100 * m["accuracy"], color=STUDENT, alpha=0.35, linewidth=1)
    if m.get("baseline_accuracy") is not None:
        acc_ax.axhline(100 * m["baseline_accuracy"], color=BASELINE, alpha=0.35, linewidth=1)
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    acc_ax.legend(frameon=False, loc="lower right")
    if not baseline:
        acc_ax.text(0.02, 0.02, "baseline: no curves (pinned or cached without history)",
                    transform=acc_ax.transAxes, fontsize=7, color="#666")
    fig.text(0.99, 0.01, "thin lines: test accuracy", ha="right", fontsize=7, color="#666")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
