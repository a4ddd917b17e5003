import nbformat
import pytest

from grader.failures import SubmissionError
from grader.load.notebook import notebook_to_source


def write_notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# My lab")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


COLAB = [
    "!pip install torchinfo\n%matplotlib inline\nimport torch\nfrom torch import nn\n"
    "from google.colab import drive\nimport matplotlib.pyplot as plt",
    "EPOCHS = 3\nLR = 1e-3\nMEAN = (0.5,)\ndevice = torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
    "def build_optimizer(model):\n    return torch.optim.Adam(model.parameters(), lr=LR)",
    "for epoch in range(EPOCHS):\n    print('training', epoch)\nraise SystemExit",
    "plt.plot([1, 2, 3])",
    "%%time\nthis cell is timed and never kept",
    "def build_optimizer(model):\n    return torch.optim.SGD(model.parameters(), lr=LR)  # re-run later",
    "def broken(:\n    pass",
]


def test_colab_notebook_keeps_definitions_and_constants_only(tmp_path):
    source, notes = notebook_to_source(write_notebook(tmp_path / "lab.ipynb", COLAB))
    ns = {}
    exec(compile(source, "nb", "exec"), ns)  # the test's own fixture, not student code
    assert ns["EPOCHS"] == 3 and ns["MEAN"] == (0.5,)
    assert "device" not in ns  # not a plain constant
    assert "plt" not in ns and "drive" not in ns
    assert "SGD" in source.split("def build_optimizer")[-1]  # the later definition wins
    text = "\n".join(notes)
    assert "cell 1: skipped shell/magic lines: !pip install torchinfo, %matplotlib inline" in text
    assert "cell 4: not run: for epoch in range(EPOCHS):" in text
    assert "cell 4: not run: raise SystemExit" in text
    assert "cell 6: skipped shell/magic lines: %%time" in text
    assert "cell 8: skipped, it does not parse" in text


def test_unreadable_notebook_is_a_typed_failure(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(SubmissionError) as info:
        notebook_to_source(bad)
    assert info.value.code == "bad_notebook"
