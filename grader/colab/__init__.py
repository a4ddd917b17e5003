"""The grader from a notebook cell, as a student types it:

    from grader import colab
    colab.check()     # grade this notebook's hooks (quick, unofficial), results inline
    colab.export()    # grade the file once more and write the file to hand in

A front end: the code is grader.commands.notebook; this package only gives it the short
name a notebook imports."""
from grader.commands.notebook import Check, Notebook, check, export, find_notebook

__all__ = ["Check", "Notebook", "check", "export", "find_notebook"]
