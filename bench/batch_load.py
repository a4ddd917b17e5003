"""Load test for `grade batch`: many small submissions, a kill -9 mid-batch, a resume.

    python bench/batch_load.py --students 200 --workers 2

Makes a class of synthetic submissions (copies of the test suite's good, broken and hostile
fixtures, round robin), a tiny Fashion-MNIST-format data set and a tiny rubric, runs
`grade batch` in a subprocess, kills its whole process group with SIGKILL at a random
moment, runs it again to the end, and checks that every student has exactly one final
gradebook row with the outcome their fixture must get. Prints submissions per minute
(for the resumed run, and for the whole) and writes --json if asked. Not a test: minutes.

    python bench/batch_load.py --compare --students 60

grades the same class three times, each with a cache of its own and no kill: under
bubblewrap (a fresh Python per run), under Landlock with a fresh Python per run
(GRADER_FORKSERVER=0), and under Landlock forked from the fork server; prints
submissions per minute of each and the ratios, measured side by side on one machine.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from synthetic import write_fashion_mnist  # noqa: E402  (the tests' data maker)

FIXTURES = {  # fixture -> the outcome the gradebook must hold
    "passes_only_optimizer_changed.py": "graded",
    "passes_misnamed_hook.py": "graded",
    "fails_syntax_error.py": "syntax_error",
    "fails_output_shape.py": "output_shape",
    "fails_nan_loss.py": "non_finite_loss",
    "fails_calls_sys_exit.py": "training_error",
    "hostile_hunts_for_test_labels.py": "graded",
    "hostile_calls_the_network.py": "graded",
    "hostile_overwrites_results_now_and_later.py": "missing_hook",  # it defines no hook at all
}

RUBRIC = """\
name: load
dataset: {name: fashion_mnist, validation_fraction: 0.1}
seeds: [0]
budget: {max_epochs: 1, max_batch_size: 512, max_parameters: 2000000, time_limit_s: 120}
checks:
  - {id: output_shape, kind: output_shape, points: 5}
scoring:
  trains_points: 5
  gain_tiers: [{min_gain: 0.0, points: 10}]
quick: {train_subset: 300, test_subset: 100, epochs: 1}
"""


def count(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
    except sqlite3.Error:
        return 0


def check(out: Path, want: dict[str, str]) -> dict:
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        rows = db.execute("SELECT student, status, failure_code FROM grades").fetchall()
    got = {s: code or status for s, status, code in rows}
    students = [s for s, *_ in rows]
    startups = sorted(seed["startup_s"] for f in (out / "feedback").glob("*/results.json")
                      for seed in json.loads(f.read_text()).get("metrics", {}).get("per_seed", [])
                      if seed.get("startup_s") is not None)
    return {"rows": len(rows), "duplicates": len(students) - len(set(students)),
            "wrong_outcomes": {s: (got.get(s), w) for s, w in want.items() if got.get(s) != w},
            "startup_s_median": round(startups[len(startups) // 2], 3) if startups else None,
            "startup_s_max": round(startups[-1], 3) if startups else None}


COMPARED = {  # name -> the environment that picks how each run's child starts
    "bwrap, fresh Python per run": {"GRADER_SANDBOX": "bwrap", "GRADER_FORKSERVER": "1"},
    "landlock, fresh Python per run": {"GRADER_SANDBOX": "landlock", "GRADER_FORKSERVER": "0"},
    "landlock, forked from the fork server": {"GRADER_SANDBOX": "landlock", "GRADER_FORKSERVER": "1"},
}


def compare(args, tmp: Path, command, want) -> dict:
    """The same class graded once per way of starting a child, each from an empty cache
    (every way decodes the data and trains its baseline itself), nothing killed."""
    from grader.sandbox.confine import bwrap_works
    figures = {"students": args.students, "workers": args.workers, "cpu": os.cpu_count()}
    for name, extra in COMPARED.items():
        if extra["GRADER_SANDBOX"] == "bwrap" and not bwrap_works():
            figures[name] = "skipped: bubblewrap unavailable"
            continue
        out, cache = tmp / f"out-{len(figures)}", tmp / f"cache-{len(figures)}"
        run = [*command[:command.index("--out") + 1], str(out), *command[command.index("--out") + 2:]]
        env = {**os.environ, "GRADER_CACHE_DIR": str(cache), **extra}
        started = time.monotonic()
        done = subprocess.run(run, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        figures[name] = {"seconds": round(elapsed, 1), "exit": done.returncode,
                         "per_minute": round(args.students / (elapsed / 60), 1),
                         **check(out, want)}
    fresh, forked = (figures[n] for n in list(COMPARED)[1:])
    figures["fork server vs fresh Python (landlock)"] = round(forked["per_minute"] / fresh["per_minute"], 2)
    if isinstance(figures[list(COMPARED)[0]], dict):
        figures["fork server (landlock) vs bwrap"] = round(
            forked["per_minute"] / figures[list(COMPARED)[0]]["per_minute"], 2)
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=None, help="for the kill moment")
    p.add_argument("--compare", action="store_true",
                   help="throughput of each way of starting a child, side by side, no kill")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="batch-load-") as tmp:
        tmp = Path(tmp)
        data = write_fashion_mnist(tmp / "data")
        (tmp / "load.yaml").write_text(RUBRIC)
        subs, want = tmp / "subs", {}
        subs.mkdir()
        names = list(FIXTURES)
        for i in range(args.students):
            fixture = names[i % len(names)]
            shutil.copyfile(ROOT / "tests" / "submissions" / fixture, subs / f"student{i:04d}.py")
            want[f"student{i:04d}"] = FIXTURES[fixture]
        out = tmp / "out"
        command = [sys.executable, "-m", "grader.cli", "batch", str(subs), "--rubric",
                   str(tmp / "load.yaml"), "--out", str(out), "--quick", "--data-dir", str(data),
                   "--workers", str(args.workers)]
        if args.compare:
            figures = compare(args, tmp, command, want)
            print(json.dumps(figures, indent=2))
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2))
            runs = [f for f in figures.values() if isinstance(f, dict)]
            ok = all(not f["wrong_outcomes"] and f["rows"] == args.students for f in runs)
            print("OK: every student has exactly one row with the right outcome" if ok else "FAILED")
            sys.exit(0 if ok else 1)
        env = {**os.environ, "GRADER_CACHE_DIR": str(tmp / "cache")}
        kill_at = rng.randint(args.students // 5, args.students * 3 // 5)
        started = time.monotonic()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        while proc.poll() is None and count(out / "gradebook.sqlite") < kill_at:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        before_kill, t_kill = count(out / "gradebook.sqlite"), time.monotonic()
        resumed = subprocess.run(command, env=env, capture_output=True, text=True)
        t_end = time.monotonic()
        checked = check(out, want)
        wrong = checked["wrong_outcomes"]
        figures = {
            "students": args.students, "workers": args.workers,
            "killed_after_rows": before_kill, **checked,
            "resume_exit": resumed.returncode,
            "first_run_s": t_kill - started, "resumed_run_s": t_end - t_kill,
            "per_minute_resumed": (args.students - before_kill) / ((t_end - t_kill) / 60),
            "per_minute_overall": args.students / ((t_end - started) / 60),
            "cpu": os.cpu_count(),
        }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok = not wrong and figures["rows"] == args.students and not figures["duplicates"]
    print("OK: every student has exactly one row with the right outcome" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
