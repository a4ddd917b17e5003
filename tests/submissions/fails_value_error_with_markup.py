# An ordinary mistake whose message happens to hold what rich reads as a closing tag:
# `grade ci` must report it (exit 3, the submission could not be graded), not crash (4).


def build_model(info):
    raise ValueError("bad shape [/] here")
