import pytest

from grader.failures import SubmissionError
from grader.load.notebook import notebook_to_source
from support.notebooks import write_notebook, COLAB


def test_colab_notebook_keeps_definitions_and_constants_only(tmp_path):
    source, notes = notebook_to_source(write_notebook(tmp_path / "lab.ipynb", COLAB))
    ns = {}
    exec(compile(source, "nb", "exec"), ns)  # the test's own fixture, not student code
    assert ns["EPOCHS"] == 3 and ns["MEAN"] == (0.5,)
    assert "device" not in ns  # not a plain constant
    assert "plt" not in ns and "drive" not in ns
    assert "SGD" in source.split("def build_optimizer")[-1]  # the later definition wins
    text = "\n".join(notes)
    assert "cell 2: skipped shell/magic lines: !pip install torchinfo, %matplotlib inline" in text
    assert "cell 5: not run: for epoch in range(EPOCHS):" in text
    assert "cell 5: not run: raise SystemExit" in text
    assert "cell 7: skipped shell/magic lines: %%time" in text
    assert "cell 9: skipped, it does not parse" in text


def test_unreadable_notebook_is_a_typed_failure(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(SubmissionError) as info:
        notebook_to_source(bad)
    assert info.value.code == "bad_notebook"


def test_plot_and_table_imports_are_dropped_and_names_they_bind_remembered(tmp_path):
    cells = ["import torch\nimport pandas as pd\nimport seaborn as sns\nfrom tqdm.auto import tqdm",
             "mean, std = (0.5,), (0.25,)\ntransform = object()\nfor epoch in range(3):\n    pass"]
    source, notes = notebook_to_source(write_notebook(tmp_path / "lab.ipynb", cells))
    assert "import torch" in source and "pandas" not in source.split("\n", 2)[2]
    assert "mean, std = (0.5,), (0.25,)" in source  # constants unpacked from a tuple are kept
    assert "cell 2: not run: import pandas as pd" in notes
    from grader.load.notebook import SourceMap
    path = tmp_path / "lab.py"
    path.write_text(source)
    smap = SourceMap.of(path)
    assert smap.notebook == "lab.ipynb"
    assert smap.dropped == {"pd": "cell 2, line 2", "sns": "cell 2, line 3", "tqdm": "cell 2, line 4",
                            "transform": "cell 3, line 2", "epoch": "cell 3, line 3"}


def test_the_source_maps_each_line_back_to_its_cell_and_line(tmp_path):
    cells = ["!pip install timm\nimport torch\n\n\n@torch.no_grad()\ndef helper(x):\n    # a comment\n"
             "    return x.foo   # line 8 of cell 1",
             "EPOCHS = 3; print('a statement on the same line')\nBATCH_SIZE = 64"]
    source, _ = notebook_to_source(write_notebook(tmp_path / "lab.ipynb", cells))
    path = tmp_path / "lab.py"
    path.write_text(source)
    from grader.load.notebook import SourceMap
    smap = SourceMap.of(path)
    lines = source.splitlines()
    at = {text.strip(): number for number, text in enumerate(lines, start=1)}
    assert smap.locate(str(path), at["return x.foo   # line 8 of cell 1"]) == "lab.ipynb, cell 2, line 8"
    assert smap.locate(str(path), at["@torch.no_grad()"]) == "lab.ipynb, cell 2, line 5"
    assert smap.locate(str(path), at["BATCH_SIZE = 64"]) == "lab.ipynb, cell 3, line 2"
    assert smap.locate(str(path), at["EPOCHS = 3"]) == "lab.ipynb, cell 3, line 1"
    assert smap.locate("/elsewhere/torch/nn.py", 3) is None


def test_a_relative_import_has_no_package_in_a_notebook(tmp_path):
    source, notes = notebook_to_source(write_notebook(tmp_path / "lab.ipynb", ["from .model import Net"]))
    assert "from .model" not in source and "cell 2: not run: from .model import Net" in notes
