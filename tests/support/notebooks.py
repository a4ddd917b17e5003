"""Notebooks shaped like the ones students hand in from Colab."""
import nbformat


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
