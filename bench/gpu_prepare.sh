#!/usr/bin/env bash
# Run here, before the GPU check: puts into .gpu/ (git-ignored; the device call carries it,
# 64 MiB at most) what the GPU machine cannot fetch: CIFAR-10 from ../shared/data, and
# wheels of the pure-Python packages the grader needs that its image's Python 3.12 lacks.
# Then, with the device tool:
#   run(command="bash bench/gpu_check.sh --out $OUT --data-dir .gpu/data", carry=[".gpu"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu/data .gpu/wheels
cp ../shared/data/cifar10-jpeg.tar.gz .gpu/data/
pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 \
  --platform manylinux_2_17_x86_64 --platform any -d .gpu/wheels \
  nbformat fastjsonschema jsonschema jsonschema-specifications referencing rpds-py \
  jupyter_core traitlets platformdirs pyseccomp copydetect 2>&1 | grep -v "^WARNING: Location" || true
du -sh .gpu
