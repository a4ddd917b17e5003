#!/usr/bin/env bash
# The one command to run on a GPU machine (issue #34; bench/gpu_check.py says what it runs).
# Without CUDA it says so in one line and exits 2 at once. On the GPU machine the image's
# python3 holds torch; the grader runs from this tree (PYTHONPATH), and the few packages that
# Python lacks come from a wheel folder carried beside it (bench/gpu_prepare.sh makes it):
#   bash bench/gpu_check.sh --out "$OUT" --data-dir .gpu/data     (GPU_CHECK_WHEELS=.gpu/wheels)
set -u
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && py=.venv/bin/python
if ! "$py" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_check: no CUDA device here (torch.cuda.is_available() is false): nothing to check"
  exit 2
fi
wheels=${GPU_CHECK_WHEELS:-.gpu/wheels}
if [ -d "$wheels" ]; then
  "$py" -m pip install --quiet --no-index --find-links "$wheels" "$wheels"/*.whl 2>&1 | tail -3
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$py" bench/gpu_check.py "$@"
