"""Pictures from a results object: the training curves, student against baseline.

Only numbers measured in the run are drawn: each epoch's training loss and validation
accuracy, per seed, from results.history. A baseline pinned by the rubric has no
curves, and the picture says so.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path

from grader.i18n import N_, _, current

STUDENT, BASELINE = "#1f6feb", "#9a6700"
# fonts with Hangul that matplotlib may find (Debian: fonts-noto-cjk, fonts-nanum; macOS,
# Windows): without one it draws empty boxes, so the pictures then stay English
HANGUL_FONTS = ("Noto Sans CJK KR", "Noto Sans CJK JP", "Noto Sans CJK SC", "NanumGothic",
                "Apple SD Gothic Neo", "AppleGothic", "Malgun Gothic", "Noto Serif CJK KR",
                "Noto Serif CJK JP")


def training_curves_png(results) -> bytes | None:
    """A 2-panel PNG (loss, validation accuracy per epoch) of a grader.report.record.Results,
    or None with nothing to draw."""
    student = [h for h in results.history.student if h]
    baseline = [h for h in results.history.baseline if h]
    if not student and not baseline:
        return None
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    for runs, colour, label in ((baseline, BASELINE, "baseline"), (student, STUDENT, "submission")):
        for i, hist in enumerate(runs):
            epochs = [h.epoch for h in hist]
            name = _label(label) if i == 0 else None
            style = dict(color=colour, marker="o", markersize=3.5, linewidth=1.8,
                         linestyle="-" if label == "submission" else "--", label=name)
            loss_ax.plot(epochs, [h.train_loss for h in hist], **style)
            acc_ax.plot(epochs, [100 * h.val_accuracy for h in hist], **style)
    loss_ax.set(title=_t(N_("Training loss")), xlabel=_t(N_("epoch")), ylabel=_t(N_("cross-entropy (mean)")))
    acc_ax.set(title=_t(N_("Validation accuracy")), xlabel=_t(N_("epoch")), ylabel=_t(N_("correct (percent)")))
    m = results.metrics
    if m.accuracy is not None:
        acc_ax.axhline(100 * m.accuracy, color=STUDENT, alpha=0.35, linewidth=1)
    if m.baseline_accuracy is not None:
        acc_ax.axhline(100 * m.baseline_accuracy, color=BASELINE, alpha=0.35, linewidth=1)
    last = max((h[-1].epoch for h in student + baseline), default=1)
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlim(0.5, last + 0.5)  # one epoch is one point, not an axis from 0.96 to 1.04
    acc_ax.legend(frameon=False, loc="lower right")
    if not baseline:
        acc_ax.text(0.02, 0.02, _t(N_("baseline: no curves (pinned or cached without history)")),
                    transform=acc_ax.transAxes, fontsize=7, color="#666")
    fig.text(0.99, 0.01, _t(N_("thin lines: test accuracy")), ha="right", fontsize=7, color="#666")
    fig.tight_layout()
    return _png(fig)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # no display needed, and none is opened
    import matplotlib.pyplot as plt
    korean = current() != "en" and _hangul_font()
    plt.rcParams["font.family"] = [_hangul_font(), "DejaVu Sans"] if korean else ["sans-serif"]
    return plt


@functools.cache
def _hangul_font() -> str | None:
    from matplotlib import font_manager
    found = _first_known(font_manager)
    if found is None:  # matplotlib's font list is cached: fonts installed since are not in it
        for path in font_manager.findSystemFonts():
            if any(mark in Path(path).name for mark in ("CJK", "Nanum", "Gothic")):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = _first_known(font_manager)
    return found


def _first_known(font_manager) -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in HANGUL_FONTS if name in names), None)


def _t(message: str) -> str:
    """A picture's label (marked N_ where written) in the run's language, where matplotlib
    has a font for it."""
    return _(message) if current() == "en" or _hangul_font() else message


def _label(who: str) -> str:
    return _t(N_("baseline")) if who == "baseline" else _t(N_("submission"))


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    _pyplot().close(fig)
    return buf.getvalue()


def per_class_png(classes: list[str], student: list[float] | None,
                  baseline: list[float] | None, title: str | None = None) -> bytes | None:
    """Horizontal bars, submission against baseline, one pair per class."""
    if not student and not baseline:
        return None
    plt = _pyplot()
    n = len(classes)
    fig, ax = plt.subplots(figsize=(7, 0.42 * n + 1.2), dpi=110)
    ys = list(range(n))
    for values, colour, label, shift in ((baseline, BASELINE, "baseline", 0.2),
                                         (student, STUDENT, "submission", -0.2)):
        if values:
            ax.barh([y + shift for y in ys], [100 * v for v in values], height=0.38,
                    color=colour, label=_label(label))
    if student:
        for y, v in zip(ys, student):
            ax.text(100 * v + 1, y - 0.2, f"{100 * v:.0f}", va="center", fontsize=7, color=STUDENT)
    ax.set_yticks(ys, classes)
    ax.invert_yaxis()
    ax.set(xlim=(0, 108), xlabel=_t(N_("test images of the class right (percent)")),
           title=_t(title or N_("Test accuracy per class")))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _png(fig)


def confusion_png(classes: list[str], matrix: list[list[int]],
                  title: str | None = None) -> bytes | None:
    """Rows: the true class; columns: the prediction; each row in % of its class."""
    if not matrix:
        return None
    import numpy as np
    plt = _pyplot()
    m = np.asarray(matrix, dtype=float)
    share = 100 * m / np.maximum(m.sum(1, keepdims=True), 1)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(0.55 * n + 2.2, 0.5 * n + 1.6), dpi=110)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    for i in range(n):
        for j in range(n):
            if share[i, j] >= 0.5:
                ax.text(j, i, f"{share[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 55 else "#1f2328")
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set(xlabel=_t(N_("predicted")), ylabel=_t(N_("true class")),
           title=_t(title or N_("Confusion matrix (test set)")))
    fig.tight_layout()
    return _png(fig)


def gallery_png(images, true: list[int], predicted: list[int], confidence: list[float],
                classes: list[str], columns: int = 8) -> bytes | None:
    """Test images titled `true -> predicted (confidence)`, mistakes in red."""
    wrong = [t != p for t, p in zip(true, predicted)]
    titles = [f"{classes[t]}\n→ {classes[p]} {100 * c:.0f}%" if w else
              f"{classes[t]}\n✓ {100 * c:.0f}%"
              for t, p, c, w in zip(true, predicted, confidence, wrong)]
    return image_grid_png(images, titles, ["#cf222e" if w else "#1a7f37" for w in wrong],
                          columns=columns, cell=(1.7, 2.3), fontsize=9,
                          layout={"pad": 0.3, "h_pad": 1.2})


def image_grid_png(images, titles: list[str], colours: list[str] | None = None, *,
                   columns: int, cell: tuple[float, float], fontsize: float,
                   layout: dict | None = None) -> bytes | None:
    """[H, W, C] uint8 images in a grid, each with its title (grey for one channel)."""
    if len(images) == 0:
        return None
    plt = _pyplot()
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(cell[0] * columns, cell[1] * rows), dpi=110,
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(images):
            continue
        img = images[k]
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
                  interpolation="nearest")
        ax.set_title(titles[k], fontsize=fontsize, **({"color": colours[k]} if colours else {}))
    fig.tight_layout(**(layout or {}))
    return _png(fig)
