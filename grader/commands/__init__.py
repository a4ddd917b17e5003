"""Front ends that grade one submission: `grade --local` (local), `grade ci` (ci),
`grade classroom50` (classroom50, Classroom 50's autograder), the Gradescope bundle
(gradescope) and `grade predict` (predict). Each has a
`main(*, ...)` taking keyword-only arguments; grader/cli.py only parses and calls it.
notebook is the exception: a notebook cell's check() and export() (grader.colab), no CLI.
"""
