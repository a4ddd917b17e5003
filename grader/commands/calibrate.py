"""`grade calibrate --rubric R [--seeds N]`: the baseline's test accuracy over N seeds, the
noise every grade's interval is computed from (grader.scoring.noise).

Each seed's run is kept in the baseline cache and the distribution beside it, keyed like
the baseline (data, budget, code, versions, device type), so a second call with the same
arguments trains nothing, and every grading on this machine finds it once all of the
rubric's calibration_seeds are measured. `--json` prints one object for scripts, e.g. to pin
the distribution in a rubric (`baseline.pinned.accuracies` and `.diverged`); `mean`, `std`
and `n` are the converged runs', `diverged` marks the ones left out.
"""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grader.failures import EXIT_GRADED
from grader.grading import calibrate
from grader.report.terminal import LiveProgress
from grader.report.escape import markup
from grader.rubric import load_rubric
from grader.scoring.noise import Distribution, smallest_detectable_pp


def main(*, rubric: str = "cifar10", seeds: int | None = None, quick: bool = False,
         data_dir: Path | None = None, device: str = "auto", as_json: bool = False,
         workers: int = 1, console: Console | None = None) -> int:
    console = console or Console(stderr=True)
    spec = load_rubric(rubric)
    n = seeds or spec.baseline.calibration_seeds
    console.print(f"Calibrating the baseline of rubric [bold]{markup(spec.name)}[/] over {n} seeds"
                  + (" [yellow](quick)[/]" if quick else ""))
    with LiveProgress(console) as progress:
        dist, cached = calibrate(rubric=spec, seeds=n, data_dir=data_dir, quick=quick,
                                 device=device, slots=_slots(workers, device), on_event=progress)
    detectable = {k: smallest_detectable_pp(dist, k) for k in sorted({spec.min_seeds, spec.max_seeds})}
    if as_json:
        print(json.dumps({"rubric": spec.name, "quick": quick, "seeds": list(dist.seeds),
                          "accuracies": list(dist.accuracies), "diverged": list(dist.diverged),
                          "mean": dist.mean,
                          "std": dist.std, "n": dist.n, "device": dist.measured_on,
                          "from_cache": cached,
                          "smallest_detectable_gain_pp": {str(k): v for k, v in detectable.items()}}))
    else:
        console.print(summary_table(spec.name, dist, cached, detectable))
    return EXIT_GRADED


def _slots(workers: int, device: str) -> list[tuple[int, ...]] | None:
    """With --workers N: the N shares of the cores a `grade batch --workers N` grades on,
    so the batch finds these runs (a CPU run is keyed on its thread count)."""
    if workers <= 1:
        return None
    from grader.batch.executors import worker_slots
    return [s["cpus"] for s in worker_slots(workers, device) if s["cpus"]] or None


def summary_table(name: str, dist: Distribution, cached: bool, detectable: dict[int, float]) -> Table:
    t = Table(title=f"Baseline of {markup(name)} over {dist.runs} seeds" + (" (from the cache)" if cached else ""),
              show_header=False)
    t.add_row("accuracy per seed", ", ".join(f"{s}: {a:.2%}" for s, a in zip(dist.seeds, dist.accuracies)))
    if dist.diverged_runs:
        t.add_row("diverged (left out)", ", ".join(
            str(s) for s, d in zip(dist.seeds, dist.diverged) if d))
    t.add_row("mean ± std" + (" (converged)" if dist.diverged_runs else ""),
              f"{dist.mean:.2%} ± {100 * dist.std:.2f} pp")
    for k, v in detectable.items():
        t.add_row(f"smallest gain told from noise, {k} seed{'s' * (k != 1)}",
                  f"{v:.2f} pp (95% interval clear of 0)")
    return t
