"""Grading a class: `grade batch` (driver) on an executor (executors: local pool, Slurm,
Ray) into a SQLite gradebook (gradebook), and the files made from it (export).
"""
