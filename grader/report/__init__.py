"""Reporting: the one results object (`results`, Gradescope's results.json form) and
pure renderers of it: Markdown, HTML, the terminal, figures; `folder` writes a grading's
report folder and `artifacts` what a run leaves beside it (weights, predictions, gallery).
"""
