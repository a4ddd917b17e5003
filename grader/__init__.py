"""TinyCNN lab autograder: load a submission, inspect it, train it, score it, report it."""
__version__ = "0.1.0"
