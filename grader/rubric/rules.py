"""What a rubric must satisfy beyond its types: the bounds each field declares, and the
rules that span fields (imagefolder's keys, pinned runs, tiers, release and late times).
Each rule returns (key, problem) pairs; grader.rubric.parse reports them."""
from __future__ import annotations

import dataclasses
import datetime
import keyword
from typing import Iterator

from grader.i18n import LANGUAGES
from grader.rubric.schema import (CHECK_KINDS, CREDIT, DATASETS, KEEP, UNDECIDED, VISIBILITY,
                                  LatePolicy, Release, Rubric)


def validate(r: Rubric) -> list[tuple[str, str]]:
    """Rules that span fields or go beyond types: every (key, problem), section by section."""
    problems = list(_bounds(r, ""))
    for section in (_dataset, _budget_and_baseline, _seed_policy, _items, _tiers):
        problems += section(r)
    problems += _validate_release(r.release, r.late)
    if r.language is not None and r.language not in LANGUAGES:
        problems.append(("language", f"choose from {', '.join(LANGUAGES)}, got {r.language!r}"))
    return problems


def _dataset(r: Rubric) -> Iterator[tuple[str, str]]:
    ds = r.dataset
    if ds.name not in DATASETS:
        yield ("dataset.name", f"unknown data set {ds.name!r} (choose from {', '.join(DATASETS)})")
    if ds.name == "imagefolder":
        missing = [k for k in ("root", "image_size", "channels", "mean", "std")
                   if getattr(ds, k) is None]
        for k in missing:
            yield (f"dataset.{k}", "required when dataset.name is imagefolder")
        if ds.channels is not None and ds.channels not in (1, 3):
            yield ("dataset.channels", f"must be 1 or 3, got {ds.channels}")
        elif not missing and (len(ds.mean) != ds.channels or len(ds.std) != ds.channels):
            yield ("dataset.mean", f"mean and std need one value per channel ({ds.channels})")
    if not 0 < ds.validation_fraction < 0.5:
        yield ("dataset.validation_fraction", f"must be between 0 and 0.5, got {ds.validation_fraction}")


def _budget_and_baseline(r: Rubric) -> Iterator[tuple[str, str]]:
    if not r.seeds:
        yield ("seeds", "at least one seed is needed")
    if r.budget.time_limit_s <= 0:
        yield ("budget.time_limit_s", "must be positive")
    if not 0 < r.budget.gpu_memory_fraction <= 1:
        yield ("budget.gpu_memory_fraction", "must be in (0, 1]")
    if r.baseline.pinned_accuracy is not None and not 0 <= r.baseline.pinned_accuracy <= 1:
        yield ("baseline.pinned_accuracy", "is a fraction between 0 and 1 (e.g. 0.62), not a percentage")
    pinned = r.baseline.pinned
    if pinned is not None:
        if pinned.accuracies is not None:
            if pinned.mean is not None or pinned.std is not None or pinned.n is not None:
                yield ("baseline.pinned", "give either accuracies (and diverged) or mean, std "
                    "and n, not both")
            if not all(0 < a <= 1 for a in pinned.accuracies):
                yield ("baseline.pinned.accuracies", "fractions (e.g. 0.6413), not percentages")
            flags = pinned.diverged or [False] * len(pinned.accuracies)
            if len(flags) != len(pinned.accuracies):
                yield ("baseline.pinned.diverged", f"one true/false per accuracy "
                    f"({len(pinned.accuracies)}), got {len(flags)}")
            elif sum(not d for d in flags) < 2:
                yield ("baseline.pinned.accuracies", "a spread needs at least 2 converged seeds")
        elif pinned.mean is None or pinned.std is None or pinned.n is None:
            yield ("baseline.pinned", "give accuracies (one per seed), or all of mean, std and n")
        else:
            if pinned.diverged is not None:
                yield ("baseline.pinned.diverged", "goes with accuracies, one flag per accuracy")
            if not 0 < pinned.mean <= 1 or not 0 <= pinned.std < 0.5:
                yield ("baseline.pinned", "mean and std are fractions (e.g. mean 0.604, std 0.034), "
                    "not percentages")
            if pinned.n < 2:
                yield ("baseline.pinned.n", "a spread needs at least 2 seeds")


def _seed_policy(r: Rubric) -> Iterator[tuple[str, str]]:
    """How credit is given and how many seeds a grading may run."""
    policy = r.scoring.seeds
    if r.scoring.credit is not None and r.scoring.credit not in CREDIT:
        yield ("scoring.credit", f"choose from {', '.join(CREDIT)}, got {r.scoring.credit!r}")
    if policy.undecided is not None and policy.undecided not in UNDECIDED:
        yield ("scoring.seeds.undecided", f"choose from {', '.join(UNDECIDED)}, got {policy.undecided!r}")
    elif policy.undecided is not None and r.scoring.credit == "evidence":
        yield ("scoring.seeds.undecided", "applies to credit: tiers only (with credit: evidence the "
            "points follow the evidence, with no undecided case): remove it, or set "
            "scoring.credit: tiers")
    if r.scoring.credit_mode != "evidence":
        if r.scoring.partial_points:
            yield ("scoring.partial_points", "applies to credit: evidence only")
        if policy.points_se is not None:
            yield ("scoring.seeds.points_se", "applies to credit: evidence only")
    if policy.max is not None and not r.min_seeds <= policy.max <= 20:
        yield ("scoring.seeds.max", f"must be between min ({r.min_seeds}) and 20")
    if r.baseline.calibration_seeds < max(2, r.max_seeds):
        yield ("baseline.calibration_seeds", f"must be at least 2 and at least scoring.seeds.max "
            f"({r.max_seeds}): every seed a submission may run needs its baseline run")


def _items(r: Rubric) -> Iterator[tuple[str, str]]:
    """The checks, the model hook and the written answers (whose ids share one space)."""
    seen = set()
    for i, c in enumerate(r.checks):
        key = f"checks[{i}]"
        if c.id in seen:
            yield (f"{key}.id", f"duplicate check id {c.id!r}")
        seen.add(c.id)
        if c.kind not in CHECK_KINDS:
            yield (f"{key}.kind", f"unknown kind {c.kind!r} (choose from {', '.join(CHECK_KINDS)})")
            continue
        kind = CHECK_KINDS[c.kind]
        if kind.module and not c.module:
            yield (f"{key}.module", f"required for kind {c.kind}")
        if kind.expected == "shape" and not (
                isinstance(c.expected, list) and c.expected
                and all(isinstance(v, int) and not isinstance(v, bool) for v in c.expected)):
            yield (f"{key}.expected", f"expected a shape like [64, 8, 8], got {show(c.expected)}")
        if kind.expected == "count" and not (
                isinstance(c.expected, int) and not isinstance(c.expected, bool)):
            yield (f"{key}.expected", f"expected an integer parameter count, got {show(c.expected)}")
    if not (r.model_hook.isidentifier() and not keyword.iskeyword(r.model_hook)):
        yield ("model_hook", f"must be a Python function name, got {r.model_hook!r}")
    for i, m in enumerate(r.manual):
        key = f"manual[{i}]"
        if m.id in seen:
            yield (f"{key}.id", f"duplicate id {m.id!r} (ids are shared with checks)")
        seen.add(m.id)
        if not m.file or "/" in m.file or "\\" in m.file or m.file.startswith("."):
            yield (f"{key}.file", f"a plain file name in the submission folder, got {m.file!r}")


def _tiers(r: Rubric) -> Iterator[tuple[str, str]]:
    ceiling = r.scoring.max_plausible_accuracy
    if ceiling is not None and not 0 < ceiling <= 1:
        yield ("scoring.max_plausible_accuracy", "is a fraction between 0 and 1 (e.g. 0.9)")
    gains = [t.min_gain for t in r.scoring.gain_tiers]
    if gains != sorted(gains) or len(set(gains)) != len(gains):
        yield ("scoring.gain_tiers", "tiers must be listed by strictly increasing min_gain")
    pts = [t.points for t in r.scoring.gain_tiers]
    if r.scoring.credit_mode == "evidence" and min(pts, default=0) >= 0 and pts != sorted(pts):
        yield ("scoring.gain_tiers", "with credit: evidence a higher tier must not pay less "
            "(the tiers are joined into one rising line)")


def parse_time(text: str) -> datetime.datetime:
    """An ISO 8601 time with its UTC offset (a time without one is ambiguous across a
    class's time zones). ValueError otherwise."""
    when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (e.g. -08:00 or Z)")
    return when


def _validate_release(release: Release, late: LatePolicy | None) -> list[tuple[str, str]]:
    problems = []
    for key in ("test_results", "checks"):
        if getattr(release, key) not in VISIBILITY:
            problems.append((f"release.{key}", f"choose from {', '.join(VISIBILITY)}, got "
                                               f"{getattr(release, key)!r}"))
    if release.keep not in KEEP:
        problems.append(("release.keep", f"choose from {', '.join(KEEP)}, got {release.keep!r}"))
    if late is None:
        return problems
    if late.percent_per_day and late.percent_per_hour:
        problems.append(("late", "give percent_per_day or percent_per_hour, not both"))
    times = {}
    for key in ("due_date", "late_due_date"):
        if getattr(late, key) is not None:
            try:
                times[key] = parse_time(getattr(late, key))
            except ValueError as e:
                problems.append((f"late.{key}", f"an ISO 8601 time with its UTC offset, e.g. "
                                                f"2026-12-01T23:59:00-08:00: {e}"))
    if late.late_due_date is not None and late.due_date is None:
        problems.append(("late.late_due_date", "goes with late.due_date"))
    elif len(times) == 2 and times["late_due_date"] < times["due_date"]:
        problems.append(("late.late_due_date", "is before late.due_date"))
    return problems


def _bounds(value, key):
    """Every field's declared `at_least` / `at_most`, checked through nested sections and
    lists: (key, problem) for each value outside them."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _bounds(item, f"{key}[{i}]")
        return
    if not dataclasses.is_dataclass(value):
        return
    for f in dataclasses.fields(value):
        v, sub = getattr(value, f.name), join(key, f.name)
        lo, hi = f.metadata.get("at_least"), f.metadata.get("at_most")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and (lo, hi) != (None, None):
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                rule = (f"between {lo:g} and {hi:g}" if lo is not None and hi is not None
                        else f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
                why = f" ({f.metadata['why']})" if f.metadata.get("why") else ""
                yield sub, f"must be {rule}{why}, got {v:g}"
        else:
            yield from _bounds(v, sub)


def join(key, name):
    return f"{key}.{name}" if key else name


def show(value):
    if value is None:
        return "nothing"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:77] + '...'}"
