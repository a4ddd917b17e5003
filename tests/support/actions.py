"""The outputs file GitHub Actions reads back after a step (GITHUB_OUTPUT)."""


def outputs_of(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines())
