"""Front ends that grade one submission: `grade --local` (local), `grade ci` (ci), the
Gradescope bundle (gradescope) and `grade predict` (predict). Each has a
`main(*, ...)` taking keyword-only arguments; grader/cli.py only parses and calls it.
"""
