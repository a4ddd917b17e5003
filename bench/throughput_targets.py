"""Issue #18's targets, measured side by side in one run on one machine.

    python bench/throughput_targets.py --data-dir ../shared/data --students 60

Runs `batch_load.py --compare` (one class of tiny submissions graded with a fresh Python
per run and forked from the fork server; start-up per run and submissions per minute) and
then `compute_floor.py` (the reference run under the rubric's budget against its compute
floor, with the fork server, so its start-up is a fork), and prints each target beside
what was measured. Not a test: about 20 minutes on 2 cores; run it with nothing else on
the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, args: list[str], out: Path, env: dict) -> dict:
    subprocess.run([sys.executable, str(HERE / script), *args, "--json", str(out)], env=env,
                   check=False)
    return json.loads(out.read_text()) if out.exists() else {}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--students", type=int, default=60)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=None, help="compute_floor's; default the budget")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    env = {**os.environ, "GRADER_SANDBOX": "landlock"}
    with tempfile.TemporaryDirectory() as tmp:
        batch = run("batch_load.py", ["--compare", "--students", str(args.students),
                                      "--workers", str(args.workers)], Path(tmp) / "b.json", env)
        floor_args = ["--data-dir", str(args.data_dir)]
        if args.epochs:
            floor_args += ["--epochs", str(args.epochs)]
        floor = run("compute_floor.py", floor_args, Path(tmp) / "f.json", env)
    fresh = batch.get("landlock, fresh Python per run", {})
    forked = batch.get("landlock, forked from the fork server", {})
    rows = [("start-up per run (forked)", "<= 1 s", forked.get("startup_s_max"),
             (forked.get("startup_s_max") or 99) <= 1.0),
            ("batch throughput, forked vs fresh Python", ">= 3x",
             batch.get("fork server vs fresh Python (landlock)"),
             (batch.get("fork server vs fresh Python (landlock)") or 0) >= 3)]
    for m in floor.get("results") or []:
        ratio = round(m["ratio"], 2)
        rows.append((f"reference run vs compute floor, {m['dataset']}", "<= 1.25x", ratio,
                     ratio <= 1.25))
    print(f"\n{'target':48} {'wanted':>8} {'measured':>10}  met")
    for name, want, got, met in rows:
        print(f"{name:48} {want:>8} {got!s:>10}  {'yes' if met else 'NO'}")
    figures = {"batch": batch, "floor": floor,
               "targets": [dict(zip(("target", "wanted", "measured", "met"), r)) for r in rows]}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
