"""Scoring: points from checks and accuracies (`points`, pure functions), the test-set
metrics they are computed from (`metrics`), and the trained baseline's cached results
(`baseline_cache`).
"""
