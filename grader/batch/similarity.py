"""Similar submissions across a class, two ways, as flags for a person (never penalties).

- Code: copydetect's winnowed fingerprints (identifiers, strings and comments normalised,
  so renamed variables still match), with the starter code everyone shares (the template
  and the reference baseline) given to it as boilerplate and so subtracted.
- Predictions, what no code tool sees: two trained models that make the same mistakes far
  more often than their accuracies explain. Under class-conditional independence, models
  a and b give the same wrong label j to an image of class y with chance
  conf_a[y, j] * conf_b[y, j] (their own confusion rates), which gives the expected number
  of identical mistakes, and of agreements. The flag is on the agreement beyond that
  chance, scaled like Cohen's kappa ((observed - expected) / (1 - expected): 0 as chance, 1
  identical), with most of the mistakes shared: a copy (same architecture and seed,
  renamed variables) repeats nearly every one. Independent models of one lab share some
  hard images, so they sit well above 0, but far from 1. Two untouched templates train the same model with the same seed, so
  pairs where both customised nothing are not compared.
"""
from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import paths
from grader.load.submission import load_submission

# k-grams of 40 filtered characters (copydetect's default is 25): a lab's model code is
# short and idiomatic (`nn.Conv2d(...), nn.ReLU()` normalises to the same tokens in every
# submission), so shorter matches say little; every fingerprint kept (window 1)
K, WINDOW = 40, 1
CODE_THRESHOLD = 0.9      # share of each one's own (non-starter) code found in the other's
CODE_MIN_MATCHED = 120    # filtered characters: a shared one-line tweak is not a copy
SAME_WRONG_THRESHOLD = 0.8  # share of the fewer mistakes the other model made identically
SAME_WRONG_MIN = 10       # identical mistakes needed before a rate means anything
EXCESS_THRESHOLD = 0.8    # agreement beyond chance, 0 (as chance) to 1 (identical)
ROOM_MIN = 0.05           # two models that both predict one class agree by chance: no evidence
EXCERPT_CHARS = 300


@dataclass
class Pair:
    a: str
    b: str
    code: tuple[float, float] | None = None           # share of a's and b's code matched
    spans: list[str] = field(default_factory=list)  # "model.py:12-30 ~ net.py:10-28"
    excerpt: str = ""
    predictions: dict | None = None                    # agreement evidence, see agreement()
    flagged_by: list[str] = field(default_factory=list)


def find_pairs(sources: dict[str, dict[str, str]], predictions: dict[str, tuple[np.ndarray, np.ndarray]],
               customised: dict[str, bool], boilerplate: list[str] | None = None) -> list[Pair]:
    """Pairs flagged by code or predictions, most similar first. `sources`: student -> {file:
    text}; `predictions`: student -> (labels, predicted) in test order;
    `customised`: whether the student changed any hook (False: the baseline itself)."""
    pairs: dict[tuple[str, str], Pair] = {}
    for (a, b), (sims, spans, excerpt) in code_matches(sources, boilerplate).items():
        pairs[(a, b)] = Pair(a, b, code=sims, spans=spans, excerpt=excerpt, flagged_by=["code"])
    students = sorted(s for s in predictions if customised.get(s, True))
    k = 1 + max((int(max(y.max(), p.max())) for y, p in predictions.values() if len(y)), default=0)
    rates = {s: confusion_rates(*predictions[s], k) for s in students
             if len(predictions[s][0]) == len(predictions[s][1]) > 0}
    for i, a in enumerate(students):
        for b in students[i + 1:]:
            if a not in rates or b not in rates or not np.array_equal(predictions[a][0], predictions[b][0]):
                continue  # another test set (a rubric change): nothing to compare
            evidence = agreement(*predictions[a], predictions[b][1], rates=(rates[a], rates[b]))
            if evidence and _suspicious(evidence):
                pair = pairs.setdefault((a, b), Pair(a, b))
                pair.predictions = evidence
                pair.flagged_by.append("predictions")
    for (a, b), pair in pairs.items():  # the other view's numbers, for the evidence
        if pair.predictions is None and a in predictions and b in predictions:
            pair.predictions = agreement(*predictions[a], predictions[b][1])
    return sorted(pairs.values(), key=lambda p: (-len(p.flagged_by), -_strength(p), p.a, p.b))


def code_matches(sources: dict[str, dict[str, str]], boilerplate: list[str] | None = None) -> dict:
    """(a, b) -> ((share of a matched, share of b matched), matched spans, an excerpt of a)
    for pairs above CODE_THRESHOLD. `sources`: student -> {file name: text}; each file is
    fingerprinted on its own, so the seams between files never look like shared code."""
    from copydetect import CodeFingerprint, compare_files
    starter = set()
    for text in (starter_code() if boilerplate is None else boilerplate):
        starter |= set(CodeFingerprint("starter.py", K, WINDOW, fp=io.StringIO(text)).hashes)
    starter = list(starter)
    prints = {(s, name): CodeFingerprint(name if name.endswith(".py") else name + ".py", K, WINDOW,
                                         boilerplate=starter, fp=io.StringIO(text))
              for s, files in sorted(sources.items()) for name, text in sorted(files.items())}
    # only pairs sharing a fingerprint can match: an index keeps 300 students fast. A
    # fingerprint half the class shares is common lab idiom the starter code did not
    # cover; it says nothing about one pair
    holders: dict[int, set[str]] = {}
    for (s, _), fp in prints.items():
        for h in fp.hashes:
            holders.setdefault(h, set()).add(s)
    common = max(2, len(sources) // 2)
    candidates = {(x, y) for group in holders.values() if len(group) <= common
                  for x in group for y in group if x < y}
    found = {}
    for a, b in sorted(candidates):
        matched, spans, excerpt, best = [0, 0], [], "", 0
        for fa in sources[a]:
            for fb in sources[b]:
                overlap, _, (sa, sb) = compare_files(prints[(a, fa)], prints[(b, fb)])
                if not overlap:
                    continue
                matched[0] += overlap
                matched[1] += int(np.sum(sb[1] - sb[0]))
                spans += _spans(fa, sources[a][fa], fb, sources[b][fb], sa, sb)
                if overlap > best:
                    best, excerpt = overlap, _excerpt(sources[a][fa], sa)
        shares = tuple(min(1.0, m / max(1, sum(prints[(s, f)].token_coverage for f in sources[s])))
                       for m, s in zip(matched, (a, b)))
        # both sides: a small tweak found inside a long submission is not a copy of it
        if matched[0] >= CODE_MIN_MATCHED and min(shares) >= CODE_THRESHOLD:
            found[(a, b)] = (shares, spans, excerpt)
    return found


def agreement(labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray,
              rates: tuple | None = None) -> dict | None:
    """How often two models agree, against what their own confusion rates explain.
    `rates`: both models' confusion_rates(), when the caller has them already."""
    if len(pred_a) != len(labels) or len(pred_b) != len(labels) or not len(labels):
        return None
    k = int(max(labels.max(), pred_a.max(), pred_b.max())) + 1
    n_y = np.bincount(labels, minlength=k).astype(float)
    rate_a, rate_b = rates or (confusion_rates(labels, pred_a, k), confusion_rates(labels, pred_b, k))
    joint = rate_a * rate_b * n_y[:, None]          # expected per (true, predicted)
    wrong_a, same = pred_a != labels, pred_a == pred_b
    same_wrong, wrong_b = int(np.count_nonzero(wrong_a & same)), int(np.count_nonzero(pred_b != labels))
    observed, expected = np.count_nonzero(same) / len(labels), float(joint.sum() / len(labels))
    return {"test_items": int(len(labels)), "agreement": observed, "expected_agreement": expected,
            "excess_agreement": (observed - expected) / max(1 - expected, 1e-9),
            "wrong_a": int(np.count_nonzero(wrong_a)), "wrong_b": wrong_b,
            "same_wrong": same_wrong,
            "expected_same_wrong": float(joint.sum() - np.trace(joint)),
            "same_wrong_share": same_wrong / max(1, min(np.count_nonzero(wrong_a), wrong_b))}


def confusion_rates(labels: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """P(predicted j | true y), a k x k matrix."""
    counts = np.bincount(labels * k + pred, minlength=k * k).reshape(k, k)
    return counts / np.maximum(counts.sum(1), 1)[:, None]


def _suspicious(e: dict) -> bool:
    return (e["same_wrong"] >= SAME_WRONG_MIN and e["same_wrong_share"] >= SAME_WRONG_THRESHOLD
            and e["excess_agreement"] >= EXCESS_THRESHOLD and 1 - e["expected_agreement"] >= ROOM_MIN)


def _strength(p: Pair) -> float:
    return max(max(p.code or (0, 0)), (p.predictions or {}).get("same_wrong_share", 0)
               if "predictions" in p.flagged_by else 0)


def starter_code() -> list[str]:
    """What every student starts from: the template's files (either language's copy) and
    the reference baseline. Not the instructor's solutions beside it (strong.py,
    simple_cnn.py): students never get those, and two hand-ins copied from a leaked one
    are exactly what this check is for."""
    files = [f for folder in ("student_template", "student_template_ko")
             for f in sorted((paths.ROOT / folder).glob("*.py"))]
    return [f.read_text(errors="replace") for f in files + [paths.REFERENCE_DIR / "baseline.py"]]


def read_source(origin: Path) -> dict[str, str] | None:
    """A submission's Python files as the grader loads them (a notebook's definitions, a
    zip's package): {path in the submission: text}; None when it cannot be read any more."""
    try:
        with tempfile.TemporaryDirectory(prefix="similar-") as work:
            source = load_submission(Path(origin), Path(work)).source
            if not source.is_dir():
                return {Path(origin).with_suffix(".py").name: source.read_text(errors="replace")}
            return {str(f.relative_to(source)): f.read_text(errors="replace")
                    for f in sorted(source.rglob("*.py"))}
    except Exception:  # moved, deleted or unloadable: compared by predictions only
        return None


def read_predictions(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels, predicted) from a feedback folder's predictions.csv, in test-index order."""
    try:  # numpy's C reader: 300 students x 10,000 rows in a second or two
        with open(path, newline="") as f:
            if f.readline().split(",")[:3] != ["test_index", "label", "predicted"]:
                return None
            rows = np.loadtxt(f, delimiter=",", usecols=(0, 1, 2), dtype=np.int64, ndmin=2,
                              quotechar='"')
    except (OSError, ValueError):
        return None
    if not len(rows):
        return None
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    return rows[:, 1].copy(), rows[:, 2].copy()


def table(pairs: list[Pair]) -> tuple[list[str], list[list]]:
    """similarity.csv: one line per flagged pair, with its evidence."""
    header = ["student_a", "student_b", "flagged_by", "code_share_a", "code_share_b",
              "matched_lines", "matched_excerpt", "prediction_agreement",
              "expected_agreement", "excess_agreement", "same_wrong", "expected_same_wrong", "same_wrong_share",
              "wrong_a", "wrong_b", "test_items"]
    body = []
    for p in pairs:
        e = p.predictions or {}
        body.append([p.a, p.b, "+".join(p.flagged_by),
                     *([round(x, 3) for x in p.code] if p.code else ["", ""]),
                     "; ".join(p.spans), p.excerpt,
                     *[_round(e.get(k)) for k in ("agreement", "expected_agreement",
                                                  "excess_agreement", "same_wrong",
                                                  "expected_same_wrong", "same_wrong_share",
                                                  "wrong_a", "wrong_b", "test_items")]])
    return header, body


def _round(v):
    return "" if v is None else round(v, 4) if isinstance(v, float) else v


def _spans(file_a: str, text_a: str, file_b: str, text_b: str, slices_a, slices_b) -> list[str]:
    """Matched character slices as line ranges, side by side: `model.py:12-30 ~ net.py:10-28`."""
    return [f"{file_a}:{_line(text_a, sa)}-{_line(text_a, ea)} ~ {file_b}:{_line(text_b, sb)}-"
            f"{_line(text_b, eb)}" for sa, ea, sb, eb in zip(slices_a[0], slices_a[1],
                                                           slices_b[0], slices_b[1])]


def _line(text: str, offset) -> int:
    return text.count("\n", 0, int(offset)) + 1


def _excerpt(text: str, slices) -> str:
    if not len(slices[0]):
        return ""
    longest = int(np.argmax(np.asarray(slices[1]) - np.asarray(slices[0])))
    return text[int(slices[0][longest]):int(slices[1][longest])][:EXCERPT_CHARS]


def for_class(out: Path, rows) -> tuple[list[Pair], dict[str, int]]:
    """Flagged pairs among a gradebook's rows (grader.batch.gradebook.Row), within each
    rubric: sources from where each submission was graded, predictions from the batch's
    feedback folders; and how many students each view could compare (a submissions folder
    moved since the batch leaves code out)."""
    pairs, coverage = [], {"students": len(rows), "code": 0, "predictions": 0}
    for rubric in sorted({r.rubric for r in rows}):
        group = [r for r in rows if r.rubric == rubric]
        origins = {r.student: r.results.submission.origin for r in group}
        sources = {s: text for s, origin in origins.items()
                   if origin and (text := read_source(origin)) is not None}
        predictions = {r.student: p for r in group if (p := read_predictions(
            Path(out) / "feedback" / r.student / "predictions.csv")) is not None}
        customised = {r.student: r.results.submission.customised_hooks != [] for r in group}
        pairs += find_pairs(sources, predictions, customised)
        coverage["code"] += len(sources)
        coverage["predictions"] += len(predictions)
    return pairs, coverage
