"""Rubrics: YAML files parsed into typed, frozen dataclasses and validated up front.

`schema` declares each section's fields once (type, default, bounds, description: docs/
rubric.md is written from it), `parse` reads a file into them refusing unknown keys by
name, and `rules` checks what types cannot say; an instructor fixes every problem, reported
at once as `file: key: problem`, before any training starts.
"""
from grader.rubric.parse import RubricError, load_rubric, resolve_rubric_path
from grader.rubric.rules import parse_time
from grader.rubric.schema import (CHECK_KINDS, DATASETS, SHAPE_KINDS, BaselineSpec, Budget, Check,
                                  CheckKind, DatasetSpec, LatePolicy, ManualItem,
                                  PinnedDistribution, QuickSpec, Release, Rubric, Scoring,
                                  SeedPolicy, Tier, Training)

__all__ = ["CHECK_KINDS", "DATASETS", "SHAPE_KINDS", "BaselineSpec", "Budget", "Check", "CheckKind",
           "DatasetSpec", "LatePolicy", "ManualItem", "PinnedDistribution", "QuickSpec",
           "Release", "Rubric", "RubricError", "Scoring", "SeedPolicy", "Tier", "Training",
           "load_rubric", "parse_time", "resolve_rubric_path"]
