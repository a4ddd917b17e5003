"""Loading: a submission (package folder, .py, notebook or .zip) turned into Python source
the child imports, its written answers, and the data sets decoded into a uint8 cache.

Runs in the parent and never imports or runs student code. May import the foundation
(failures, paths, rubric) and nothing else of the grader.
"""
